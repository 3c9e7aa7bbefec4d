"""Matcher integration tests (issue 5): real Redis, gateway and oim-matcher.

Entities reach the matcher exactly as the registry writes them: the entity at its key, its
index entry, and a ChangeEntry on oim:changelog, in one MULTI/EXEC (Feed below). API keys are
installed the way the registry installs them (oim:apikey:<sha256>), so the match endpoints are
exercised through the gateway with real principals.
"""
import hashlib
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import Cluster, Resp, proto_modules, wait_for  # noqa: E402


def now():
    """The registry's timestamp form: RFC 3339 UTC, milliseconds, fixed width."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def recipients(pb, ev):
    """An Event as oim-notify sees it: itself (without copies), then one Event per copy with
    the copy's id and org_id (proto/notify.proto, Event.copies)."""
    out = []
    for id_, org in [(ev.id, ev.org_id)] + [(c.id, c.org_id) for c in ev.copies]:
        out.append(pb["notify"].Event(id=id_, type=ev.type, org_id=org, created_at=ev.created_at,
                                      data_json=ev.data_json))
    return out


def stream_events(r, pb, start="-", copies=False):
    """[(stream id, Event)] of oim:events from start: an entry holds "e" = one Event or
    "b" = an EventBatch (expanded, each event with the entry's id), an Event with copies
    expanded into one Event per recipient (kept as written when copies)."""
    out = []
    for sid, fields in r("XRANGE", "oim:events", start, "+"):
        fields = dict(zip(fields[::2], fields[1::2]))
        if b"b" in fields:
            batch = pb["notify"].EventBatch()
            batch.ParseFromString(fields[b"b"])
            events = batch.events
        else:
            ev = pb["notify"].Event()
            ev.ParseFromString(fields[b"e"])
            events = [ev]
        out += [(sid.decode(), e) for ev in events
                for e in ([ev] if copies else recipients(pb, ev))]
    return out


class Feed:
    """Writes entities and change-log entries as the registry does."""

    def __init__(self, cluster, pb):
        self.c, self.pb = cluster, pb
        self.r = Resp(cluster.redis_sock)
        self.versions = {}
        self.pending = None     # a list: writes are queued until flush() (benchmarks)

    def close(self):
        self.r.close()

    def _write(self, etype, eid, key, index, msg, action):
        ver = msg.version
        entry = self.pb["changelog"].ChangeEntry(
            at=now(), op=1 if ver == 1 else 2, entity_type=etype, entity_id=eid, action=action)
        getattr(entry, {"org": "org", "demand": "demand", "saved_search": "saved_search"}[etype]
                ).CopyFrom(msg)
        cmds = [("MULTI",), ("SET", key, msg.SerializeToString()), ("ZADD", index, 0, eid),
                ("XADD", "oim:changelog", "*", "e", entry.SerializeToString()), ("EXEC",)]
        if self.pending is not None:
            self.pending += cmds
            return None
        replies = self.r.pipeline(*cmds)
        return replies[-1][-1].decode()

    def flush(self):
        """Sends the queued writes (each entity still its own MULTI/EXEC) in one pipeline."""
        if self.pending:
            self.r.pipeline(*self.pending)
            self.pending = []

    def org(self, oid, kind="startup", status="active", **fields):
        ver = self.versions[oid] = self.versions.get(oid, 0) + 1
        org = self.pb["registry"].Organization(
            id=oid, kind=kind, status=status, created_at=now(), updated_at=now(), version=ver,
            email=fields.pop("email", f"{oid}@example.com"), phone=fields.pop("phone", "010-0000"),
            website=fields.pop("website", f"https://{oid}.example"), **fields)
        return self._write("org", oid, f"oim:org:{oid}", "oim:orgs", org, "org.update")

    def demand(self, did, org_id, status="open", **fields):
        ver = self.versions[did] = self.versions.get(did, 0) + 1
        d = self.pb["registry"].Demand(id=did, org_id=org_id, status=status, visibility="public",
                                       created_at=now(), updated_at=now(), version=ver, **fields)
        return self._write("demand", did, f"oim:demand:{did}", "oim:demands", d, "demand.update")

    def saved_search(self, sid, org_id, **fields):
        ver = self.versions[sid] = self.versions.get(sid, 0) + 1
        s = self.pb["registry"].SavedSearch(id=sid, org_id=org_id, created_at=now(),
                                            updated_at=now(), version=ver, **fields)
        return self._write("saved_search", sid, f"oim:ss:{sid}", "oim:saved_searches", s,
                           "saved_search.create")

    def key(self, api_key, org_id, role):
        rec = self.pb["registry"].ApiKeyRecord(key_id="key_" + org_id, role=role, org_id=org_id)
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        self.r("SET", f"oim:apikey:{digest}", rec.SerializeToString())

    def events(self):
        """[(stream id, Event)] of oim:events, in order; an EventBatch entry ("b") gives
        each of its events, all with the entry's stream id, and an Event with copies one
        Event per recipient."""
        return stream_events(self.r, self.pb)

    def match(self, mid):
        raw = self.r("GET", f"oim:match:{mid}")
        if raw is None:
            return None
        m = self.pb["matcher"].Match()
        m.ParseFromString(raw)
        return m

    def settled(self):
        """True when the matcher's group has handled and acknowledged every entry."""
        last = self.r("XREVRANGE", "oim:changelog", "+", "-", "COUNT", 1)
        if not last:
            return True
        groups = self.r("XINFO", "GROUPS", "oim:changelog")
        for g in groups:
            info = dict(zip(g[::2], g[1::2]))
            if info[b"name"] == b"matcher":
                return info[b"pending"] == 0 and info[b"last-delivered-id"] == last[0][0]
        return False


