"""Trust (issue 13), visibility: what a startup, a pending organization or an outsider may see
of other organizations' demands — in the registry, search and the matcher — with real
processes and data of its own.

* A confidential demand's match, before the startup is connected: its match list, the
  workflow replies, the match.created notification (inbox and webhook) and its saved-search
  hits hold neither the owner nor a description term (a distinctive word, checked in every
  byte, explanations included); the owner sees both; after connection the startup does too.
* Search facets and filters tell nothing a teaser hides (industry, region, stage,
  collaboration).
* A pending (or suspended) organization's key reads no members data: registry, search,
  matches.
* Business registration numbers are claimed on approval, not by pending self-registrations.
* Retention: the change log and the audit stream are trimmed; a search replica and a matcher
  replica that were stopped while entries they had not read were trimmed rebuild from a
  snapshot and miss nothing.
"""
import http.server
import json
import os
import signal
import sys
import threading
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import AGENCY_KEY, Cluster, Resp, wait_for  # noqa: E402

SECRET_WORD = "zephyrium"           # in the confidential demand's description only (and in the
                                    # startup's own profile, so that a full explanation names it)


def api(c, method, path, body=None, key=None, expect=200):
    status, reply, _ = c.http(method, path, body, key=key)
    assert status == expect, (method, path, status, reply)
    return reply


def create_org(c, **fields):
    return api(c, "POST", "/v1/orgs", fields, key=AGENCY_KEY, expect=201)


def search(c, key=None, **params):
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    return api(c, "GET", f"/v1/search?{query}", key=key)


def brn(prefix):
    """A valid Korean business registration number starting with 9 given digits."""
    weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    digits = [int(x) for x in prefix]
    total = sum(d * w for d, w in zip(digits, weights)) + digits[8] * 5 // 10
    return prefix + str((10 - total % 10) % 10)


