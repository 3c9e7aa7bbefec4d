"""The organisation directory, people's roles and publishers' keys (issue 16 follow-up) on a
real stack (Redis, gateway, registry, notify):

* GET /v1/orgs: the agency sees every organisation and filters by status and kind; a company
  or startup sees active organisations' public fields only; q matches a Korean or mixed-case
  part of the name; limit + cursor page through without repeats; publishers, pending and
  suspended organisations, anonymous callers and revoked keys are refused.
* PATCH /v1/orgs/{id}/members/{user_id} {role}: owners and the agency change roles, a member,
  another org and an outsider cannot; the last owner can be neither demoted nor removed (409
  naming the person); the members list pages with a cursor.
* Publishers: GET /v1/publishers lists them with their key's prefix; POST rotates the key (the
  old one fails at once), DELETE revokes it (the publisher is then refused); agency only.
* POST /v1/orgs/{id}/webhook/test (when notify offers it): a signed webhook.test reaches the
  configured URL and the reply carries the attempt's status and latency."""
import os
import sys
import unittest
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import oimtest  # noqa: E402
from oimtest import AGENCY_KEY as AGENCY  # noqa: E402
from accounts_util import PASSWORD, Session, signup, unique_email  # noqa: E402


class Directory(oimtest.ClusterCase):
    @classmethod
    def make_cluster(cls):
        return oimtest.Cluster(curve=False)

    @classmethod
    def bring_up(cls):
        cls.c.start_redis()
        cls.c.start_gateway()
        cls.c.start("registry")
        cls.c.start("registry")     # two replicas: concurrent role changes really race
        cls.c.start("notify")
        cls.c.wait_registered({"registry": 2, "notify": 1})

    def http(self, *args, **kw):
        return self.c.http(*args, **kw)

    def member_of(self, org, owner_key, role="member"):
        """A person of org added through an invitation (token read from the outgoing e-mail
        record in Redis); returns (user, e-mail)."""
        import re
        address = unique_email(role)
        status, _, _ = self.http("POST", f"/v1/orgs/{org['id']}/invitations",
                                 {"email": address, "role": role}, key=owner_key)
        self.assertEqual(status, 201)
        token = None
        for key in self.c.redis_cli("KEYS", "oim:mail:account:*").split():
            if self.c.redis_cli("HGET", key, "to") == address:
                token = re.search(r"accept-invitation/([\w-]+)", self.c.redis_cli("HGET", key, "text")).group(1)
        status, user, _ = self.http("POST", f"/v1/invitations/{token}/accept", {"name": "팀원 이", "password": PASSWORD})
        self.assertEqual(status, 201, user)
        return user, address

    # ---- GET /v1/orgs ---------------------------------------------------------------------
    def test_directory_filters_and_paging(self):
        tag = f"{os.getpid()}"
        names = [f"한빛소프트 {tag} {i}" for i in range(5)] + [f"Bright Labs {tag}"]
        made = [signup(self.c, "startup", key=AGENCY, name=n)[0] for n in names]
        pending, _ = signup(self.c, "company", name=f"한빛 대기 {tag}")
        company, _ = signup(self.c, "company", key=AGENCY, name=f"검색 회사 {tag}")

        # the agency: every status, Korean q, paging without repeats
        seen, cursor = [], None
        while True:
            path = f"/v1/orgs?q={quote('한빛소프트 ' + tag)}&limit=2" + (f"&cursor={cursor}" if cursor else "")
            status, page, _ = self.http("GET", path, key=AGENCY)
            self.assertEqual(status, 200, page)
            self.assertLessEqual(len(page["items"]), 2)
            seen += [o["id"] for o in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(sorted(seen), sorted(o["id"] for o in made[:5]))
        self.assertEqual(len(seen), len(set(seen)))
        # case-insensitive, contains
        status, page, _ = self.http("GET", f"/v1/orgs?q=bright%20LABS%20{tag}", key=AGENCY)
        self.assertEqual([o["id"] for o in page["items"]], [made[5]["id"]])
        # status and kind filters
        status, page, _ = self.http("GET", f"/v1/orgs?status=pending&q={quote('한빛 대기 ' + tag)}", key=AGENCY)
        self.assertEqual([o["id"] for o in page["items"]], [pending["id"]])
        self.assertIn("email", page["items"][0])           # the agency sees contacts
        status, page, _ = self.http("GET", f"/v1/orgs?kind=company&q={tag}&limit=100", key=AGENCY)
        self.assertEqual({o["kind"] for o in page["items"]}, {"company"})
        # a company: active only, public fields, no status other than active
        status, page, _ = self.http("GET", f"/v1/orgs?q={tag}&limit=100", key=company["api_key"])
        self.assertEqual(status, 200, page)
        ids = {o["id"] for o in page["items"]}
        self.assertNotIn(pending["id"], ids)
        self.assertTrue({o["id"] for o in made} <= ids)
        other = [o for o in page["items"] if o["id"] != company["id"]]
        self.assertTrue(all("email" not in o and "phone" not in o for o in other))
        self.assertEqual(self.http("GET", "/v1/orgs?status=pending", key=company["api_key"])[0], 403)
        # bad parameters name their field
        for query, field in (("limit=0", "limit"), ("limit=101", "limit"), ("cursor=nope", "cursor"),
                             ("kind=bank", "kind"), ("status=gone", "status")):
            status, body, _ = self.http("GET", f"/v1/orgs?{query}", key=AGENCY)
            self.assertEqual((status, body["error"]["field"]), (400, field), query)

    def test_directory_refusals(self):
        pending, _ = signup(self.c, "startup")
        suspended, _ = signup(self.c, "company", key=AGENCY)
        self.assertEqual(self.http("POST", f"/v1/orgs/{suspended['id']}/suspend", key=AGENCY)[0], 200)
        status, pub, _ = self.http("POST", "/v1/publishers", {"source_system": f"dir-{os.getpid()}", "name": "p"},
                                   key=AGENCY)
        self.assertEqual(status, 201)
        company, _ = signup(self.c, "company", key=AGENCY)
        status, k, _ = self.http("POST", f"/v1/orgs/{company['id']}/api-keys", {"name": "gone"}, key=AGENCY)
        self.assertEqual(self.http("DELETE", f"/v1/orgs/{company['id']}/api-keys/{k['id']}", key=AGENCY)[0], 204)
        for who, key, want in (("anonymous", None, 401), ("publisher", pub["api_key"], 403),
                               ("pending", pending["api_key"], 403), ("suspended", suspended["api_key"], 403),
                               ("revoked key", k["api_key"], 401)):
            self.assertEqual(self.http("GET", "/v1/orgs", key=key)[0], want, who)

    # ---- members ------------------------------------------------------------------------
    def test_member_roles_and_last_owner(self):
        org, owner_email = signup(self.c, "company", key=AGENCY)
        owner = Session.sign_in(self.c, owner_email)
        owner_id = owner.body["user"]["id"]
        member, member_email = self.member_of(org, org["api_key"])
        member_s = Session.sign_in(self.c, member_email)
        other, _ = signup(self.c, "company", key=AGENCY)
        path = f"/v1/orgs/{org['id']}/members"

        # the only owner can be neither demoted nor removed, by anyone
        for actor in (lambda m, p, b=None: owner.http(m, p, b), lambda m, p, b=None: self.http(m, p, b, key=AGENCY)):
            status, body, _ = actor("PATCH", f"{path}/{owner_id}", {"role": "member"})
            self.assertEqual((status, body["error"]["code"]), (409, "last_owner"), body)
            self.assertIn(owner_email, body["error"]["message"])
            status, body, _ = actor("DELETE", f"{path}/{owner_id}")
            self.assertEqual((status, body["error"]["code"]), (409, "last_owner"), body)
        # forbidden callers
        self.assertEqual(member_s.http("PATCH", f"{path}/{member['id']}", {"role": "owner"})[0], 403)
        self.assertEqual(self.http("PATCH", f"{path}/{member['id']}", {"role": "owner"}, key=other["api_key"])[0], 403)
        self.assertEqual(self.http("PATCH", f"{path}/{member['id']}", {"role": "owner"})[0], 401)
        # bad bodies
        status, body, _ = owner.http("PATCH", f"{path}/{member['id']}", {"role": "boss"})
        self.assertEqual((status, body["error"]["field"]), (422, "role"))
        status, body, _ = owner.http("PATCH", f"{path}/usr_nope", {"role": "owner"})
        self.assertEqual((status, body["error"]["field"]), (404, "user_id"))
        # promote the member; then the first owner may step down, and the new owner is last
        status, body, _ = owner.http("PATCH", f"{path}/{member['id']}", {"role": "owner"})
        self.assertEqual((status, body["role"]), (200, "owner"), body)
        status, body, _ = owner.http("PATCH", f"{path}/{owner_id}", {"role": "member"})
        self.assertEqual((status, body["role"]), (200, "member"), body)
        self.assertEqual(owner.http("POST", f"/v1/orgs/{org['id']}/invitations", {"email": unique_email()})[0], 403)
        status, body, _ = member_s.http("DELETE", f"{path}/{member['id']}")
        self.assertEqual(status, 409, body)
        self.assertEqual(member_s.http("DELETE", f"{path}/{owner_id}")[0], 204)
        self.assertEqual(owner.http("GET", "/v1/sessions/current")[0], 401)

    def test_two_owners_demoting_each_other_at_once(self):
        """Both owners step down at the same moment (two registry replicas), five times: never
        does the org end without an owner (one PATCH wins, the other is 409 last_owner or
        version_conflict: the owners were counted with every person's record WATCHed)."""
        import threading
        for _ in range(5):
            org, _ = signup(self.c, "company", key=AGENCY)
            second, _ = self.member_of(org, org["api_key"], role="owner")
            status, page, _ = self.http("GET", f"/v1/orgs/{org['id']}/members", key=AGENCY)
            ids = [u["id"] for u in page["items"]]
            self.assertEqual(len(ids), 2)
            results = []
            barrier = threading.Barrier(2)

            def demote(user_id):
                barrier.wait()
                results.append(self.http("PATCH", f"/v1/orgs/{org['id']}/members/{user_id}",
                                         {"role": "member"}, key=AGENCY)[0])
            threads = [threading.Thread(target=demote, args=(u,)) for u in ids]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(results), [200, 409], results)
            status, page, _ = self.http("GET", f"/v1/orgs/{org['id']}/members", key=AGENCY)
            self.assertEqual([u["role"] for u in page["items"]].count("owner"), 1)

    def test_members_paging(self):
        org, _ = signup(self.c, "startup", key=AGENCY)
        for _ in range(3):
            self.member_of(org, org["api_key"])
        seen, cursor = [], None
        while True:
            q = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
            status, page, _ = self.http("GET", f"/v1/orgs/{org['id']}/members{q}", key=org["api_key"])
            self.assertEqual(status, 200, page)
            seen += [u["id"] for u in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(len(seen), 4)
        self.assertEqual(len(set(seen)), 4)
        self.assertEqual(seen, sorted(seen))
        status, page, _ = self.http("GET", f"/v1/orgs/{org['id']}/members", key=org["api_key"])
        self.assertEqual((len(page["items"]), page["next_cursor"]), (4, None))
        self.assertEqual(self.http("GET", f"/v1/orgs/{org['id']}/members?limit=1001", key=AGENCY)[0], 400)

    # ---- publishers ---------------------------------------------------------------------
    def test_publisher_keys(self):
        source = f"keys-{os.getpid()}"
        status, pub, _ = self.http("POST", "/v1/publishers", {"source_system": source, "name": "발행처"}, key=AGENCY)
        self.assertEqual(status, 201, pub)
        old = pub["api_key"]
        self.assertEqual(self.http("GET", "/v1/whoami", key=old)[0], 200)
        status, page, _ = self.http("GET", "/v1/publishers?limit=100", key=AGENCY)
        self.assertEqual(status, 200, page)
        mine = [p for p in page["items"] if p["id"] == pub["id"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["api_key"]["prefix"], old[:13])      # recognisable, never whole
        self.assertNotIn(old, str(page))
        # rotate: a new key, the old one fails at once
        status, rotated, _ = self.http("POST", f"/v1/publishers/{pub['id']}/api-keys", key=AGENCY)
        self.assertEqual(status, 201, rotated)
        self.assertEqual(self.http("GET", "/v1/whoami", key=old)[0], 401)
        status, who, _ = self.http("GET", "/v1/whoami", key=rotated["api_key"])
        self.assertEqual((status, who["role"], who["source_system"]), (200, "publisher", source))
        status, page, _ = self.http("GET", "/v1/publishers?limit=100", key=AGENCY)
        listed = [p for p in page["items"] if p["id"] == pub["id"]][0]["api_key"]
        self.assertEqual(listed["prefix"], rotated["api_key"][:13])
        self.assertEqual(self.http("POST", "/v1/events/demands", [], key=rotated["api_key"])[0], 200)
        # forbidden callers
        company, _ = signup(self.c, "company", key=AGENCY)
        for key in (company["api_key"], rotated["api_key"], None):
            self.assertIn(self.http("GET", "/v1/publishers", key=key)[0], (401, 403))
            self.assertIn(self.http("POST", f"/v1/publishers/{pub['id']}/api-keys", key=key)[0], (401, 403))
            self.assertIn(self.http("DELETE", f"/v1/publishers/{pub['id']}/api-keys", key=key)[0], (401, 403))
        # revoke: the publisher is refused; again: 404; unknown publisher: 404
        self.assertEqual(self.http("DELETE", f"/v1/publishers/{pub['id']}/api-keys", key=AGENCY)[0], 204)
        self.assertEqual(self.http("POST", "/v1/events/demands", [], key=rotated["api_key"])[0], 401)
        self.assertEqual(self.http("DELETE", f"/v1/publishers/{pub['id']}/api-keys", key=AGENCY)[0], 404)
        self.assertEqual(self.http("POST", "/v1/publishers/pub_nope/api-keys", key=AGENCY)[0], 404)
        status, page, _ = self.http("GET", "/v1/publishers?limit=100", key=AGENCY)
        self.assertIsNone([p for p in page["items"] if p["id"] == pub["id"]][0]["api_key"])
        # a key made after the revocation works
        status, again, _ = self.http("POST", f"/v1/publishers/{pub['id']}/api-keys", key=AGENCY)
        self.assertEqual(self.http("POST", "/v1/events/demands", [], key=again["api_key"])[0], 200)

    # ---- webhook test ping --------------------------------------------------------------
    def test_webhook_ping(self):
        import base64
        import hashlib
        import hmac
        import http.server
        import json
        import threading
        got = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append((dict(self.headers), body))
                self.send_response(204 if self.path == "/ok" else 500)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            org, owner_email = signup(self.c, "company", key=AGENCY)
            path = f"/v1/orgs/{org['id']}/webhook"
            self.assertEqual(self.http("POST", f"{path}/test", key=org["api_key"])[0], 404)   # none yet
            status, hook, _ = self.http("PUT", path, {"url": f"http://127.0.0.1:{server.server_port}/ok"},
                                        key=org["api_key"])
            self.assertEqual(status, 200, hook)
            owner = Session.sign_in(self.c, owner_email)
            status, out, _ = owner.http("POST", f"{path}/test")
            self.assertEqual(status, 200, out)
            self.assertEqual((out["delivered"], out["status"], out["error"]), (True, 204, None))
            self.assertGreaterEqual(out["latency_ms"], 0)
            headers, body = got[-1]
            self.assertEqual(json.loads(body)["type"], "webhook.test")
            self.assertEqual(headers["webhook-id"], out["webhook_id"])
            key = base64.b64decode(hook["secret"].split("_", 1)[1])
            signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
            want = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            self.assertEqual(headers["webhook-signature"], want)
            # a failing receiver and a closed port: outcome, not an error
            self.http("PUT", path, {"url": f"http://127.0.0.1:{server.server_port}/fail"}, key=AGENCY)
            status, out, _ = self.http("POST", f"{path}/test", key=AGENCY)
            self.assertEqual((status, out["delivered"], out["status"]), (200, False, 500), out)
            self.http("PUT", path, {"url": "http://127.0.0.1:9/closed"}, key=AGENCY)
            status, out, _ = self.http("POST", f"{path}/test", key=org["api_key"])
            self.assertEqual((status, out["delivered"], out["status"]), (200, False, None), out)
            self.assertTrue(out["error"])
            # forbidden: a member's session, another org, anonymous
            member, member_email = self.member_of(org, org["api_key"])
            self.assertEqual(Session.sign_in(self.c, member_email).http("POST", f"{path}/test")[0], 403)
            other, _ = signup(self.c, "company", key=AGENCY)
            self.assertEqual(self.http("POST", f"{path}/test", key=other["api_key"])[0], 403)
            self.assertEqual(self.http("POST", f"{path}/test")[0], 401)
        finally:
            server.shutdown()


if __name__ == "__main__":
    unittest.main(verbosity=2)
