"""Search daemon integration tests (issue 4): write through the registry's API, find it
through /v1/search — Korean and English, facets, visibility, live updates, replicas, restart."""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import AGENCY_KEY, Cluster, wait_for  # noqa: E402
from urllib.parse import quote  # noqa: E402


def create_org(c, **fields):
    status, body, _ = c.http("POST", "/v1/orgs", fields, key=AGENCY_KEY)
    assert status == 201, (status, body)
    return body


def search(c, key=None, **params):
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    status, body, _ = c.http("GET", f"/v1/search?{query}", key=key)
    assert status == 200, (status, body)
    return body


def ids(result):
    return [h["id"] for h in result["hits"]]


class SearchTest(unittest.TestCase):
    def test_korean_english_facets_visibility_live(self):
        with Cluster() as c:
            c.start_all()
            battery = create_org(c, kind="startup", name="에코배터리", description="이차전지배터리재활용 전문 스타트업",
                                 tags=["battery", "recycling"], industries=["C28"], region="KR-41", stage="seed")
            robot = create_org(c, kind="startup", name="RoboFarm", description="Autonomous farming robots for smart farms",
                               tags=["robotics", "agtech"], industries=["C29"], region="KR-11", stage="series-a")
            company = create_org(c, kind="company", name="한국전력", industries=["D35"], region="KR-11")
            key = company["api_key"]
            # Korean: a bigram inside a compound, a spaced query against a compound
            wait_for(lambda: battery["id"] in ids(search(c, q="배터리")), 5, "배터리 finds 이차전지배터리재활용")
            self.assertIn(battery["id"], ids(search(c, q="배터리 재활용")))
            # English with stemming, and a typo (the change log is applied in order: once the
            # company, written last, is searchable, so are the others)
            wait_for(lambda: company["id"] in ids(search(c, q="한국전력")), 5, "every org indexed")
            self.assertIn(robot["id"], ids(search(c, q="farm robot")))
            self.assertIn(robot["id"], ids(search(c, q="autonomus")))
            # facets and filters
            result = search(c, q="", type="startup")
            self.assertEqual(result["facets"]["region"].get("KR-11"), 1)
            self.assertEqual(result["facets"]["industry"].get("C"), 2)   # C28 and C29 under section C
            self.assertEqual(ids(search(c, type="startup", region="KR-41")), [battery["id"]])
            self.assertIn("took_ms", result)
            self.assertEqual(search(c, type="startup", facets="status")["facets"]["status"], {"active": 2})
            self.assertEqual(search(c, type="startup", facets="none")["facets"]["region"], {})
            # confidential demand: outsiders see the teaser only
            status, demand, _ = c.http("POST", "/v1/demands", {
                "title": "스마트그리드 배터리 진단", "description": "secretword 변전소 열화 진단 알고리즘",
                "tags": ["grid"], "visibility": "confidential"}, key=key)
            self.assertEqual(status, 201, demand)
            wait_for(lambda: demand["id"] in ids(search(c, q="스마트그리드")), 5, "the teaser to be searchable")
            self.assertNotIn(demand["id"], ids(search(c, q="secretword")))
            self.assertIn(demand["id"], ids(search(c, key=key, q="secretword")))
            self.assertIn(demand["id"], ids(search(c, key=AGENCY_KEY, q="secretword")))
            # members-only: invisible to anonymous viewers, in full for any signed-in org
            status, members, _ = c.http("POST", "/v1/demands", {
                "title": "membersonly 수소연료전지", "description": "membersbody 스택 내구성",
                "visibility": "members"}, key=key)
            self.assertEqual(status, 201, members)
            wait_for(lambda: members["id"] in ids(search(c, key=robot["api_key"], q="membersbody")), 5,
                     "a signed-in org to find a members-only demand")
            self.assertEqual(search(c, q="membersonly")["total"], 0)
            anon_demands = search(c, q="", type="demand")
            self.assertNotIn(members["id"], ids(anon_demands))
            # live: a new document is searchable within 100 ms of the write's reply (p99 target)
            latencies = []
            for i in range(20):
                name = f"liveprobe{i}x"
                t0 = time.monotonic()
                org = create_org(c, kind="startup", name=name)
                wait_for(lambda: org["id"] in ids(search(c, q=name)), 5, "live update", interval=0.002)
                latencies.append(time.monotonic() - t0)
            latencies.sort()
            self.assertLess(latencies[-1], 1.0, latencies)
            # suggestions
            status, body, _ = c.http("GET", "/v1/suggest?q=" + quote("에코"))
            self.assertEqual(status, 200)
            self.assertIn("에코배터리", [s["text"] for s in body["suggestions"]])

    def test_replica_killed_and_restart_catches_up(self):
        with Cluster() as c:
            c.start_all()
            c.start("search")
            c.wait_registered({"search": 2})
            first = create_org(c, kind="startup", name="AlphaSensor", tags=["lidar"])
            wait_for(lambda: first["id"] in ids(search(c, q="lidar")), 5, "indexed")
            c.kill("search", index=0)
            for _ in range(30):         # keeps answering on the other replica
                search(c, q="lidar")
            c.kill("search", index=1)
            second = create_org(c, kind="startup", name="BetaSensor", tags=["lidar"])
            c.restart("search", index=1)
            wait_for(lambda: set(ids(search(c, q="lidar"))) == {first["id"], second["id"]}, 10,
                     "the restarted replica to catch up")

    def test_frozen_replica_reads_resent_to_another(self):
        # A replica that stops answering (SIGSTOP: alive, silent) holds the GETs routed to it
        # until the broker finds it dead; the broker then sends them to the other replica
        # (idempotent: reads) instead of failing them with 503.
        with Cluster() as c:
            c.start_all(services=("registry", "search"))
            c.start("search", OIM_SEARCH_THREADS=1)
            c.wait_registered({"search": 2})
            first = create_org(c, kind="startup", name="GammaSensor", tags=["lidar"])
            wait_for(lambda: all(first["id"] in ids(search(c, q="lidar")) for _ in range(6)), 5,
                     "indexed by both replicas")
            frozen = c.daemons["search"][1]
            os.kill(frozen.proc.pid, signal.SIGSTOP)
            try:
                statuses = [c.http("GET", "/v1/search?q=lidar")[0] for _ in range(6)]
            finally:
                os.kill(frozen.proc.pid, signal.SIGCONT)
            self.assertEqual(statuses, [200] * 6)
            with open(c.gateway.log_path) as f:
                self.assertIn("event=request_resent", f.read())

    def test_bad_parameters(self):
        with Cluster() as c:
            c.start_all()
            for path, field in [("/v1/search?limit=0", "limit"), ("/v1/search?limit=abc", "limit"),
                                ("/v1/search?type=robot", "type"), ("/v1/search?cursor=zzz&q=a", "cursor"),
                                ("/v1/suggest", "q"), ("/v1/search?facets=colour", "facets")]:
                status, body, _ = c.http("GET", path)
                self.assertEqual(status, 400, path)
                self.assertEqual(body["error"]["field"], field, path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
