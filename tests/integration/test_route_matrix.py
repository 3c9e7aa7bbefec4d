"""The role x route matrix over EVERY route of EVERY service (issue 16), for API keys and for
sessions: the list of routes is read from services/gateway/gateway_routes.c, so a new route
without a row here fails test_every_route_has_a_row.

Principals (columns): the agency's, a company's and a startup's key, a publisher's key,
anonymous, a company key acting on another organisation ("other"), a pending startup's key,
a suspended company's key; and as sessions: the agency's owner, the company's owner and a
member, the startup's owner, the pending and suspended orgs' owners; a stolen (deleted) key
and an ended (signed-out) session.
A session is expected to answer exactly like its organisation's key unless the row says
otherwise (s=...), a member like the owner unless the route needs an owner (member=...), a
stolen key 401 wherever a key is read, an ended session like anonymous.
Targets are the principal's own organisation (and its demands), so the columns differ by who
asks, not by what; "other" aims the company's key at another active company."""
import http.client
import itertools
import json
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import oimtest  # noqa: E402
from oimtest import AGENCY_KEY as AGENCY, SOURCE_DIR  # noqa: E402
from accounts_util import PASSWORD, Session, signup, unique_email  # noqa: E402

SEQ = itertools.count(1)
NOPE_ORG = "org_0000000000000NOPE0000"
KEY_COLUMNS = ("agency", "company", "startup", "publisher", "anonymous", "other", "pending", "suspended")
SESSION_OF = {"agency_s": "agency", "company_s": "company", "member_s": "company",
              "startup_s": "startup", "pending_s": "pending", "suspended_s": "suspended"}


def routes_from_table():
    """[(method, pattern, service, operation, auth)] of gateway_routes.c's s_routes."""
    text = open(os.path.join(SOURCE_DIR, "services", "gateway", "gateway_routes.c")).read()
    rows = re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)",\s*"(\w+)",\s*"([\w.]+)",\s*(true|false)\s*\}', text)
    return [(m, p, s, o, a == "true") for m, p, s, o, a in rows]


def R(agency, company, startup, publisher, anonymous, other=None, pending=None, suspended=None,
      s=None, member=None, stolen=401, ended=None):
    """Expected statuses. pending / suspended default to 403 (org_not_active) on routes that
    need a principal and to the anonymous answer elsewhere (filled in by the test)."""
    row = dict(zip(KEY_COLUMNS, (agency, company, startup, publisher, anonymous, other, pending, suspended)))
    row.update({"s": s or {}, "member": member, "stolen": stolen, "ended": ended})
    return row


class Who:
    """One principal: its credentials and its own organisation (the target of "own" routes)."""

    def __init__(self, name, kind, org=None, key=None, session=None):
        self.name, self.kind, self.org, self.key, self.session = name, kind, org or NOPE_ORG, key, session