class Receiver:
    """A webhook endpoint on 127.0.0.1 that keeps every body it receives."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def inbox(c, key, type_):
    return [n for n in api(c, "GET", "/v1/notifications", key=key)["notifications"]
            if n["type"] == type_]


class VisibilityTest(unittest.TestCase):
    def assertHidden(self, what, text, owner_id):
        blob = json.dumps(text, ensure_ascii=False)
        self.assertNotIn(SECRET_WORD, blob.lower(), f"{what} shows a description term: {blob}")
        self.assertNotIn(owner_id, blob, f"{what} shows the owner: {blob}")

    def test_confidential_demand_matches(self):
        receiver = Receiver()
        try:
            with Cluster(env={"OIM_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2"}) as c:
                c.start_all()
                self.check_confidential(c, receiver, facets=False)
        finally:
            receiver.close()

    def test_confidential_demand_facets_and_filters(self):
        receiver = Receiver()
        try:
            with Cluster() as c:
                c.start_all()
                self.check_confidential(c, receiver, facets=True)
        finally:
            receiver.close()

    def test_members_means_active(self):
        with Cluster() as c:
            c.start_all()
            self.check_members(c)

    def setup_parties(self, c, receiver):
        company = create_org(c, kind="company", name="Cathode Korea", industries=["C"],
                             region="KR-11")
        startup = create_org(c, kind="startup", name="Reclaim Labs",
                             description=f"We refine {SECRET_WORD} from cathode scrap",
                             tags=["battery", "recycling"], industries=["C"], region="KR-11",
                             stage="seed")
        outsider = create_org(c, kind="startup", name="Quiet Sensors", tags=["lidar"],
                              industries=["J"], region="KR-26", stage="seed")
        api(c, "PUT", f"/v1/orgs/{startup['id']}/webhook", {"url": receiver.url},
            key=startup["api_key"])
        searches = {}
        for name, body in {"title": {"q": "recycling"},
                           "description": {"q": SECRET_WORD},
                           "industry": {"q": "battery", "industry": ["C"]},
                           "region": {"q": "battery", "region": ["KR-11"]},
                           "stage": {"q": "battery", "stage": ["seed"]}}.items():
            searches[name] = api(c, "POST", "/v1/saved-searches", dict(body, type="demand"),
                                 key=startup["api_key"], expect=201)["id"]
        return company, startup, outsider, searches

    def check_confidential(self, c, receiver, facets):
        """facets: check search's facets and filters (before the connection), else the
        matcher's views."""
        company, startup, outsider, searches = self.setup_parties(c, receiver)
        ckey, skey, okey = company["api_key"], startup["api_key"], outsider["api_key"]
        demand = api(c, "POST", "/v1/demands", {
            "title": "Battery recycling line", "tags": ["battery", "recycling"],
            "description": f"{SECRET_WORD} {SECRET_WORD} recovery from spent cathodes",
            "industries": ["C"], "regions": ["KR-11"], "stages": ["seed"],
            "collaboration": ["poc"], "budget_krw": {"min": 1000000, "max": 9000000},
            "visibility": "confidential"}, key=ckey, expect=201)
        did, owner = demand["id"], company["id"]
        if facets:
            return self.check_facets(c, did, skey, ckey, okey)

        def my_match():
            items = api(c, "GET", f"/v1/orgs/{startup['id']}/matches", key=skey)["items"]
            return [m for m in items if m["demand_id"] == did]
        match = wait_for(my_match, 15, "the startup's match")[0]
        self.assertHidden("the startup's match list", match, owner)
        self.assertNotIn("company_id", match)
        self.assertTrue(match["explanation"], match)
        self.assertAlmostEqual(sum(f["contribution"] for f in match["explanation"]),
                               match["score"], places=3)
        # the owner sees everything: the owner, and the description term in the explanation
        full = api(c, "GET", f"/v1/demands/{did}/matches", key=ckey)["items"]
        self.assertEqual(full[0]["company_id"], owner)
        self.assertIn(SECRET_WORD, json.dumps(full).lower())
        status, body, _ = c.http("GET", f"/v1/demands/{did}/matches", key=skey)
        self.assertEqual(status, 403)
        self.assertHidden("the demand's match list to the startup", body, owner)
        # the match.created notification: inbox and webhook
        created = wait_for(lambda: [n for n in inbox(c, skey, "match.created")
                                    if n["data"]["demand_id"] == did], 15, "match.created")
        self.assertHidden("match.created in the inbox", created, owner)
        hooks = wait_for(lambda: [b for b in receiver.bodies if b["type"] == "match.created"],
                         15, "the match.created webhook")
        self.assertHidden("match.created webhook", hooks, owner)
        owner_created = wait_for(lambda: inbox(c, ckey, "match.created"), 15, "owner's event")
        self.assertEqual(owner_created[0]["data"]["company_id"], owner)
        # saved searches: the teaser's words hit, a description word or a hidden field not
        hits = wait_for(lambda: inbox(c, skey, "saved_search.hit"), 15, "a saved-search hit")
        self.assertHidden("saved_search.hit", hits, owner)
        self.assertEqual({h["data"]["saved_search_id"] for h in hits}, {searches["title"]})
        # the registry shows the teaser; search finds the title, not the description
        self.assertHidden("GET demand", api(c, "GET", f"/v1/demands/{did}", key=skey), owner)
        # the workflow: interest first (still a teaser), then connected (everything)
        reply = api(c, "POST", f"/v1/matches/{match['id']}/interest", {}, key=skey)
        self.assertHidden("the interest reply", reply, owner)
        api(c, "POST", f"/v1/matches/{match['id']}/interest", {}, key=ckey)
        after = my_match()[0]
        self.assertEqual(after["state"], "connected")
        self.assertEqual(after["company_id"], owner)
        self.assertIn(SECRET_WORD, json.dumps(after).lower())
        self.assertIn(SECRET_WORD, api(c, "GET", f"/v1/demands/{did}", key=skey)["description"])
        wait_for(lambda: search(c, skey, type="demand", q=SECRET_WORD)["total"] == 1, 15,
                 "search to show the connected startup the description")
        self.assertHidden("events before the connection", [b for b in receiver.bodies
                          if b["type"] != "match.connected"
                          and b["data"].get("state") != "connected"], owner)
        hits = inbox(c, skey, "saved_search.hit")
        self.assertEqual({h["data"]["saved_search_id"] for h in hits}, {searches["title"]})

    def check_facets(self, c, did, skey, ckey, okey):
        hidden = {"industry": "C", "region": "KR-11", "stage": "seed", "collaboration": "poc"}
        for key in (None, skey, okey):
            result = wait_for(lambda: (lambda r: r if r["hits"] else None)(
                search(c, key, type="demand", q="battery")), 15, "search to index the demand")
            self.assertEqual([h["id"] for h in result["hits"]], [did])
            for field in ("industry", "region", "stage"):
                self.assertEqual(result["facets"][field], {}, (field, result["facets"]))
            self.assertEqual(result["facets"]["tag"].get("battery"), 1)
            self.assertHidden("search hits", result["hits"], "org_none")
            for field, value in hidden.items():
                filtered = search(c, key, type="demand", **{field: value})
                self.assertEqual(filtered["total"], 0, (field, filtered))
            self.assertEqual(search(c, key, type="demand", q=SECRET_WORD)["total"], 0)
        own = search(c, ckey, type="demand", q="battery")
        self.assertEqual(own["facets"]["industry"], {"C": 1})
        for field, value in hidden.items():
            self.assertEqual(search(c, ckey, type="demand", **{field: value})["total"], 1)

    def check_members(self, c):
        company = create_org(c, kind="company", name="Members Holding", region="KR-11")
        member = create_org(c, kind="startup", name="Active Valve", tags=["hydrogen"],
                            description="hydrogen valves", region="KR-11", stage="seed")
        pending = api(c, "POST", "/v1/orgs", {"kind": "startup", "name": "Pending Valve",
                      "tags": ["hydrogen"], "description": "hydrogen valves"}, expect=201)
        self.assertEqual(pending["status"], "pending")
        demand = api(c, "POST", "/v1/demands", {
            "title": "Hydrogen valve supply", "tags": ["hydrogen"], "visibility": "members",
            "description": "membersonly specification"}, key=company["api_key"], expect=201)
        did, mkey, pkey = demand["id"], member["api_key"], pending["api_key"]
        self.assertEqual(api(c, "GET", f"/v1/demands/{did}", key=mkey)["id"], did)
        wait_for(lambda: search(c, mkey, type="demand", q="hydrogen")["total"] == 1, 15,
                 "the members demand in an active member's search")
        self.assertEqual(c.http("GET", f"/v1/demands/{did}", key=pkey)[0], 404)
        listed = api(c, "GET", "/v1/demands", key=pkey)["items"]
        self.assertNotIn(did, [d["id"] for d in listed])
        self.assertEqual(search(c, pkey, type="demand", q="hydrogen")["total"], 0)
        self.assertEqual(search(c, pkey, q="membersonly")["total"], 0)
        for key in (None, pkey):
            status, body, _ = c.http("GET", "/v1/suggest?q=hydrogen%20val", key=key)
            self.assertEqual(status, 200, body)
            self.assertNotIn("hydrogen valve supply",
                             [s["text"].lower() for s in body["suggestions"]])
        self.assertEqual(c.http("GET", f"/v1/orgs/{pending['id']}/matches", key=pkey)[0], 403)
        wait_for(lambda: api(c, "GET", f"/v1/orgs/{member['id']}/matches", key=mkey)["items"],
                 15, "the active member's match")
        # suspended: the same as pending, at once in the registry and the matcher
        api(c, "POST", f"/v1/orgs/{member['id']}/suspend", {}, key=AGENCY_KEY)
        self.assertEqual(c.http("GET", f"/v1/demands/{did}", key=mkey)[0], 404)
        wait_for(lambda: search(c, mkey, type="demand", q="hydrogen")["total"] == 0, 15,
                 "the suspended org's search without the members demand")
        wait_for(lambda: c.http("GET", f"/v1/orgs/{member['id']}/matches", key=mkey)[0] == 403,
                 15, "the suspended org's matches refused")

    def test_business_number_claimed_on_approval(self):
        with Cluster() as c:
            c.start_all(services=("registry",))
            number = brn("123456789")
            first = api(c, "POST", "/v1/orgs", {"kind": "startup", "name": "First",
                        "business_number": number}, expect=201)
            second = api(c, "POST", "/v1/orgs", {"kind": "startup", "name": "Second",
                         "business_number": number}, expect=201)
            self.assertEqual(c.redis_cli("EXISTS", f"oim:bizno:{number}"), "0")
            api(c, "POST", f"/v1/orgs/{first['id']}/approve", {}, key=AGENCY_KEY)
            self.assertEqual(c.redis_cli("GET", f"oim:bizno:{number}"), first["id"])
            status, body, _ = c.http("POST", f"/v1/orgs/{second['id']}/approve", {}, key=AGENCY_KEY)
            self.assertEqual((status, body["error"]["field"]), (409, "business_number"), body)
            self.assertEqual(api(c, "GET", f"/v1/orgs/{second['id']}", key=AGENCY_KEY)["status"],
                             "pending")
            status, body, _ = c.http("POST", "/v1/orgs", {"kind": "startup", "name": "Third",
                                     "business_number": number}, key=AGENCY_KEY)
            self.assertEqual((status, body["error"]["field"]), (409, "business_number"), body)
            # deleting the pending one frees nothing it did not hold
            api(c, "DELETE", f"/v1/orgs/{second['id']}", key=AGENCY_KEY)
            self.assertEqual(c.redis_cli("GET", f"oim:bizno:{number}"), first["id"])
            # deleting the holder frees it: another org may be approved with it
            other = api(c, "POST", "/v1/orgs", {"kind": "company", "name": "Fourth",
                        "business_number": number}, expect=201)
            api(c, "DELETE", f"/v1/orgs/{first['id']}", key=AGENCY_KEY)
            self.assertEqual(c.redis_cli("EXISTS", f"oim:bizno:{number}"), "0")
            api(c, "POST", f"/v1/orgs/{other['id']}/approve", {}, key=AGENCY_KEY)
            self.assertEqual(c.redis_cli("GET", f"oim:bizno:{number}"), other["id"])

    def test_retention_and_lagging_replicas_rebuild(self):
        with Cluster(env={"OIM_CHANGELOG_RETAIN_S": "1", "OIM_AUDIT_RETAIN_S": "1"}) as c:
            c.start_redis()
            c.start_gateway()
            for service in ("registry", "search", "matcher", "matcher", "notify"):
                c.start(service)
            c.wait_registered({"registry": 1, "search": 1, "matcher": 2, "notify": 1})
            company = create_org(c, kind="company", name="Gap Holding", region="KR-11")
            create_org(c, kind="startup", name="Early Bird", tags=["sensor"], region="KR-11")
            redis = Resp(c.redis_sock)
            self.wait_matcher_idle(redis)
            audit_first = self.stream_first(redis, "oim:audit")
            lagging = [c.daemons["search"][0], c.daemons["matcher"][0]]
            for proc in lagging:
                proc.signal(signal.SIGSTOP)
            try:
                late = create_org(c, kind="startup", name="Gapfinder Robotics",
                                  tags=["gapfinder"], description="gapfinder arms",
                                  region="KR-11", stage="seed")
                missed = self.stream_last(redis, "oim:changelog")
                create_org(c, kind="startup", name="After Trim", tags=["other"])
                self.wait_matcher_idle(redis)
                wait_for(lambda: self.stream_first(redis, "oim:changelog") > missed,
                         20, "the change log trimmed past the entries the stopped replicas missed")
            finally:
                for proc in lagging:
                    proc.signal(signal.SIGCONT)
            wait_for(lambda: "changelog_gap" in lagging[0].log(), 15, "search to see the gap")
            wait_for(lambda: "changelog_gap" in lagging[1].log(), 15, "the matcher to see the gap")
            wait_for(lambda: [h["id"] for h in search(c, q="gapfinder")["hits"]] == [late["id"]],
                     15, "the rebuilt search to find what it missed")
            # the other matcher goes: the rebuilt one alone must know the startup it missed
            c.kill("matcher", 1)
            demand = api(c, "POST", "/v1/demands", {"title": "Gapfinder arms wanted",
                         "tags": ["gapfinder"], "regions": ["KR-11"]},
                         key=company["api_key"], expect=201)
            wait_for(lambda: [m["startup_id"] for m in api(c, "GET",
                     f"/v1/demands/{demand['id']}/matches", key=company["api_key"])["items"]]
                     == [late["id"]], 20, "the rebuilt matcher to match the startup it missed")
            wait_for(lambda: self.stream_first(redis, "oim:audit") > audit_first,
                     15, "the audit stream trimmed")
            redis.close()

    @staticmethod
    def stream_id(raw):
        ms, seq = raw.decode().split("-")
        return (int(ms), int(seq))

    def stream_first(self, redis, stream):
        out = redis.cmd("XRANGE", stream, "-", "+", "COUNT", "1")
        return self.stream_id(out[0][0]) if out else (0, 0)

    def stream_last(self, redis, stream):
        out = redis.cmd("XREVRANGE", stream, "+", "-", "COUNT", "1")
        return self.stream_id(out[0][0]) if out else (0, 0)

    def wait_matcher_idle(self, redis):
        def idle():
            group = redis.cmd("XINFO", "GROUPS", "oim:changelog")[0]
            fields = dict(zip(group[0::2], group[1::2]))
            return fields[b"pending"] == 0 and self.stream_id(fields[b"last-delivered-id"]) \
                == self.stream_last(redis, "oim:changelog")
        wait_for(idle, 15, "the matcher's group to catch up")


if __name__ == "__main__":
    unittest.main(verbosity=2)
