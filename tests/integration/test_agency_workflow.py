"""The agency's workflow (issue 17 items 4 and 5) against the real daemons: the demand review
setting, queue and transitions (every forbidden one a 409 naming the state), expiry reminders
driven by a clock the test controls (OIM_TEST_CLOCK_FILE), renewal, announcements reaching
the right groups only, the funnel and delivery health of GET /v1/admin/stats equal to counts
the test makes itself, and the CSV exports parsed back with Python's csv module."""
import csv
import io
import os
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from test_registry_util import AGENCY, RegistryCluster, oimtest

wait_for = oimtest.wait_for


def rfc3339(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def now_utc():
    return datetime.now(timezone.utc)


REVEALED = ("connected", "poc", "contract", "ended")     # connected or later (issue 17)


class Stack(RegistryCluster):
    """Redis, gateway, registry, matcher, notify and search, the registry on a test clock."""

    def up_all(self, **registry_env):
        self.clock_file = os.path.join(self.dir, "clock")
        self.start_redis()
        self.start_gateway()
        self.start("registry", OIM_TEST_CLOCK_FILE=self.clock_file, **registry_env)
        for s in ("matcher", "notify", "search"):
            self.start(s, OIM_WEBHOOK_RETRY_SCHEDULE="0.2,0.2", OIM_WEBHOOK_BREAKER_FAILURES="100000")
        self.wait_registered({"registry": 1, "matcher": 1, "notify": 1, "search": 1})
        os.makedirs(os.path.join(self.dir, "pb"), exist_ok=True)
        self.pb = oimtest.proto_modules(os.path.join(self.dir, "pb"))
        return self

    def set_clock(self, dt):
        with open(self.clock_file + ".tmp", "w") as f:
            f.write(rfc3339(dt))
        os.replace(self.clock_file + ".tmp", self.clock_file)

    def inbox(self, key, type_=None):
        status, body, _ = self.http("GET", "/v1/notifications?limit=100", key=key)
        assert status == 200, body
        return [n for n in body["notifications"] if type_ is None or n["type"] == type_]


class StackTest(oimtest.ClusterCase):
    stack_env = {}

    @classmethod
    def make_cluster(cls):
        return Stack()

    @classmethod
    def bring_up(cls):
        cls.c.up_all(**cls.stack_env)

    def http(self, *args, **kw):
        return self.c.http(*args, **kw)

    def assert_conflict(self, reply, state):
        status, body, _ = reply
        self.assertEqual(status, 409, body)
        self.assertEqual(body["error"]["code"], "state_conflict", body)
        self.assertIn(state, body["error"]["message"], body)


class Review(StackTest):
    def setUp(self):
        self.http("PUT", "/v1/admin/settings", {"demand_review": False}, key=AGENCY)

    def test_settings(self):
        _, ckey = self.c.org("company")
        self.assertEqual(self.http("GET", "/v1/admin/settings", key=ckey)[0], 403)
        self.assertEqual(self.http("PUT", "/v1/admin/settings", {"demand_review": True}, key=ckey)[0], 403)
        status, body, _ = self.http("PUT", "/v1/admin/settings", {"review": True}, key=AGENCY)
        self.assertEqual((status, body["error"]["field"]), (400, "review"))
        status, body, _ = self.http("PUT", "/v1/admin/settings", {"demand_review": "yes"}, key=AGENCY)
        self.assertEqual((status, body["error"]["field"]), (400, "demand_review"))
        status, body, _ = self.http("PUT", "/v1/admin/settings", {"demand_review": True}, key=AGENCY)
        self.assertEqual((status, body["demand_review"], body["demand_reminder_days"]), (200, True, 7))
        self.assertEqual(self.http("GET", "/v1/admin/settings", key=AGENCY)[1]["demand_review"], True)

    def test_queue_and_transitions(self):
        company, ckey = self.c.org("company")
        other, okey = self.c.org("company")
        startup, skey = self.c.org("startup")
        self.http("PUT", "/v1/admin/settings", {"demand_review": True}, key=AGENCY)
        d = self.c.demand(ckey, title="검토 대기 수요 zyxwvq", tags=["battery"])
        did = d["id"]
        self.assertEqual((d["status"], [n["action"] for n in d["review_notes"]]),
                         ("pending_review", ["submitted"]))
        # Not public: only the owner and the agency see it; not listed for others.
        for key in (None, okey, skey):
            self.assertEqual(self.http("GET", f"/v1/demands/{did}", key=key)[0], 404)
        self.assertEqual(self.http("GET", f"/v1/demands/{did}", key=ckey)[0], 200)
        listed = [x["id"] for x in self.http("GET", "/v1/demands?limit=100")[1]["items"]]
        self.assertNotIn(did, listed)
        own = self.http("GET", f"/v1/demands?org_id={company['id']}", key=ckey)[1]["items"]
        self.assertIn(did, [x["id"] for x in own])
        queue = self.http("GET", "/v1/admin/review-queue", key=AGENCY)[1]
        self.assertIn(did, [x["id"] for x in queue["items"]])
        self.assertEqual(self.http("GET", "/v1/admin/review-queue", key=ckey)[0], 403)
        # The agency's own demands skip review.
        agency_demand = self.c.demand(AGENCY, org_id=other["id"], title="공개 수요 zyxwvq")
        self.assertEqual(agency_demand["status"], "open")
        # Not searchable: search has indexed the later public demand, not the pending one.
        def hits():
            return [h["id"] for h in self.http("GET", "/v1/search?type=demand&q=zyxwvq")[1]["hits"]]
        wait_for(lambda: agency_demand["id"] in hits(), message="public demand searchable")
        self.assertNotIn(did, hits())
        # Forbidden transitions name the state.
        self.assertEqual(self.http("POST", f"/v1/demands/{did}/approve", key=ckey)[0], 403)
        self.assert_conflict(self.http("POST", f"/v1/demands/{did}/resubmit", key=ckey), "pending_review")
        self.assert_conflict(self.http("POST", f"/v1/demands/{did}/close", key=ckey), "pending_review")
        closes = rfc3339(now_utc() + timedelta(days=90))
        self.assert_conflict(self.http("POST", f"/v1/demands/{did}/renew", {"closes_at": closes},
                                       key=ckey), "pending_review")
        status, body, _ = self.http("POST", f"/v1/demands/{did}/return", {}, key=AGENCY)
        self.assertEqual((status, body["error"]["field"]), (422, "comment"))
        # Returned with a comment; the owner sees it and is notified.
        comment = "예산 범위를 적어 주세요, \"budget\" please"
        status, body, _ = self.http("POST", f"/v1/demands/{did}/return", {"comment": comment}, key=AGENCY)
        self.assertEqual((status, body["status"], body["review_notes"][-1]["comment"]),
                         (200, "returned", comment))
        self.assertNotIn(did, [x["id"] for x in self.http("GET", "/v1/admin/review-queue", key=AGENCY)[1]["items"]])
        owner_view = self.http("GET", f"/v1/demands/{did}", key=ckey)[1]
        self.assertEqual(owner_view["review_notes"][-1]["action"], "returned")
        wait_for(lambda: [n for n in self.c.inbox(ckey, "demand.reviewed")
                          if n["data"]["demand_id"] == did], message="demand.reviewed")
        self.assert_conflict(self.http("POST", f"/v1/demands/{did}/return", {"comment": "again"},
                                       key=AGENCY), "returned")
        self.assert_conflict(self.http("POST", f"/v1/demands/{did}/approve", key=AGENCY), "returned")
        self.assertEqual(self.http("GET", f"/v1/demands/{did}", key=None)[0], 404)
        # The owner fixes it and resubmits; another company may not.
        status, body, _ = self.http("PATCH", f"/v1/demands/{did}",
                                    {"budget_krw": {"min": 1000000, "max": 5000000}}, key=ckey)
        self.assertEqual((status, body.get("status")), (200, "returned"), body)
        self.assertEqual(self.http("POST", f"/v1/demands/{did}/resubmit", key=okey)[0], 404)
        status, body, _ = self.http("POST", f"/v1/demands/{did}/resubmit", key=ckey)
        self.assertEqual((status, body["status"]), (200, "pending_review"))
        status, body, _ = self.http("POST", f"/v1/demands/{did}/approve", key=AGENCY)
        self.assertEqual((status, body["status"]), (200, "open"))
        self.assertEqual([n["action"] for n in body["review_notes"]],
                         ["submitted", "returned", "resubmitted", "approved"])
        self.assert_conflict(self.http("POST", f"/v1/demands/{did}/approve", key=AGENCY), "open")
        self.assert_conflict(self.http("POST", f"/v1/demands/{did}/resubmit", key=ckey), "open")
        self.assertEqual(self.http("GET", f"/v1/demands/{did}")[0], 200)
        wait_for(lambda: did in hits(), message="approved demand searchable")
        # Review off again: a company's demand is open at once.
        self.http("PUT", "/v1/admin/settings", {"demand_review": False}, key=AGENCY)
        self.assertEqual(self.c.demand(ckey)["status"], "open")


class Reminders(StackTest):
    stack_env = {"OIM_DEMAND_REMINDER_DAYS": "7"}

    def test_reminder_and_renewal(self):
        company, ckey = self.c.org("company")
        other, okey = self.c.org("company")
        start = now_utc()
        self.c.set_clock(start)
        # Two registry replicas run the chore: one reminder still (WATCH on the reminded hash).
        self.c.start("registry", OIM_TEST_CLOCK_FILE=self.c.clock_file, **self.stack_env)
        self.c.wait_registered({"registry": 2})
        closes = start + timedelta(days=30)
        d = self.c.demand(ckey, title="만료 예정 수요", closes_at=rfc3339(closes))
        did = d["id"]

        def reminders():
            return [n for n in self.c.inbox(ckey, "demand.expiring") if n["data"]["demand_id"] == did]
        time.sleep(1.5)                                    # two chore rounds: nothing due
        self.assertEqual(reminders(), [])
        self.c.set_clock(closes - timedelta(days=6))       # inside the 7-day window
        wait_for(lambda: len(reminders()) == 1, message="demand.expiring")
        r = reminders()[0]
        self.assertEqual((r["data"]["title"], r["data"]["days_left"]), ("만료 예정 수요", 6))
        time.sleep(1.5)
        self.assertEqual(len(reminders()), 1)              # once per closing date
        # Renewal: owner or agency, a future date, open demands only.
        later = closes + timedelta(days=60)
        self.assertEqual(self.http("POST", f"/v1/demands/{did}/renew",
                                   {"closes_at": rfc3339(later)}, key=okey)[0], 403)
        status, body, _ = self.http("POST", f"/v1/demands/{did}/renew",
                                    {"closes_at": rfc3339(closes - timedelta(days=10))}, key=ckey)
        self.assertEqual((status, body["error"]["field"]), (422, "closes_at"))
        status, body, _ = self.http("POST", f"/v1/demands/{did}/renew", {"when": "x"}, key=ckey)
        self.assertEqual((status, body["error"]["field"]), (400, "closes_at"))
        status, body, _ = self.http("POST", f"/v1/demands/{did}/renew",
                                    {"closes_at": rfc3339(later)}, key=ckey)
        self.assertEqual((status, body["closes_at"]), (200, rfc3339(later)))
        time.sleep(1.5)
        self.assertEqual(len(reminders()), 1)              # the new date is not due yet
        self.c.set_clock(later - timedelta(days=2))
        wait_for(lambda: len(reminders()) == 2, message="second demand.expiring")
        self.assertEqual(reminders()[0]["data"]["days_left"], 2)
        self.assertEqual(self.c.inbox(okey, "demand.expiring"), [])
        self.http("POST", f"/v1/demands/{did}/close", key=ckey)
        self.assert_conflict(self.http("POST", f"/v1/demands/{did}/renew",
                                       {"closes_at": rfc3339(later + timedelta(days=1))},
                                       key=AGENCY), "closed")


class Announcements(StackTest):
    def test_groups(self):
        a, akey = self.c.org("startup", industries=["C26"], region="KR-50")
        b, bkey = self.c.org("startup", industries=["J62"], region="KR-49")
        co, cokey = self.c.org("company", industries=["C"], region="KR-50")
        status, pending, _ = self.http("POST", "/v1/orgs", {"kind": "startup", "name": "대기 스타트업",
                                                             "industries": ["C26"], "region": "KR-50"})
        self.assertEqual(status, 201)
        status, body, _ = self.http("POST", "/v1/admin/announcements",
                                    {"title": "제조 스타트업 공지", "body": "설명회 안내",
                                     "kinds": ["startup"], "industries": ["C"]}, key=AGENCY)
        self.assertEqual((status, body["recipients"]), (201, 1), body)
        first = body["id"]
        status, body, _ = self.http("POST", "/v1/admin/announcements",
                                    {"title": "세종 공지", "regions": ["KR-50"]}, key=AGENCY)
        self.assertEqual((status, body["recipients"]), (201, 2), body)

        def titles(key):
            return sorted(n["data"]["title"] for n in self.c.inbox(key, "announcement"))
        wait_for(lambda: len(titles(akey)) == 2 and len(titles(cokey)) == 1, message="announcements")
        self.assertEqual(titles(akey), ["세종 공지", "제조 스타트업 공지"])
        self.assertEqual(titles(cokey), ["세종 공지"])
        self.assertEqual(titles(bkey), [])
        self.assertEqual(self.c.rcmd("ZCARD", f"oim:org:{pending['id']}:inbox"), 0)  # pending
        self.assertEqual([n["data"]["announcement_id"] for n in self.c.inbox(akey, "announcement")
                          if n["data"]["title"] == "제조 스타트업 공지"], [first])
        status, body, _ = self.http("POST", "/v1/admin/announcements",
                                    {"title": "x", "kinds": ["agency"]}, key=AGENCY)
        self.assertEqual((status, body["error"]["field"]), (422, "kinds[0]"))
        status, body, _ = self.http("POST", "/v1/admin/announcements", {"body": "no title"}, key=AGENCY)
        self.assertEqual((status, body["error"]["field"]), (422, "title"))
        self.assertEqual(self.http("POST", "/v1/admin/announcements", {"title": "x"}, key=akey)[0], 403)
        # The registry's notification types are known to notify's preferences and webhooks.
        prefs = {"types": [{"type": t, "channels": ["inbox"], "digest": "instant"}
                           for t in ("announcement", "demand.expiring", "demand.reviewed")]}
        self.assertEqual(self.http("PUT", f"/v1/orgs/{co['id']}/preferences", prefs, key=cokey)[0], 200)
        self.assertEqual(self.http("PUT", f"/v1/orgs/{co['id']}/webhook",
                                   {"url": "http://127.0.0.1:9/x", "events": ["announcement"]},
                                   key=cokey)[0], 200)
        listed = self.http("GET", "/v1/admin/announcements", key=AGENCY)[1]["items"]
        self.assertEqual([x["title"] for x in listed[:2]], ["세종 공지", "제조 스타트업 공지"])


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200 if self.path.startswith("/ok") else 500)
        self.end_headers()

    def log_message(self, *args):
        pass