class Ctx:
    def __init__(self, c):
        self.c = c
        self.agency_org = c.redis_cli("SMEMBERS", "oim:agencies").split()[0]
        self.agency_staff = unique_email("staff")
        status, _, _ = c.http("POST", "/v1/agency/staff", {"email": self.agency_staff, "name": "운영",
                                                            "password": PASSWORD}, key=AGENCY)
        assert status == 201
        self.company, self.company_email = signup(c, "company", key=AGENCY)
        self.startup, self.startup_email = signup(c, "startup", key=AGENCY)
        self.victim, _ = signup(c, "company", key=AGENCY)
        self.pending, self.pending_email = signup(c, "startup")
        self.suspended, self.suspended_email = signup(c, "company", key=AGENCY)
        self.suspended_sessions = [Session.sign_in(c, self.suspended_email) for _ in range(2)]
        assert c.http("POST", f"/v1/orgs/{self.suspended['id']}/suspend", key=AGENCY)[0] == 200
        self.member_email = self.invite_member()
        self.publisher = self.new_publisher()
        status, stolen, _ = c.http("POST", f"/v1/orgs/{self.company['id']}/api-keys", {"name": "leaked"}, key=AGENCY)
        assert c.http("DELETE", f"/v1/orgs/{self.company['id']}/api-keys/{stolen['id']}", key=AGENCY)[0] == 204
        self.stolen_key = stolen["api_key"]
        self.victim_demand = self.demand(self.victim["api_key"])
        self.company_demand = self.demand(self.company["api_key"])
        for demand in (self.victim_demand, self.company_demand):      # the matcher knows them
            oimtest.wait_for(lambda: c.http("GET", f"/v1/demands/{demand}/matches", key=AGENCY)[0] == 200,
                             20, "the matcher to see the demands")

    def invite_member(self):
        """A member of the company, added through an invitation whose token is read from the
        registry's outgoing e-mail (no SMTP server in this test)."""
        address = unique_email("member")
        status, _, _ = self.c.http("POST", f"/v1/orgs/{self.company['id']}/invitations",
                                   {"email": address, "role": "member"}, key=self.company["api_key"])
        assert status == 201
        token = None
        for key in self.c.redis_cli("KEYS", "oim:mail:account:*").split():
            if self.c.redis_cli("HGET", key, "to") == address:
                token = re.search(r"accept-invitation/([\w-]+)", self.c.redis_cli("HGET", key, "text")).group(1)
        status, _, _ = self.c.http("POST", f"/v1/invitations/{token}/accept", {"name": "팀원", "password": PASSWORD})
        assert status == 201
        return address

    def new_publisher(self):
        import zmq
        status, pub, _ = self.c.http("POST", "/v1/publishers", {
            "source_system": f"matrix-{next(SEQ)}", "name": "p",
            "curve_public_key": zmq.curve_keypair()[0].decode()}, key=AGENCY)
        assert status == 201, pub
        return pub

    def demand(self, key, **fields):
        body = {"title": f"matrix demand {next(SEQ)}"}
        body.update(fields)
        status, d, _ = self.c.http("POST", "/v1/demands", body, key=key)
        assert status == 201, d
        return d["id"]

    def principals(self, fresh_sessions=False):
        c, x = self.c, self
        sign = (lambda address: Session.sign_in(c, address))
        keys = [Who("agency", "agency", self.agency_org, AGENCY),
                Who("company", "company", self.company["id"], self.company["api_key"]),
                Who("startup", "startup", self.startup["id"], self.startup["api_key"]),
                Who("publisher", "publisher", None, self.publisher["api_key"]),
                Who("anonymous", "anonymous"),
                Who("other", "company", self.victim["id"], self.company["api_key"]),
                Who("pending", "startup", self.pending["id"], self.pending["api_key"]),
                Who("suspended", "company", self.suspended["id"], self.suspended["api_key"]),
                Who("stolen", "company", self.company["id"], self.stolen_key)]
        if fresh_sessions or not hasattr(self, "_sessions"):
            ended = sign(self.company_email)
            ended.http("DELETE", "/v1/sessions/current")
            sessions = [
                Who("agency_s", "agency", self.agency_org, session=sign(self.agency_staff)),
                Who("company_s", "company", self.company["id"], session=sign(self.company_email)),
                Who("member_s", "company", self.company["id"], session=sign(self.member_email)),
                Who("startup_s", "startup", self.startup["id"], session=sign(self.startup_email)),
                Who("pending_s", "startup", self.pending["id"], session=sign(self.pending_email)),
                Who("suspended_s", "company", self.suspended["id"],
                    session=self.suspended_sessions[1 if fresh_sessions else 0]),
                Who("ended", "company", None, session=ended)]
            if fresh_sessions:          # used up by the row (sign-out): the shared ones stay
                return keys + sessions
            self._sessions = sessions
        return keys + self._sessions

    # -- targets that a call may consume -------------------------------------------------
    def own_demand(self, who):
        """A fresh demand of who's org when it posts demands; else the victim's."""
        if who.kind == "company" and who.name not in ("other", "suspended", "suspended_s", "stolen"):
            return self.demand(self.company["api_key"])
        return self.demand(self.victim["api_key"])

    def matched_demand(self, who):
        """A demand the matcher has seen: the company's for its principals, else the victim's."""
        if who.kind == "company" and who.name not in ("other", "suspended", "suspended_s", "stolen"):
            return self.company_demand
        return self.victim_demand

    def feed_key_set(self, who):
        if who.org != NOPE_ORG:
            self.c.http("PUT", f"/v1/orgs/{who.org}/feed-key", {"curve_public_key": curve_key()}, key=AGENCY)
        return f"/v1/orgs/{who.org}/feed-key"

    def own_key_id(self, who):
        if who.org == NOPE_ORG:
            return "key_nope"
        status, k, _ = self.c.http("POST", f"/v1/orgs/{who.org}/api-keys", {"name": "tmp"}, key=AGENCY)
        return k["id"]

    def own_search(self, who):
        """A saved search of who (made by who itself when it may), else the company's."""
        if who.name in ("agency", "company", "startup", "agency_s", "company_s", "member_s", "startup_s"):
            status, reply = request(self.c, "POST", "/v1/saved-searches", {"type": "demand", "q": "x"}, who)
            return json.loads(reply)["id"]
        return self.c.http("POST", "/v1/saved-searches", {"type": "demand", "q": "x"},
                           key=self.company["api_key"])[1]["id"]


