"""Matcher durability (issue 5): SIGKILL the matcher again and again while 1,000 demand events
stream in; after it restarts and catches up, the matches equal those of an undisturbed run of
the same events, and no event was written twice (same ids, same (type, recipient, pair))."""
import collections
import json
import os
import random
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oimtest import Cluster, proto_modules, wait_for  # noqa: E402
from test_matcher import Feed, start_matcher_cluster  # noqa: E402

WORDS = ("battery recycling lithium drone inspection lidar vision robot logistics sensor "
         "hydrogen fuel semiconductor wafer farm water filter medical imaging cloud security "
         "배터리 재활용 드론 물류 반도체 센서 의료 영상").split()
REGIONS = ["KR-11", "KR-41", "KR-26"]
STAGES = ["pre-seed", "seed", "series-a", "series-b"]
DEMANDS = 1000
STARTUPS = 150
ENV = {"OIM_MATCH_CLAIM_IDLE_MS": "300", "OIM_MATCH_TOP_K": "10"}


def startups(f):
    rnd = random.Random(7)
    f.org("org_co", kind="company", name="Co")
    for i in range(STARTUPS):
        f.org(f"org_s{i:03d}", name=" ".join(rnd.sample(WORDS, 2)),
              description=" ".join(rnd.sample(WORDS, 6)), tags=rnd.sample(WORDS, 2),
              region=rnd.choice(REGIONS), stage=rnd.choice(STAGES), industries=["C26"])


def demand_stream(f, start, end):
    rnd = random.Random(11)
    specs = [dict(title=" ".join(rnd.sample(WORDS, 3)), description=" ".join(rnd.sample(WORDS, 8)),
                  regions=rnd.sample(REGIONS, rnd.randint(0, 2)),
                  stages=rnd.sample(STAGES, rnd.randint(0, 2))) for _ in range(DEMANDS)]
    for i in range(start, end):
        f.demand(f"dem_{i:04d}", "org_co", **specs[i])


def outcome(f):
    matches = {}
    for i in range(DEMANDS):
        ids = f.r("HVALS", f"oim:demand:dem_{i:04d}:matches")
        for mid in ids:
            m = f.match(mid.decode())
            if m.state != "withdrawn":
                matches[(m.demand_id, m.startup_id)] = (round(m.score, 4), m.state)
    events = []
    for _, e in f.events():
        data = json.loads(e.data_json)
        events.append((e.id, e.type, e.org_id, data["demand_id"], data["startup_id"]))
    return matches, events


def run(kills):
    with Cluster() as c, tempfile.TemporaryDirectory() as tmp:
        pb = proto_modules(tmp)
        start_matcher_cluster(c, **ENV)
        f = Feed(c, pb)
        startups(f)
        wait_for(f.settled, 20, "startups handled")
        killed = 0
        if not kills:
            demand_stream(f, 0, DEMANDS)
        else:
            done = threading.Event()

            def writer():
                w = Feed(c, pb)
                demand_stream(w, 0, DEMANDS)
                w.close()
                done.set()

            t = threading.Thread(target=writer)
            t.start()
            rnd = random.Random(3)
            while not done.is_set() or killed < kills:
                time.sleep(rnd.uniform(0.02, 0.25))
                c.kill("matcher")                  # SIGKILL, at whatever instant this is
                killed += 1
                c.restart("matcher", **ENV)
                if killed >= kills and done.is_set():
                    break
            t.join()
        wait_for(f.settled, 120, "matcher caught up")
        result = outcome(f)
        f.close()
        return result, killed


class RecoveryTest(unittest.TestCase):
    def test_kill_9_during_1000_demand_events(self):
        (calm_matches, calm_events), _ = run(0)
        (hurt_matches, hurt_events), killed = run(5)
        self.assertGreaterEqual(killed, 5)
        self.assertGreater(len(calm_matches), DEMANDS)        # the data does produce matches
        self.assertEqual(hurt_matches, calm_matches)
        ids = [e[0] for e in hurt_events]
        self.assertEqual(len(ids), len(set(ids)), "an event id was written twice")
        facts = collections.Counter(e[1:] for e in hurt_events)
        self.assertEqual([f for f, n in facts.items() if n > 1], [], "an event was repeated")
        self.assertEqual(facts, collections.Counter(e[1:] for e in calm_events))
        print(f"\n{len(calm_matches)} matches, {len(calm_events)} events, "
              f"{killed} SIGKILLs: identical", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