class FunnelAndExport(StackTest):
    def setUp(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_funnel_health_and_csv(self):
        t0 = now_utc() - timedelta(seconds=2)
        port = self.server.server_address[1]
        company, ckey = self.c.org("company", name="=수요 기업, \"주식회사\"",
                                   description="첫 줄\n둘째 줄, \"인용\"")
        startups = [self.c.org("startup", name=f"배터리 스타트업 {i}", tags=["battery", "recycling"],
                               description="battery recycling and cathode materials")
                    for i in range(3)]
        self.http("PUT", f"/v1/orgs/{company['id']}/webhook", {"url": f"http://127.0.0.1:{port}/ok"}, key=ckey)
        self.http("PUT", f"/v1/orgs/{startups[0][0]['id']}/webhook",
                  {"url": f"http://127.0.0.1:{port}/fail"}, key=startups[0][1])
        demands = [self.c.demand(ckey, title=f"battery recycling need {i}", tags=["battery", "recycling"],
                                 description="cathode materials from used batteries")
                   for i in range(4)]
        demands.append(self.c.demand(ckey, title="전혀 다른 주제 qqqq"))     # no match expected
        pub = self.c.publisher("funnel-src")
        bn = company.get("business_number")
        status, body, _ = self.http("POST", "/v1/events/demands", [
            {"external_id": f"f{i}", "sequence": 1, "op": "upsert", "org_ref": company["id"],
             "demand": {"title": f"ingested battery recycling {i}", "tags": ["battery"]}}
            for i in range(2)], key=pub["api_key"])
        self.assertEqual([r["status"] for r in body["results"]], ["created"] * 2, (bn, body))

        def matches(did):
            return self.http("GET", f"/v1/demands/{did}/matches", key=AGENCY)[1]["items"]
        wait_for(lambda: all(matches(d["id"]) for d in demands[:4]), timeout=20, message="matches")
        # Interest and connections: demand 0 connected with startup 0, demand 1 interest only.
        m0 = [m for m in matches(demands[0]["id"]) if m["startup_id"] == startups[0][0]["id"]][0]
        self.assertEqual(self.http("POST", f"/v1/matches/{m0['id']}/interest", key=ckey)[0], 200)
        self.assertEqual(self.http("POST", f"/v1/matches/{m0['id']}/interest", key=startups[0][1])[0], 200)
        m1 = matches(demands[1]["id"])[0]
        self.assertEqual(self.http("POST", f"/v1/matches/{m1['id']}/interest", key=ckey)[0], 200)
        # Relationships: startup 1 proposes to demand 2 ("=" tests the CSV guard), the company
        # accepts, both record a PoC and a contract.
        status, m2, _ = self.http("POST", f"/v1/demands/{demands[2]['id']}/proposals",
                                  {"message": "=제안, \"PoC\""}, key=startups[1][1])
        self.assertIn(status, (200, 201), m2)
        rel = f"/v1/relationships/{m2['id']}"
        for path, body_, key in ((rel + "/accept", None, ckey), (rel + "/outcome", {"state": "poc"}, ckey),
                                 (rel + "/outcome", {"state": "contract"}, startups[1][1])):
            self.assertEqual(self.http("POST", path, body_, key=key)[0], 200, path)
        time.sleep(1.0)                 # let the matcher settle the ingested demands too

        # The test's own count, from the API.
        mine = [d["id"] for d in demands] + [r["demand_id"] for r in body["results"]]
        counted = {"posted": 0, "matched": 0, "with_interest": 0, "connected": 0, "proposals": 0,
                   "poc": 0, "contract": 0}
        for did in mine:
            ms = matches(did)
            counted["posted"] += 1
            counted["matched"] += bool(ms)
            counted["with_interest"] += any(m["company_interested"] or m["startup_interested"] for m in ms)
            counted["connected"] += any(m["state"] in REVEALED for m in ms)
            counted["proposals"] += sum(1 for m in ms if m.get("proposed_at"))
            counted["poc"] += any(m["state"] in ("poc", "contract") for m in ms)
            counted["contract"] += any(m["state"] == "contract" for m in ms)
        self.assertEqual((counted["connected"], counted["with_interest"] >= 2), (2, True))
        self.assertEqual((counted["proposals"], counted["poc"], counted["contract"]), (1, 1, 1))
        query = f"period=day&from={rfc3339(t0)}&to={rfc3339(now_utc() + timedelta(minutes=1))}"
        status, stats, _ = self.http("GET", f"/v1/admin/stats?{query}", key=AGENCY)
        self.assertEqual(status, 200, stats)
        total = stats["funnel_total"]
        self.assertEqual({k: total[k] for k in counted}, counted)
        self.assertEqual(sum(r["posted"] for r in stats["funnel"]), counted["posted"])
        self.assertIsNotNone(stats["median_hours"]["connected_to_poc"])
        self.assertIsNotNone(stats["median_hours"]["poc_to_contract"])
        self.assertEqual(stats["by_source"]["funnel-src"]["posted"], 2)
        self.assertEqual(stats["by_source"]["direct"]["posted"], 5)
        self.assertIsNotNone(stats["median_hours"]["posted_to_matched"])
        self.assertIsNotNone(stats["median_hours"]["matched_to_connected"])
        self.assertIn("orgs", stats)                       # the counters are still there
        # Delivery health equals the delivery log.
        def settled():
            items = self.http("GET", "/v1/deliveries?limit=200", key=AGENCY)[1]["deliveries"]
            return items if items and all(d["status"] != "pending" for d in items) else None
        try:
            wait_for(settled, timeout=20, message="deliveries settled")
        except AssertionError:
            print(self.http("GET", "/v1/deliveries?limit=200", key=AGENCY)[1])
            raise
        items = settled()
        status, stats, _ = self.http("GET", f"/v1/admin/stats?{query}", key=AGENCY)
        health = stats["delivery"]
        mine_d = {s: sum(1 for d in items if d["status"] == s) for s in ("delivered", "dead")}
        self.assertEqual((health["delivered"], health["dead_letters"], health["total"]),
                         (mine_d["delivered"], mine_d["dead"], len(items)))
        self.assertGreater(mine_d["delivered"], 0)
        self.assertGreater(mine_d["dead"], 0)
        self.assertAlmostEqual(health["success_rate"], mine_d["delivered"] / len(items))
        self.assertIsNotNone(health["latency_ms"]["p50"])
        # Bad queries.
        self.assertEqual(self.http("GET", "/v1/admin/stats?period=year", key=AGENCY)[1]["error"]["field"], "period")
        self.assertEqual(self.http("GET", "/v1/admin/stats?from=yesterday", key=AGENCY)[1]["error"]["field"], "from")
        self.check_csv(company, counted)

    def csv_rows(self, name, **query):
        q = "&".join(f"{k}={v}" for k, v in query.items())
        status, text, headers = self.http("GET", f"/v1/admin/export/{name}?{q}", key=AGENCY)
        self.assertEqual(status, 200, text)
        self.assertTrue(headers["Content-Type"].startswith("text/csv"), headers)
        self.assertTrue(text.startswith("\ufeff") != (query.get("bom") == "0"))
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        return rows, headers.get("X-Next-Cursor")

    def check_csv(self, company, counted):
        orgs, more = self.csv_rows("organizations.csv")
        self.assertIsNone(more)
        self.assertEqual(len(orgs), self.c.rcmd("ZCARD", "oim:orgs"))
        row = [r for r in orgs if r["id"] == company["id"]][0]
        self.assertEqual(row["name"], "'" + company["name"])     # formula guard, text intact
        self.assertEqual(row["name"][:2], "'=")
        startup_rows = [r for r in orgs if r["name"].startswith("배터리 스타트업")]
        self.assertEqual(sorted(r["tags"] for r in startup_rows), ["battery;recycling"] * 3)
        demands, _ = self.csv_rows("demands.csv", bom="0")
        self.assertEqual(len(demands), self.c.rcmd("ZCARD", "oim:demands"))
        self.assertEqual(sorted(r["source_system"] for r in demands if r["source_system"]),
                         ["funnel-src", "funnel-src"])
        rels, _ = self.csv_rows("relationships.csv")
        connected = [r for r in rels if r["state"] in REVEALED]
        self.assertEqual(len(connected), counted["connected"])
        proposal = [r for r in rels if r["proposed_at"]]
        self.assertEqual([(r["state"], r["proposal_message"]) for r in proposal],
                         [("contract", "'=제안, \"PoC\"")])
        total = sum(len(self.http("GET", f"/v1/demands/{d['id']}/matches?limit=100", key=AGENCY)[1]["items"])
                    for d in demands)
        self.assertGreaterEqual(len(rels), total)
        # Paging: two per page, concatenated = the whole export.
        paged, cursor = [], "0"
        while cursor is not None:
            page, cursor = self.csv_rows("organizations.csv", limit=2, cursor=cursor)
            paged += page
        self.assertEqual([r["id"] for r in paged], [r["id"] for r in orgs])
        self.assertEqual(self.http("GET", "/v1/admin/export/keys.csv", key=AGENCY)[0], 404)
        self.assertEqual(self.http("GET", "/v1/admin/export/demands.csv",
                                   key=self.c.org("company")[1])[0], 403)


if __name__ == "__main__":
    unittest.main(verbosity=2)