def curve_key():
    import zmq
    return zmq.curve_keypair()[0].decode()


D = "demands"
# (method, pattern) -> (builder(x, who) -> (path, body), expected row, fresh sessions?)
ROWS = {
    # ---- the gateway's own ----------------------------------------------------------------
    ("GET", "/"): (lambda x, w: ("/", None), R(200, 200, 200, 200, 200)),
    ("GET", "/console"): (lambda x, w: ("/console", None), R(200, 200, 200, 200, 200)),
    ("GET", "/app/{file}"): (lambda x, w: ("/app/app.css", None), R(200, 200, 200, 200, 200)),
    ("GET", "/app/{dir}/{file}"): (lambda x, w: ("/app/js/api.js", None), R(200, 200, 200, 200, 200)),
    ("GET", "/v1/whoami"): (lambda x, w: ("/v1/whoami", None),
                            R(200, 200, 200, 200, 401, other=200, pending=200, suspended=200)),
    ("GET", "/healthz"): (lambda x, w: ("/healthz", None), R(200, 200, 200, 200, 200, stolen=200)),
    ("GET", "/readyz"): (lambda x, w: ("/readyz", None), R(200, 200, 200, 200, 200, stolen=200)),
    ("GET", "/metrics"): (lambda x, w: ("/metrics", None), R(200, 200, 200, 200, 200, stolen=200)),
    ("GET", "/v1/status"): (lambda x, w: ("/v1/status", None), R(200, 200, 200, 200, 200)),
    ("GET", "/v1/status/{service}"): (lambda x, w: ("/v1/status/registry", None), R(200, 200, 200, 200, 200)),
    ("GET", "/v1/openapi.json"): (lambda x, w: ("/v1/openapi.json", None), R(200, 200, 200, 200, 200)),
    # ---- registry: organisations and keys ---------------------------------------------------
    ("POST", "/v1/orgs"): (lambda x, w: ("/v1/orgs", {"kind": "startup", "name": f"n{next(SEQ)}"}),
                           R(201, 403, 403, 403, 201, other=403, pending=201, suspended=201)),
    ("GET", "/v1/orgs/{id}"): (lambda x, w: (f"/v1/orgs/{w.org}", None),
                               R(200, 200, 200, 404, 404, other=200, pending=200, suspended=200)),
    ("PATCH", "/v1/orgs/{id}"): (lambda x, w: (f"/v1/orgs/{w.org}", {"description": "d"}),
                                 R(200, 200, 200, 403, 401, other=403)),
    ("DELETE", "/v1/orgs/{id}"): (lambda x, w: (f"/v1/orgs/{w.org}", None), R(409, 403, 403, 403, 401, other=403)),
    ("POST", "/v1/orgs/{id}/approve"): (lambda x, w: (f"/v1/orgs/{w.org}/approve", None),
                                        R(409, 403, 403, 403, 401, other=403)),
    ("POST", "/v1/orgs/{id}/suspend"): (lambda x, w: (f"/v1/orgs/{w.org}/suspend", None),
                                        R(409, 403, 403, 403, 401, other=403)),
    ("GET", "/v1/orgs/{id}/api-keys"): (lambda x, w: (f"/v1/orgs/{w.org}/api-keys", None),
                                        R(200, 200, 200, 403, 401, other=403, member=403)),
    ("POST", "/v1/orgs/{id}/api-keys"): (lambda x, w: (f"/v1/orgs/{w.org}/api-keys", {"name": "m"}),
                                         R(201, 201, 201, 403, 401, other=403, member=403)),
    ("DELETE", "/v1/orgs/{id}/api-keys/{key_id}"): (
        lambda x, w: (f"/v1/orgs/{w.org}/api-keys/{x.own_key_id(w)}", None),
        R(204, 204, 204, 403, 401, other=403, member=403)),
    ("POST", "/v1/agency/staff"): (
        lambda x, w: ("/v1/agency/staff", {"email": unique_email("st"), "name": "n", "password": PASSWORD}),
        R(201, 403, 403, 403, 401, other=403, s={"agency_s": 403})),
    ("GET", "/v1/orgs/{id}/members"): (lambda x, w: (f"/v1/orgs/{w.org}/members", None),
                                       R(200, 200, 200, 403, 401, other=403)),
    ("DELETE", "/v1/orgs/{id}/members/{user_id}"): (lambda x, w: (f"/v1/orgs/{w.org}/members/usr_nope", None),
                                                    R(404, 404, 404, 403, 401, other=403, member=403)),
    ("PATCH", "/v1/orgs/{id}/members/{user_id}"): (
        lambda x, w: (f"/v1/orgs/{w.org}/members/usr_nope", {"role": "member"}),
        R(404, 404, 404, 403, 401, other=403, member=403)),
    ("GET", "/v1/orgs"): (lambda x, w: ("/v1/orgs?limit=5", None), R(200, 200, 200, 403, 401, other=200)),
    ("POST", "/v1/orgs/{id}/invitations"): (lambda x, w: (f"/v1/orgs/{w.org}/invitations", {"email": unique_email("inv")}),
                                            R(201, 201, 201, 403, 401, other=403, member=403)),
    ("POST", "/v1/invitations/{token}/accept"): (lambda x, w: ("/v1/invitations/nope/accept", {"name": "n", "password": PASSWORD}),
                                                 R(404, 404, 404, 404, 404, other=404)),
    ("POST", "/v1/email-verifications/{token}"): (lambda x, w: ("/v1/email-verifications/nope", None),
                                                  R(404, 404, 404, 404, 404, other=404)),
    ("POST", "/v1/password-resets"): (lambda x, w: ("/v1/password-resets", {"email": unique_email("r")}),
                                      R(202, 202, 202, 202, 202, other=202)),
    ("POST", "/v1/password-resets/{token}"): (lambda x, w: ("/v1/password-resets/nope", {"password": PASSWORD}),
                                              R(404, 404, 404, 404, 404, other=404)),
    ("POST", "/v1/sessions"): (lambda x, w: ("/v1/sessions", {"email": unique_email("no"), "password": "wrong wrong"}),
                               R(401, 401, 401, 401, 401, other=401)),
    ("GET", "/v1/sessions/current"): (
        lambda x, w: ("/v1/sessions/current", None),
        R(401, 401, 401, 401, 401, other=401, pending=401, suspended=401,
          s={"agency_s": 200, "company_s": 200, "member_s": 200, "startup_s": 200, "pending_s": 200,
             "suspended_s": 403})),
    ("DELETE", "/v1/sessions/current"): (
        lambda x, w: ("/v1/sessions/current", None),
        R(401, 401, 401, 401, 401, other=401, pending=401, suspended=401,
          s={"agency_s": 204, "company_s": 204, "member_s": 204, "startup_s": 204, "pending_s": 204,
             "suspended_s": 204}), True),
    ("PUT", "/v1/orgs/{id}/feed-key"): (lambda x, w: (f"/v1/orgs/{w.org}/feed-key", {"curve_public_key": curve_key()}),
                                        R(200, 200, 200, 403, 401, other=403)),
    ("DELETE", "/v1/orgs/{id}/feed-key"): (lambda x, w: (x.feed_key_set(w), None),
                                           R(200, 200, 200, 403, 401, other=403)),
    ("GET", "/v1/taxonomy"): (lambda x, w: ("/v1/taxonomy", None), R(200, 200, 200, 200, 200)),
    # ---- registry: demands ---------------------------------------------------------------
    ("POST", "/v1/demands"): (lambda x, w: ("/v1/demands", {"title": "t", "org_id": x.victim["id"]}
                                            if w.kind == "agency" else {"title": "t"}),
                              R(201, 201, 403, 403, 401, other=201)),
    ("GET", "/v1/demands"): (lambda x, w: ("/v1/demands", None), R(200, 200, 200, 200, 200, other=200)),
    ("GET", "/v1/demands/{id}"): (lambda x, w: (f"/v1/demands/{x.own_demand(w)}", None), R(200, 200, 200, 200, 200, other=200)),
    ("PATCH", "/v1/demands/{id}"): (lambda x, w: (f"/v1/demands/{x.own_demand(w)}", {"title": "u"}),
                                    R(200, 200, 403, 403, 401, other=403)),
    ("POST", "/v1/demands/{id}/close"): (lambda x, w: (f"/v1/demands/{x.own_demand(w)}/close", None),
                                         R(200, 200, 403, 403, 401, other=403)),
    ("POST", "/v1/demands/{id}/award"): (lambda x, w: (f"/v1/demands/{x.own_demand(w)}/award",
                                                       {"startup_ids": ["org_nope"]}),
                                         R(409, 409, 403, 403, 401, other=403)),
    # ---- registry: agency review, settings, announcements, exports (issue 17) -----------
    ("POST", "/v1/demands/{id}/approve"): (lambda x, w: (f"/v1/demands/{x.own_demand(w)}/approve", None),
                                           R(409, 403, 403, 403, 401, other=403)),
    ("POST", "/v1/demands/{id}/return"): (lambda x, w: (f"/v1/demands/{x.own_demand(w)}/return", {"comment": "c"}),
                                          R(409, 403, 403, 403, 401, other=403)),
    ("POST", "/v1/demands/{id}/resubmit"): (lambda x, w: (f"/v1/demands/{x.own_demand(w)}/resubmit", None),
                                            R(409, 409, 403, 403, 401, other=403)),
    ("POST", "/v1/demands/{id}/renew"): (lambda x, w: (f"/v1/demands/{x.own_demand(w)}/renew",
                                                       {"closes_at": "2031-01-01T00:00:00Z"}),
                                         R(200, 200, 403, 403, 401, other=403)),
    ("GET", "/v1/admin/settings"): (lambda x, w: ("/v1/admin/settings", None), R(200, 403, 403, 403, 401, other=403)),
    ("PUT", "/v1/admin/settings"): (lambda x, w: ("/v1/admin/settings", {"demand_review": False}),
                                    R(200, 403, 403, 403, 401, other=403)),
    ("GET", "/v1/admin/review-queue"): (lambda x, w: ("/v1/admin/review-queue", None), R(200, 403, 403, 403, 401, other=403)),
    ("POST", "/v1/admin/announcements"): (lambda x, w: ("/v1/admin/announcements", {"title": "t", "body": "b"}),
                                          R(201, 403, 403, 403, 401, other=403)),
    ("GET", "/v1/admin/announcements"): (lambda x, w: ("/v1/admin/announcements", None), R(200, 403, 403, 403, 401, other=403)),
    ("GET", "/v1/admin/export/{file}"): (lambda x, w: ("/v1/admin/export/organizations.csv", None),
                                         R(200, 403, 403, 403, 401, other=403)),
    ("POST", "/v1/events/organizations"): (lambda x, w: ("/v1/events/organizations", []), R(200, 403, 403, 200, 401, other=403)),
    # ---- registry: publishers, events, admin, saved searches -----------------------------
    ("POST", "/v1/publishers"): (lambda x, w: ("/v1/publishers", {"source_system": f"m-{next(SEQ)}", "name": "n"}),
                                 R(201, 403, 403, 403, 401, other=403)),
    ("PUT", "/v1/publishers/{id}/curve-key"): (
        lambda x, w: (f"/v1/publishers/{x.publisher['id']}/curve-key", {"curve_public_key": curve_key()}),
        R(200, 403, 403, 403, 401, other=403)),
    ("GET", "/v1/publishers"): (lambda x, w: ("/v1/publishers", None), R(200, 403, 403, 403, 401, other=403)),
    ("POST", "/v1/publishers/{id}/api-keys"): (
        lambda x, w: (f"/v1/publishers/{x.new_publisher()['id']}/api-keys", None),
        R(201, 403, 403, 403, 401, other=403)),
    ("DELETE", "/v1/publishers/{id}/api-keys"): (
        lambda x, w: (f"/v1/publishers/{x.new_publisher()['id']}/api-keys", None),
        R(204, 403, 403, 403, 401, other=403)),
    ("POST", "/v1/events/demands"): (lambda x, w: ("/v1/events/demands", []), R(200, 403, 403, 200, 401, other=403)),
    ("GET", "/v1/admin/audit"): (lambda x, w: ("/v1/admin/audit", None), R(200, 403, 403, 403, 401, other=403)),
    ("GET", "/v1/admin/stats"): (lambda x, w: ("/v1/admin/stats", None), R(200, 403, 403, 403, 401, other=403)),
    ("POST", "/v1/saved-searches"): (lambda x, w: ("/v1/saved-searches", {"type": "startup"}),
                                     R(201, 201, 201, 403, 401, other=201)),
    ("GET", "/v1/saved-searches"): (lambda x, w: ("/v1/saved-searches", None), R(200, 200, 200, 403, 401, other=200)),
    ("DELETE", "/v1/saved-searches/{id}"): (lambda x, w: (f"/v1/saved-searches/{x.own_search(w)}", None),
                                            R(200, 200, 200, 403, 401, other=200)),
    # ---- search --------------------------------------------------------------------------
    ("GET", "/v1/search"): (lambda x, w: ("/v1/search?q=battery", None), R(200, 200, 200, 200, 200, other=200)),
    ("GET", "/v1/suggest"): (lambda x, w: ("/v1/suggest?q=bat", None), R(200, 200, 200, 200, 200, other=200)),
    # ---- matcher -------------------------------------------------------------------------
    ("GET", "/v1/demands/{id}/matches"): (lambda x, w: (f"/v1/demands/{x.matched_demand(w)}/matches", None),
                                          R(200, 200, 403, 403, 401, other=403)),
    ("GET", "/v1/orgs/{id}/matches"): (lambda x, w: (f"/v1/orgs/{w.org}/matches", None),
                                       R(200, 200, 200, 403, 401, other=403)),
    ("POST", "/v1/matches/{id}/interest"): (lambda x, w: ("/v1/matches/mat_nope/interest", None),
                                            R(404, 404, 404, 404, 401, other=404)),
    ("POST", "/v1/matches/{id}/decline"): (lambda x, w: ("/v1/matches/mat_nope/decline", {"reason": "r"}),
                                           R(404, 404, 404, 404, 401, other=404)),
    # relationships (issue 17): each startup principal proposes to a demand of its own
    ("POST", "/v1/demands/{id}/proposals"): (
        lambda x, w: (f"/v1/demands/{x.company_demand if w.name == 'startup_s' else x.victim_demand}/proposals",
                      {"message": "m"}),
        R(403, 403, 201, 403, 401, other=403)),
    ("GET", "/v1/relationships"): (lambda x, w: (f"/v1/relationships?org_id={w.org}", None),
                                   R(200, 200, 200, 403, 401, other=403)),
    ("POST", "/v1/relationships/{id}/accept"): (lambda x, w: ("/v1/relationships/mat_nope/accept", None),
                                                R(404, 404, 404, 404, 401, other=404)),
    ("POST", "/v1/relationships/{id}/decline"): (lambda x, w: ("/v1/relationships/mat_nope/decline", {"reason": "r"}),
                                                 R(404, 404, 404, 404, 401, other=404)),
    ("POST", "/v1/relationships/{id}/outcome"): (lambda x, w: ("/v1/relationships/mat_nope/outcome", {"state": "poc"}),
                                                 R(404, 404, 404, 404, 401, other=404)),
    ("POST", "/v1/relationships/{id}/messages"): (lambda x, w: ("/v1/relationships/mat_nope/messages", {"text": "t"}),
                                                  R(404, 404, 404, 404, 401, other=404)),
    ("GET", "/v1/relationships/{id}/messages"): (lambda x, w: ("/v1/relationships/mat_nope/messages", None),
                                                 R(404, 404, 404, 404, 401, other=404)),
    ("POST", "/v1/relationships/{id}/read"): (lambda x, w: ("/v1/relationships/mat_nope/read", None),
                                              R(404, 404, 404, 404, 401, other=404)),
    # ---- notify --------------------------------------------------------------------------
    ("GET", "/v1/notifications"): (lambda x, w: ("/v1/notifications", None), R(200, 200, 200, 403, 401, other=200)),
    ("POST", "/v1/notifications/{id}/read"): (lambda x, w: ("/v1/notifications/ntf_nope/read", None),
                                              R(404, 404, 404, 404, 401, other=404)),
    ("GET", "/v1/notifications/stream"): (lambda x, w: ("/v1/notifications/stream", None),
                                          R(200, 200, 200, 401, 401, other=200)),
    ("PUT", "/v1/orgs/{id}/webhook"): (lambda x, w: (f"/v1/orgs/{w.org}/webhook", {"url": "http://127.0.0.1:9/h"}),
                                       R(200, 200, 200, 404, 401, other=403)),
    ("GET", "/v1/orgs/{id}/webhook"): (lambda x, w: (f"/v1/orgs/{w.org}/webhook", None),
                                       R(200, 200, 200, 404, 401, other=403)),
    ("POST", "/v1/orgs/{id}/webhook/test"): (lambda x, w: (f"/v1/orgs/{w.org}/webhook/test", None),
                                             R(200, 200, 200, 404, 401, other=403, member=403)),
    ("PUT", "/v1/orgs/{id}/preferences"): (lambda x, w: (f"/v1/orgs/{w.org}/preferences", {"*": {"channels": ["inbox"]}}),
                                           R(200, 200, 200, 404, 401, other=403)),
    ("GET", "/v1/orgs/{id}/preferences"): (lambda x, w: (f"/v1/orgs/{w.org}/preferences", None),
                                           R(200, 200, 200, 404, 401, other=403)),
    ("GET", "/v1/deliveries"): (lambda x, w: ("/v1/deliveries", None), R(200, 200, 200, 403, 401, other=200)),
    ("POST", "/v1/deliveries/{id}/retry"): (lambda x, w: ("/v1/deliveries/dlv_nope/retry", None),
                                            R(404, 404, 404, 404, 401, other=404)),
}