def company_and_40_startups(f):
    """org_co and 40 startups described with 3 of 8 words; returns the words."""
    f.org("org_co", kind="company", name="Co")
    words = ["drone", "battery", "lidar", "vision", "robot", "sensor", "farm", "water"]
    for i in range(40):
        f.org(f"org_s{i:02d}", name=f"S{i}", description=" ".join(
            words[(i + j) % 8] for j in range(3)), region="KR-11")
    return words


def start_matcher_cluster(c, **env):
    c.start_redis()
    c.start_gateway(OIM_REQUIRED_SERVICES="matcher")
    c.start("matcher", **env)
    c.wait_registered({"matcher": 1})


COMPANY_KEY, STARTUP_KEY, STARTUP2_KEY, OTHER_KEY = "k-company", "k-startup", "k-startup2", "k-other"


class MatcherTest(unittest.TestCase):
    def test_matching_workflow_and_events(self):
        with Cluster() as c, tempfile.TemporaryDirectory() as tmp:
            pb = proto_modules(tmp)
            start_matcher_cluster(c, OIM_MATCH_MIN_SCORE="0.3")
            f = Feed(c, pb)
            role = pb["common"]
            f.key(COMPANY_KEY, "org_co", role.ROLE_COMPANY)
            f.key(STARTUP_KEY, "org_fit", role.ROLE_STARTUP)
            f.key(STARTUP2_KEY, "org_late", role.ROLE_STARTUP)
            f.key(OTHER_KEY, "org_bread", role.ROLE_STARTUP)
            f.org("org_co", kind="company", name="Hyundai Battery", email="bd@company.example")
            f.org("org_fit", name="ReCell", description="We recycle lithium-ion batteries from "
                  "electric vehicles and recover cathode metals.", tags=["battery", "recycling"],
                  industries=["C26"], region="KR-11", stage="seed", email="hi@recell.example")
            f.org("org_bread", name="Bakery", description="Artisan bread delivered daily.",
                  tags=["food"], industries=["I56"], region="KR-11", stage="seed")
            f.org("org_pending", status="pending", name="Pending Recycler",
                  description="lithium battery recycling", tags=["battery"], region="KR-11")
            f.org("org_korean", name="리셀코리아", description="폐배터리재활용 기술로 이차전지 "
                  "소재를 회수합니다.", tags=["배터리"], region="KR-11", stage="seed")

            # 1. a demand finds its startups, with explanations, within a second
            t0 = time.monotonic()
            f.demand("dem_1", "org_co", title="EV battery recycling / 배터리 재활용",
                     description="Recover lithium and cobalt from used EV batteries. "
                     "전기차 폐배터리 재활용 스타트업을 찾습니다.",
                     tags=["recycling", "battery"], industries=["C26"], regions=["KR-11"],
                     stages=["seed", "series-a"])

            def matches(did="dem_1", key=COMPANY_KEY):
                status, body, _ = c.http("GET", f"/v1/demands/{did}/matches", key=key)
                self.assertEqual(status, 200, body)
                return {m["startup_id"]: m for m in body["items"]}

            got = wait_for(lambda: "org_korean" in matches() and matches(), 5, "dem_1 matches")
            self.assertLess(time.monotonic() - t0, 1.5)
            self.assertIn("org_fit", got)
            self.assertNotIn("org_bread", got)          # nothing in common
            self.assertNotIn("org_pending", got)        # not active
            m = got["org_fit"]
            self.assertEqual(m["state"], "suggested")
            self.assertEqual([x["factor"] for x in m["explanation"]],
                             ["text", "tags", "industry", "region", "stage"])
            self.assertAlmostEqual(sum(x["contribution"] for x in m["explanation"]), m["score"],
                                   places=9)
            self.assertIn("lithium", m["explanation"][0]["detail"])
            self.assertIn("recycling", m["explanation"][1]["detail"])
            self.assertNotIn("contacts", m)
            self.assertGreater(m["score"], got["org_korean"]["score"])
            self.assertIn("배터리", got["org_korean"]["explanation"][0]["detail"])
            ranked = [x["score"] for x in c.http("GET", "/v1/demands/dem_1/matches",
                                                 key=COMPANY_KEY)[1]["items"]]
            self.assertEqual(ranked, sorted(ranked, reverse=True))
            # access: the owner and the agency; not another startup
            self.assertEqual(c.http("GET", "/v1/demands/dem_1/matches", key=OTHER_KEY)[0], 403)
            self.assertEqual(c.http("GET", "/v1/demands/dem_nope/matches",
                                    key=COMPANY_KEY)[0], 404)
            status, body, _ = c.http("GET", "/v1/orgs/org_fit/matches", key=STARTUP_KEY)
            self.assertEqual((status, [x["demand_id"] for x in body["items"]]), (200, ["dem_1"]))
            self.assertEqual(c.http("GET", "/v1/orgs/org_fit/matches", key=OTHER_KEY)[0], 403)
            # the company's list: its demands' matches (indexed by demand, not by match) ...
            def org_ids(org="org_co", key=COMPANY_KEY):
                status, body, _ = c.http("GET", f"/v1/orgs/{org}/matches", key=key)
                self.assertEqual(status, 200, body)
                return [x["id"] for x in body["items"]]
            mine = sorted(x["id"] for x in matches().values())
            self.assertEqual(sorted(org_ids()), mine)
            self.assertEqual(f.r("SMEMBERS", "oim:org:org_co:match_demands"), [b"dem_1"])
            self.assertEqual(f.r("EXISTS", "oim:org:org_co:matches"), 0)
            # ... and data written before that (match ids in the company's set) listed once
            f.r("SADD", "oim:org:org_co:matches", *mine)
            self.assertEqual(sorted(org_ids()), mine)
            f.r("DEL", "oim:org:org_co:matches")
            wait_for(lambda: len([e for _, e in f.events() if e.type == "match.created"]) == 4,
                     5, "match.created for both sides of both matches")
            # ... written as one Event per match, to the company, with the startup as a copy
            written = [e for _, e in stream_events(f.r, pb, copies=True)
                       if e.type == "match.created"]
            self.assertEqual([(e.org_id, len(e.copies)) for e in written], [("org_co", 1)] * 2)
            self.assertEqual({e.copies[0].org_id for e in written}, set(matches()))

            # 2. a fitting startup registered later is percolated into the demand's matches
            f.org("org_late", name="CobaltBack", description="Cobalt and lithium recovery "
                  "from spent EV batteries by hydrometallurgy.", tags=["recycling"],
                  industries=["C26"], region="KR-11", stage="series-a")
            late = wait_for(lambda: matches().get("org_late"), 5, "org_late percolated")
            self.assertEqual(late["state"], "suggested")

            # 3. a profile update that no longer fits withdraws the match (hidden from lists)
            f.org("org_late", name="CobaltBack", description="Now we bake bread.", tags=["food"],
                  industries=["I56"], region="KR-11", stage="series-a")
            wait_for(lambda: "org_late" not in matches(), 5, "org_late withdrawn")
            self.assertEqual(f.match(late["id"]).state, "withdrawn")
            status, body, _ = c.http("GET", "/v1/orgs/org_late/matches", key=STARTUP2_KEY)
            self.assertEqual(body["items"], [])
            self.assertEqual(c.http("POST", f"/v1/matches/{late['id']}/interest",
                                    key=STARTUP2_KEY)[0], 404)
            # ... and fitting again brings it back as suggested
            f.org("org_late", name="CobaltBack", description="Cobalt and lithium recovery "
                  "from spent EV batteries.", tags=["recycling"], industries=["C26"],
                  region="KR-11", stage="series-a")
            wait_for(lambda: matches().get("org_late"), 5, "org_late back")

            # 4. interest from both sides -> connected; contacts only then
            mid = m["id"]
            self.assertEqual(c.http("POST", f"/v1/matches/{mid}/interest", key=OTHER_KEY)[0], 404)
            status, body, _ = c.http("POST", f"/v1/matches/{mid}/interest", key=STARTUP_KEY)
            self.assertEqual((status, body["state"], body["startup_interested"]),
                             (200, "interested", True), body)
            self.assertNotIn("contacts", body)
            self.assertNotIn("contacts", matches()["org_fit"])
            status, again, _ = c.http("POST", f"/v1/matches/{mid}/interest", key=STARTUP_KEY)
            self.assertEqual((status, again["version"]), (200, body["version"]))    # no change
            status, body, _ = c.http("POST", f"/v1/matches/{mid}/interest", key=COMPANY_KEY)
            self.assertEqual((status, body["state"]), (200, "connected"), body)
            self.assertEqual(body["contacts"]["startup"]["email"], "hi@recell.example")
            self.assertNotIn("company", body["contacts"])           # you see the other side
            status, body, _ = c.http("GET", "/v1/orgs/org_fit/matches", key=STARTUP_KEY)
            self.assertEqual(body["items"][0]["contacts"]["company"]["email"], "bd@company.example")
            self.assertEqual(c.redis_cli("SISMEMBER", "oim:demand:dem_1:connected", "org_fit"), "1")
            conns = []
            for _, fields in f.r("XRANGE", "oim:changelog", "-", "+"):
                entry = pb["changelog"].ChangeEntry()
                entry.ParseFromString(fields[1])
                if entry.entity_type == "connection":
                    conns.append((entry.connection.demand_id, entry.connection.startup_id,
                                  entry.connection.company_id, entry.connection.match_id))
            self.assertEqual(conns, [("dem_1", "org_fit", "org_co", mid)])
            self.assertEqual(c.http("POST", f"/v1/matches/{mid}/decline", key=COMPANY_KEY,
                                    body={"reason": "x"})[0], 409)

            # 5. decline with a reason
            kid = matches()["org_korean"]["id"]
            status, body, _ = c.http("POST", f"/v1/matches/{kid}/decline", key=COMPANY_KEY,
                                     body={"reason": "outside our supply chain"})
            self.assertEqual((status, body["state"], body["declined_by"], body["reason"]),
                             (200, "declined", "company", "outside our supply chain"), body)
            self.assertEqual(c.http("POST", f"/v1/matches/{kid}/decline", key=COMPANY_KEY,
                                    body={"reason": 5})[0], 400)

            # 6. saved searches percolate new startups -> saved_search.hit
            f.saved_search("ss_1", "org_co", type="startup", q="cathode recycling")
            f.org("org_cathode", name="Cathodia", description="Direct cathode recycling.",
                  region="KR-41")
            hit = wait_for(lambda: [e for _, e in f.events() if e.type == "saved_search.hit"],
                           5, "saved_search.hit")
            self.assertEqual((hit[0].org_id, len(hit)), ("org_co", 1))
            self.assertIn("org_cathode", hit[0].data_json)

            # 7. a closed demand's matches stop changing
            wait_for(f.settled, 5, "matcher settled")
            before = {k: (v["state"], v["score"]) for k, v in matches().items()}
            f.demand("dem_1", "org_co", status="closed", title="EV battery recycling",
                     tags=["recycling", "battery"])
            f.org("org_new", name="NewCycle", description="lithium battery recycling cobalt "
                  "recovery", tags=["recycling", "battery"], industries=["C26"], region="KR-11",
                  stage="seed")
            wait_for(f.settled, 5, "matcher settled")
            after = {k: (v["state"], v["score"]) for k, v in matches().items()}
            self.assertEqual(before, after)
            # ... and every startup with a live match on it hears demand.closed, once
            live = {sid for sid, (state, _) in before.items()
                    if state in ("suggested", "interested", "connected")}
            self.assertIn("org_fit", live)                          # connected
            self.assertNotIn("org_korean", live)                    # declined
            closed = [e for _, e in f.events() if e.type == "demand.closed"]
            self.assertEqual(sorted(e.org_id for e in closed), sorted(live))
            for e in closed:
                data = json.loads(e.data_json)
                self.assertEqual((data["demand_id"], data["status"]), ("dem_1", "closed"))
            self.assertEqual(c.redis_cli("GET", "oim:demand:dem_1:closed"), "2")
            self.assertEqual(c.http("POST", f"/v1/matches/{matches()['org_late']['id']}/interest",
                                    key=STARTUP2_KEY)[0], 409)

            # 8. events: each once, stable ids; types as expected
            events = f.events()
            ids = [e.id for _, e in events]
            self.assertEqual(len(ids), len(set(ids)))
            types = [e.type for _, e in events]
            self.assertEqual(types.count("match.connected"), 2)
            self.assertEqual(types.count("interest.received"), 1)
            recv = [e for _, e in events if e.type == "interest.received"][0]
            self.assertEqual(recv.org_id, "org_co")

            # 9. SIGKILL + restart: a replay of the whole log adds no event, no match
            count = len(events)
            c.kill("matcher")
            c.redis_cli("XGROUP", "SETID", "oim:changelog", "matcher", "0")   # replay all
            c.restart("matcher", OIM_MATCH_MIN_SCORE="0.3")
            wait_for(f.settled, 10, "replay settled")
            self.assertEqual([(e.type, e.org_id, e.data_json[:80]) for _, e in f.events()[count:]],
                             [])
            self.assertEqual({k: (v["state"], v["score"]) for k, v in matches().items()}, after)
            f.close()

    def test_two_replicas_share_the_log(self):
        with Cluster() as c, tempfile.TemporaryDirectory() as tmp:
            pb = proto_modules(tmp)
            start_matcher_cluster(c)
            c.start("matcher")
            c.wait_registered({"matcher": 2})
            f = Feed(c, pb)
            words = company_and_40_startups(f)
            for i in range(60):
                f.demand(f"dem_{i:03d}", "org_co", title=" ".join(words[(i * 3 + j) % 8]
                                                                 for j in range(2)))
            wait_for(f.settled, 20, "both replicas drained the log")
            events = f.events()
            ids = [e.id for _, e in events]
            self.assertEqual(len(ids), len(set(ids)))
            created = [(e.org_id, e.data_json) for _, e in events if e.type == "match.created"]
            self.assertEqual(len(created), len(set(created)))
            pairs = 0
            for i in range(60):
                pairs += len(f.r("HKEYS", f"oim:demand:dem_{i:03d}:matches"))
            self.assertEqual(len(created), 2 * pairs)
            self.assertGreater(pairs, 60)
            f.close()

    def test_backlog_of_repeated_demands(self):
        """A backlog handled in overlapped batches (one batch's EXEC in flight while the next
        is computed), the same demands in consecutive batches (the later one's WATCH sees the
        earlier EXEC: redone): every demand ends as a replay of the whole log finds it."""
        with Cluster() as c, tempfile.TemporaryDirectory() as tmp:
            pb = proto_modules(tmp)
            start_matcher_cluster(c)
            f = Feed(c, pb)
            words = company_and_40_startups(f)
            wait_for(f.settled, 20, "startups handled")
            c.kill("matcher")
            for i in range(300):        # 70 demands, each changed 4-5 times, 64 a batch
                f.demand(f"dem_{i % 70:03d}", "org_co",
                         title=" ".join(words[(i * 5 + j) % 8] for j in range(2)),
                         status="closed" if i == 250 else "open")
            c.restart("matcher")
            wait_for(f.settled, 30, "backlog handled")

            def matches():
                out = {}
                for d in range(70):
                    for mid in f.r("HVALS", f"oim:demand:dem_{d:03d}:matches"):
                        m = f.match(mid.decode())
                        out[(m.demand_id, m.startup_id)] = (m.state, round(m.score, 4), m.version)
                return out

            before, count = matches(), len(f.events())
            self.assertGreater(len(before), 70)
            ids = [e.id for _, e in f.events()]
            self.assertEqual(len(ids), len(set(ids)))
            c.kill("matcher")
            c.redis_cli("XGROUP", "SETID", "oim:changelog", "matcher", "0")   # replay all
            c.restart("matcher")
            wait_for(f.settled, 30, "replay settled")
            self.assertEqual(f.events()[count:], [])
            self.assertEqual(matches(), before)
            f.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
