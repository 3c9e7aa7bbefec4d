"""Relationships (issue 17 items 1 and 3): proposals, accept / decline, outcomes, the history
(outcome labels) and the relationship list, on real Redis, gateway and oim-matcher.

Entities reach the matcher as the registry writes them (test_matcher.Feed); requests go
through the gateway with real API keys.
"""
import importlib.util
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from oimtest import Cluster, proto_modules, wait_for  # noqa: E402
from test_matcher import Feed, start_matcher_cluster  # noqa: E402

CO, FIT, FAR, OTHER, AGENCY = "k-co", "k-fit", "k-far", "k-other", "k-agency"


def fit_weights():
    path = os.path.join(HERE, "..", "..", "deploy", "fit-weights.py")
    spec = importlib.util.spec_from_file_location("fit_weights", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class RelationshipTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.c = Cluster().__enter__()
        self.pb = proto_modules(self.tmp.name)
        start_matcher_cluster(self.c, OIM_MATCH_MIN_SCORE="0.3")
        self.c.start("registry")        # awards (registry_award.c) read the demands Feed writes
        self.c.start("notify")          # message.received reaches the inbox
        self.c.wait_registered({"matcher": 1, "registry": 1, "notify": 1})
        f = self.f = Feed(self.c, self.pb)
        role = self.pb["common"]
        f.key(CO, "org_co", role.ROLE_COMPANY)
        f.key(FIT, "org_fit", role.ROLE_STARTUP)
        f.key(FAR, "org_far", role.ROLE_STARTUP)
        f.key(OTHER, "org_other", role.ROLE_STARTUP)
        f.key(AGENCY, "", role.ROLE_AGENCY)
        f.org("org_co", kind="company", name="배터리 주식회사", email="bd@co.example")
        f.org("org_fit", name="ReCell", description="We recycle lithium-ion batteries.",
              tags=["battery", "recycling"], region="KR-11", stage="seed",
              email="hi@recell.example")
        f.org("org_far", name="Bakery", description="Artisan bread.", tags=["food"],
              email="hi@bakery.example")
        f.org("org_other", name="Other", description="Bread and cakes.", tags=["food"])
        f.demand("dem_0000000000000000DEM01", "org_co", title="EV battery recycling",
                 description="Recover lithium from used EV batteries.",
                 tags=["recycling", "battery"], regions=["KR-11"])
        f.demand("dem_0000000000000000DEM02", "org_co", status="closed", title="Closed battery demand",
                 tags=["battery"])
        conf = self.pb["registry"].Demand(
            id="dem_0000000000000000DEM03", org_id="org_co", status="open", visibility="confidential",
            title="Secret battery", description="hidden", tags=["battery"], version=1)
        f._write("demand", "dem_0000000000000000DEM03", "oim:demand:dem_0000000000000000DEM03", "oim:demands", conf,
                 "demand.update")

    def tearDown(self):
        self.f.close()
        self.c.__exit__(None, None, None)
        self.tmp.cleanup()

    def http(self, method, path, key, body=None, expect=None):
        status, got, _ = self.c.http(method, path, body=body, key=key)
        if expect is not None:
            self.assertEqual(status, expect, (method, path, got))
        return got

    def conflict(self, method, path, key, state, body=None):
        got = self.http(method, path, key, body, 409)
        self.assertEqual(got["error"]["state"], state, got)

    def history(self, rid):
        out = []
        for _, fields in self.f.r("XRANGE", f"oim:rel:{rid}:events", "-", "+"):
            d = {k.decode(): v.decode() for k, v in zip(fields[::2], fields[1::2])}
            out.append(d)
        return out

    def test_proposal_accept_outcomes(self):
        c = self.c

        def matches():
            return {m["startup_id"]: m for m in self.http("GET", "/v1/demands/dem_0000000000000000DEM01/matches",
                                                          CO, expect=200)["items"]}
        match = wait_for(lambda: matches().get("org_fit"), 5, "org_fit matched")
        self.assertNotIn("org_far", matches())

        # visibility: a closed or unknown demand is 404; only startups propose
        self.http("POST", "/v1/demands/dem_0000000000000000DEM02/proposals", FIT, {"message": "hi"}, 404)
        self.http("POST", "/v1/demands/dem_nope/proposals", FIT, {"message": "hi"}, 404)
        self.http("POST", "/v1/demands/dem_0000000000000000DEM01/proposals", CO, {"message": "hi"}, 403)
        self.http("POST", "/v1/demands/dem_0000000000000000DEM01/proposals", FIT, {"message": 5}, 400)

        # a proposal on a new pair creates the relationship (not a match)
        far = self.http("POST", "/v1/demands/dem_0000000000000000DEM01/proposals", FAR,
                        {"message": "빵으로 배터리를?"}, 201)
        self.assertEqual((far["state"], far["origin"], far["proposal_message"]),
                         ("proposed", "proposal", "빵으로 배터리를?"))
        self.assertNotIn("contacts", far)
        self.conflict("POST", "/v1/demands/dem_0000000000000000DEM01/proposals", FAR, "proposed", {"message": "again"})
        self.assertEqual(matches()["org_far"]["id"], far["id"])
        # a proposal on a matched pair joins the match's record
        fit = self.http("POST", "/v1/demands/dem_0000000000000000DEM01/proposals", FIT, {"message": "we fit"}, 200)
        self.assertEqual((fit["id"], fit["state"], fit["origin"]),
                         (match["id"], "proposed", "both"))
        self.assertEqual(len([m for m in matches().values() if m["startup_id"] == "org_fit"]), 1)
        self.assertNotIn("contacts", fit)
        # a confidential demand's teaser is public: a startup may propose to it
        self.http("POST", "/v1/demands/dem_0000000000000000DEM03/proposals", OTHER, {}, 201)

        rel = f"/v1/relationships/{fit['id']}"
        # forbidden: the startup accepts its own proposal, a stranger, match workflow, outcomes
        self.http("POST", rel + "/accept", FIT, None, 403)
        self.http("POST", rel + "/accept", OTHER, None, 404)
        self.conflict("POST", f"/v1/matches/{fit['id']}/interest", CO, "proposed")
        self.conflict("POST", rel + "/outcome", FIT, "proposed", {"state": "poc"})
        self.http("POST", rel + "/outcome", FIT, {"state": "connected"}, 400)

        # decline with a reason; then nothing but 409
        far_rel = f"/v1/relationships/{far['id']}"
        got = self.http("POST", far_rel + "/decline", CO, {"reason": "not a fit"}, 200)
        self.assertEqual((got["state"], got["reason"]), ("declined", "not a fit"))
        self.conflict("POST", far_rel + "/accept", CO, "declined")
        self.conflict("POST", "/v1/demands/dem_0000000000000000DEM01/proposals", FAR, "declined", {"message": "pls"})

        # accept: connected, contacts revealed to each side, the demand's connected set
        got = self.http("POST", rel + "/accept", CO, None, 200)
        self.assertEqual(got["state"], "connected")
        self.assertEqual(got["contacts"]["startup"]["email"], "hi@recell.example")
        mine = self.http("GET", "/v1/relationships?org_id=org_fit", FIT, expect=200)
        self.assertIsNone(mine["next_cursor"])
        self.assertEqual(mine["items"][0]["contacts"]["company"]["email"], "bd@co.example")
        self.assertEqual(self.f.r("SISMEMBER", "oim:demand:dem_0000000000000000DEM01:connected", "org_fit"), 1)
        self.conflict("POST", rel + "/accept", CO, "connected")
        self.conflict("POST", rel + "/decline", CO, "connected")

        # messages: only the two parties, connected or later; unread counts; notification
        self.conflict("POST", far_rel + "/messages", FAR, "declined", {"text": "hello?"})
        self.http("POST", rel + "/messages", OTHER, {"text": "hi"}, 404)
        self.http("POST", rel + "/messages", AGENCY, {"text": "hi"}, 404)
        self.http("GET", rel + "/messages", OTHER, expect=404)
        self.http("POST", rel + "/messages", FIT, {"text": ""}, 400)
        long_text = "안녕하세요, 배터리 재활용 PoC 일정을 논의하고 싶습니다. " * 5
        sent = self.http("POST", rel + "/messages", FIT, {"text": long_text}, 201)
        self.assertEqual(sent["text"], long_text)
        thread = self.http("GET", rel + "/messages", CO, expect=200)
        self.assertEqual(([i["text"] for i in thread["items"]], thread["unread"]), ([long_text], 1))
        self.assertEqual(thread["items"][0]["from_org_id"], "org_fit")
        self.assertEqual(self.http("GET", rel + "/messages", FIT, expect=200)["unread"], 0)
        self.http("POST", rel + "/messages", CO, {"text": "좋습니다"}, 201)
        self.assertEqual(self.http("POST", rel + "/read", CO, expect=200)["unread"], 0)
        self.assertEqual(self.http("GET", rel + "/messages", CO, expect=200)["unread"], 0)
        self.http("POST", rel + "/messages", FIT, {"text": "감사합니다"}, 201)
        self.assertEqual(self.http("GET", rel + "/messages", CO, expect=200)["unread"], 1)
        self.assertEqual(self.http("GET", rel + "/messages", FIT, expect=200)["unread"], 1)
        listed = self.http("GET", "/v1/relationships?demand_id=dem_0000000000000000DEM01", CO,
                           expect=200)["items"]
        self.assertEqual({i["startup_id"]: i.get("unread") for i in listed},
                         {"org_fit": 1, "org_far": None})       # a declined one has no thread
        got = [e for _, e in self.f.events() if e.type == "message.received"]
        self.assertEqual([e.org_id for e in got], ["org_co", "org_fit", "org_co"])
        data = json.loads(got[0].data_json)
        self.assertEqual((data["relationship_id"], data["from_org_id"]), (fit["id"], "org_fit"))
        self.assertLessEqual(len(data["preview"].encode()), 140)
        self.assertTrue(long_text.startswith(data["preview"]) and len(data["preview"]) > 40)

        def inbox(key):
            items = self.http("GET", "/v1/notifications", key, expect=200)["items"]
            return [i for i in items if i["type"] == "message.received"]
        got = wait_for(lambda: len(inbox(CO)) == 2 and inbox(CO), 10, "the company's inbox")
        self.assertEqual(len(inbox(FIT)), 1)

        # outcomes: connected -> poc -> contract -> ended, skips and repeats refused
        self.conflict("POST", rel + "/outcome", CO, "connected", {"state": "contract"})
        self.assertEqual(self.http("POST", rel + "/outcome", FIT, {"state": "poc"}, 200)["state"],
                         "poc")
        self.conflict("POST", rel + "/outcome", CO, "poc", {"state": "poc"})
        got = self.http("POST", rel + "/outcome", CO, {"state": "contract"}, 200)
        self.assertEqual(got["contacts"]["startup"]["email"], "hi@recell.example")
        self.http("POST", rel + "/outcome", AGENCY, {"state": "ended"}, 403)

        # award: owner or agency, each startup in contract
        award = "/v1/demands/dem_0000000000000000DEM01/award"
        got = self.http("POST", award, CO, {"startup_ids": ["org_far"]}, 409)
        self.assertEqual((got["error"]["code"], got["error"]["state"]), ("not_in_contract", "declined"))
        got = self.http("POST", award, CO, {"startup_ids": ["org_other"]}, 409)
        self.assertEqual(got["error"]["state"], "none")
        self.http("POST", award, FIT, {"startup_ids": ["org_fit"]}, 403)
        self.http("POST", award, CO, {"startup_ids": []}, 400)
        self.http("POST", award, CO, {"startup_ids": ["org_fit", "org_fit"]}, 400)
        got = self.http("POST", award, CO, {"startup_ids": ["org_fit"]}, 200)
        self.assertEqual((got["status"], got["awarded_to"]), ("awarded", ["org_fit"]))
        got = self.http("GET", "/v1/demands/dem_0000000000000000DEM01", FIT, expect=200)
        self.assertEqual(got["status"], "awarded")
        self.http("POST", award, CO, {"startup_ids": ["org_fit"]}, 409)    # already awarded
        self.http("PATCH", "/v1/demands/dem_0000000000000000DEM03", CO, {"awarded_to": ["org_fit"]}, 400)
        got = self.http("POST", rel + "/outcome", CO, {"state": "ended", "reason": "delivered"},
                        200)
        self.assertEqual((got["state"], got["end_reason"]), ("ended", "delivered"))
        self.conflict("POST", rel + "/outcome", FIT, "ended", {"state": "poc"})
        self.conflict("POST", rel + "/messages", FIT, "ended", {"text": "one more"})
        self.assertEqual(len(self.http("GET", rel + "/messages", FIT, expect=200)["items"]), 3)

        # the history: every transition with its time, actor and factor values
        hist = self.history(fit["id"])
        self.assertEqual([(h["state"], h["by"]) for h in hist],
                         [("proposed", "org_fit"), ("connected", "org_co"), ("poc", "org_fit"),
                          ("contract", "org_co"), ("ended", "org_co")])
        self.assertEqual(hist[-1]["reason"], "delivered")
        factors = json.loads(hist[2]["factors"])
        self.assertEqual(sorted(factors), ["industry", "region", "stage", "tags", "text"])
        self.assertGreater(factors["tags"], 0)
        ats = [int(h["at"]) for h in hist]
        self.assertEqual(ats, sorted(ats))
        self.assertIsNotNone(self.f.r("ZSCORE", "oim:rel:state:contract", fit["id"]))
        self.assertEqual([h["state"] for h in self.history(far["id"])], ["proposed", "declined"])

        # the lists: by demand (owner, agency; not a startup), default the caller's org
        items = self.http("GET", "/v1/relationships?demand_id=dem_0000000000000000DEM01", CO, expect=200)["items"]
        self.assertEqual({i["startup_id"]: i["state"] for i in items},
                         {"org_fit": "ended", "org_far": "declined"})
        self.http("GET", "/v1/relationships?demand_id=dem_0000000000000000DEM01", AGENCY, expect=200)
        self.http("GET", "/v1/relationships?demand_id=dem_0000000000000000DEM01", FIT, expect=403)
        self.assertEqual([i["demand_id"] for i in
                          self.http("GET", "/v1/relationships", OTHER, expect=200)["items"]],
                         ["dem_0000000000000000DEM03"])
        # events: the company hears of the proposals
        types = [(e.type, e.org_id) for _, e in self.f.events()]
        self.assertIn(("proposal.received", "org_co"), types)
        self.assertIn(("match.connected", "org_fit"), types)

        # a deleted demand withdraws its relationships, but not those that reached connected
        self.f.versions["dem_0000000000000000DEM01"] = 10     # past the registry's award
        self.f.demand("dem_0000000000000000DEM01", "org_co", title="EV battery recycling",
                      deleted=True)
        wait_for(self.f.settled, 5, "the matcher to handle the deletion")
        self.assertEqual((self.f.match(fit["id"]).state, self.f.match(far["id"]).state),
                         ("ended", "declined"))       # declined records are frozen

        # outcome labels: fit-weights counts poc and contract as positives
        self.assertTrue({"poc", "contract"} <= fit_weights().POSITIVE_STATES)


if __name__ == "__main__":
    unittest.main(verbosity=2)