def request(c, method, path, body, who):
    """(status, reply) for who; an event stream is closed after its status line."""
    headers = {}
    if who.key:
        headers["Authorization"] = f"Bearer {who.key}"
    if who.session:
        headers["Cookie"] = f"oim_session={who.session.cookie}"
        if method not in ("GET", "HEAD"):
            headers["X-CSRF-Token"] = who.session.csrf
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", c.ports["http_port"], timeout=30)
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        if "event-stream" in resp.getheader("Content-Type", ""):
            return resp.status, "(stream)"
        return resp.status, resp.read()[:300]
    finally:
        conn.close()


class RouteMatrix(oimtest.ClusterCase):
    @classmethod
    def make_cluster(cls):
        return oimtest.Cluster(curve=False, env={"OIM_SIGNIN_FAILS_ADDRESS": "100000"})

    @classmethod
    def bring_up(cls):
        cls.c.start_all()
        cls.x = Ctx(cls.c)

    def test_every_route_has_a_row(self):
        table = {(m, p) for m, p, _s, _o, _a in routes_from_table()}
        self.assertGreater(len(table), 50)
        missing = sorted(table - set(ROWS))
        self.assertEqual(missing, [], "routes in gateway_routes.c without a matrix row")
        # Rows for routes not (or no longer) in the table are skipped by test_matrix: helpers
        # working in parallel add routes and rows in either order.

    def expected(self, row, route_auth, operation, who):
        name = who.name
        if name == "stolen":
            return row["stolen"]
        if name == "ended":
            return row["ended"] or row["anonymous"]
        if name in SESSION_OF:
            if name in row["s"]:
                return row["s"][name]
            if name == "member_s" and row["member"] is not None:
                return row["member"]
            name = SESSION_OF[name]
        want = row[name]
        if want is None and name in ("pending", "suspended"):
            want = 403 if route_auth else row["anonymous"]
        return want

    def test_matrix(self):
        checked, failures = 0, []
        for method, pattern, service, operation, auth in routes_from_table():
            if (method, pattern) not in ROWS:
                continue
            entry = ROWS[(method, pattern)]
            build, row = entry[0], entry[1]
            fresh = len(entry) > 2 and entry[2]
            for who in self.x.principals(fresh_sessions=fresh):
                want = self.expected(row, auth, operation, who)
                if want is None:
                    continue
                path, body = build(self.x, who)
                status, reply = request(self.c, method, path, body, who)
                checked += 1
                if status != want:
                    failures.append(f"{method} {pattern} as {who.name}: {status}, expected {want}: {reply!r}")
        self.assertEqual(failures, [], "\n".join(failures))
        self.assertGreater(checked, 800)


if __name__ == "__main__":
    unittest.main(verbosity=2)
