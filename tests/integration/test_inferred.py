"""Inferred tags and industries (issue 15 item 3) over real processes (redis-server,
oim-gateway, oim-registry), on its own small data: demands and profiles that come without
tags or industries get key phrases and KSIC divisions derived from their text, marked as
inferred (tags_given / industries_given false); generic words and numbers never become tags;
an owner's correction sets the field as given and is never overwritten by inference; events
without tags are inferred too and keep a correction; a confidential demand's inferred tags
never reach a reader who sees only its teaser; clients cannot write the inferred fields."""
import re
import unittest

from test_registry_util import AGENCY, RegistryCase, RegistryCluster, business_number

GENERIC = {"기반", "솔루션", "플랫폼", "서비스", "기업", "스타트업", "개발", "제공", "기술", "시스템",
           "platform", "solution", "solutions", "develop", "development", "system", "systems",
           "service", "services", "startup", "startups", "technology", "looking", "company"}

EN_TITLE = "Adaptive optics for satellite imaging"
EN_DESCRIPTION = ("We are looking for a startup with adaptive optics and wavefront sensing to "
                  "improve satellite imaging from low earth orbit. The solution platform should "
                  "be developed in 2025 and tested on 3 satellites.")
KO_TITLE = "전기차 배터리 재활용 기술을 가진 스타트업을 찾습니다"
KO_DESCRIPTION = "폐배터리 재활용 솔루션 플랫폼 기반 서비스를 제공하는 기업을 찾습니다. 2025년 실증 예정."


class Inferred(RegistryCase):
    @classmethod
    def bring_up(cls):
        super().bring_up()
        cls.bn = business_number()
        cls.company, cls.ckey = cls.c.org("company", business_number=cls.bn)
        cls.pub = cls.c.publisher("infer-oi")

    def http(self, *args, **kw):
        status, body, _ = self.c.http(*args, **kw)
        return status, body

    def assertClean(self, tags):
        """No generic word, no number, no one-character term among the inferred tags."""
        for tag in tags:
            for word in tag.split():
                self.assertNotIn(word, GENERIC, tags)
                self.assertIsNone(re.search(r"\d", word), tags)
                self.assertGreater(len(word), 1, tags)

    def assertInferred(self, entity, phrase, division):
        self.assertEqual((entity["tags"], entity["tags_given"]), ([], False), entity)
        self.assertEqual((entity["industries"], entity["industries_given"]), ([], False), entity)
        self.assertIn(phrase, entity["inferred_tags"], entity)
        self.assertLessEqual(len(entity["inferred_tags"]), 8)
        self.assertClean(entity["inferred_tags"])
        self.assertIn(division, entity["inferred_industries"], entity)
        self.assertLessEqual(len(entity["inferred_industries"]), 2)

    def test_english_and_korean_demands(self):
        en = self.c.demand(self.ckey, title=EN_TITLE, description=EN_DESCRIPTION)
        self.assertInferred(en, "adaptive optics", "C27")
        self.assertIn("satellite imaging", en["inferred_tags"])
        ko = self.c.demand(self.ckey, title=KO_TITLE, description=KO_DESCRIPTION)
        self.assertInferred(ko, "배터리 재활용", "E38")
        for word in ("찾습니다", "가진", "2025년"):
            self.assertNotIn(word, ko["inferred_tags"])
        # Stored as returned; generic words alone infer nothing.
        status, again = self.http("GET", f"/v1/demands/{ko['id']}", key=self.ckey)
        self.assertEqual((status, again["inferred_tags"]), (200, ko["inferred_tags"]))
        empty = self.c.demand(self.ckey, title="기반 솔루션 플랫폼 서비스", description="platform solution 2024")
        self.assertEqual((empty["inferred_tags"], empty["inferred_industries"]), ([], []))

    def test_given_fields_are_not_inferred(self):
        d = self.c.demand(self.ckey, title=EN_TITLE, description=EN_DESCRIPTION, tags=["Optics"],
                          industries=[])
        self.assertEqual((d["tags"], d["tags_given"], d["inferred_tags"]), (["optics"], True, []))
        self.assertEqual((d["industries_given"], d["inferred_industries"]), (True, []))

    def test_owner_correction_sticks(self):
        d = self.c.demand(self.ckey, title=KO_TITLE, description=KO_DESCRIPTION)
        self.assertTrue(d["inferred_tags"])
        path = f"/v1/demands/{d['id']}"
        status, fixed = self.http("PATCH", path, {"tags": ["폐배터리"]}, key=self.ckey)
        self.assertEqual(status, 200, fixed)
        self.assertEqual((fixed["tags"], fixed["tags_given"], fixed["inferred_tags"]),
                         (["폐배터리"], True, []))
        self.assertTrue(fixed["inferred_industries"])          # industries still inferred
        status, later = self.http("PATCH", path, {"description": "리튬 이온 배터리 셀 분해 자동화 "
                                                  "로봇 공정"}, key=self.ckey)
        self.assertEqual(status, 200, later)
        self.assertEqual((later["tags"], later["tags_given"], later["inferred_tags"]),
                         (["폐배터리"], True, []))
        # An empty list is a correction too ("no tags"); the profile of an org works alike.
        status, none = self.http("PATCH", path, {"tags": [], "industries": ["C28"]}, key=self.ckey)
        self.assertEqual((none["tags"], none["tags_given"], none["inferred_tags"]), ([], True, []))
        self.assertEqual((none["industries_given"], none["inferred_industries"]), (True, []))
        status, none = self.http("PATCH", path, {"title": "배터리 재활용 공정 자동화"}, key=self.ckey)
        self.assertEqual((none["inferred_tags"], none["inferred_industries"]), ([], []))

    def test_org_profile(self):
        org, key = self.c.org("startup", description="We build adaptive optics and wavefront "
                              "sensing modules for satellite imaging. Adaptive optics is our core.")
        self.assertInferred(org, "adaptive optics", "C27")
        status, fixed = self.http("PATCH", f"/v1/orgs/{org['id']}", {"tags": ["optics"]}, key=key)
        self.assertEqual((status, fixed["tags_given"], fixed["inferred_tags"]), (200, True, []))
        status, later = self.http("PATCH", f"/v1/orgs/{org['id']}",
                                  {"description": "Recycling of waste batteries"}, key=key)
        self.assertEqual((later["tags"], later["inferred_tags"]), (["optics"], []))
        self.assertIn("E38", later["inferred_industries"])

    def test_events(self):
        def event(ext, seq, **demand):
            return {"external_id": ext, "sequence": seq, "op": "upsert", "org_ref": self.bn,
                    "demand": demand}
        status, body, _ = self.c.http("POST", "/v1/events/demands", [
            event("inf-1", 1, title=KO_TITLE, description=KO_DESCRIPTION),
            event("inf-2", 1, title=EN_TITLE, inferred_tags=["mine"])], key=self.pub["api_key"])
        self.assertEqual(status, 200, body)
        first, refused = body["results"]
        self.assertEqual(first["status"], "created", first)
        self.assertEqual((refused["status"], refused["field"]), ("invalid", "demand.inferred_tags"))
        path = f"/v1/demands/{first['demand_id']}"
        d = self.http("GET", path, key=self.ckey)[1]
        self.assertInferred(d, "배터리 재활용", "E38")
        # The owner corrects the tags; the publisher's next upsert without tags keeps them.
        status, fixed = self.http("PATCH", path, {"tags": ["폐배터리"]}, key=self.ckey)
        self.assertEqual(status, 200, fixed)
        status, body, _ = self.c.http("POST", "/v1/events/demands", [
            event("inf-1", 2, title=KO_TITLE, description=KO_DESCRIPTION + " 추가 설명")],
            key=self.pub["api_key"])
        self.assertEqual(body["results"][0]["status"], "updated", body)
        d = self.http("GET", path, key=self.ckey)[1]
        self.assertEqual((d["tags"], d["tags_given"], d["inferred_tags"]), (["폐배터리"], True, []))
        self.assertFalse(d["industries_given"])
        self.assertIn("E38", d["inferred_industries"])

    def test_zmq_events(self):
        from publisher import Publisher
        endpoint = f"tcp://127.0.0.1:{self.c.ports['ingest_port']}"
        p = Publisher(endpoint, self.pub["api_key"], self.c.pb, curve=self.pub.get("curve"))
        try:
            batch = p.batch("inf-z", [
                {"external_id": "inf-z1", "sequence": 1, "op": "upsert", "org_ref": self.bn,
                 "demand": {"title": EN_TITLE, "description": EN_DESCRIPTION}},
                {"external_id": "inf-z2", "sequence": 1, "op": "upsert", "org_ref": self.bn,
                 "demand": {"title": EN_TITLE, "tags_given": True}}])
            ack = p.publish([batch])["inf-z"]
        finally:
            p.close()
        self.assertEqual([r.status for r in ack.results], ["created", "created"])
        inferred = self.http("GET", f"/v1/demands/{ack.results[0].demand_id}", key=self.ckey)[1]
        self.assertInferred(inferred, "adaptive optics", "C27")
        none = self.http("GET", f"/v1/demands/{ack.results[1].demand_id}", key=self.ckey)[1]
        self.assertEqual((none["tags"], none["tags_given"], none["inferred_tags"]), ([], True, []))
        self.assertFalse(none["industries_given"])

    def test_confidential_inferred_tags_stay_hidden(self):
        conf = self.c.demand(self.ckey, title="Confidential sourcing request",
                             description="Adaptive optics and wavefront sensing for our "
                             "classified satellite imaging payload.", visibility="confidential")
        self.assertIn("adaptive optics", conf["inferred_tags"])
        startup, skey = self.c.org("startup")
        status, teaser = self.http("GET", f"/v1/demands/{conf['id']}", key=skey)
        self.assertEqual((status, teaser.get("teaser")), (200, True), teaser)
        self.assertNotIn("inferred_tags", teaser)
        self.assertNotIn("inferred_industries", teaser)
        self.assertNotIn("optics", str(teaser))
        listed = self.http("GET", f"/v1/demands?org_id={self.company['id']}&limit=100",
                           key=skey)[1]["items"]
        mine = [item for item in listed if item["id"] == conf["id"]]
        self.assertEqual(len(mine), 1)
        self.assertNotIn("optics", str(mine[0]))
        status, full = self.http("GET", f"/v1/demands/{conf['id']}", key=AGENCY)
        self.assertIn("adaptive optics", full["inferred_tags"])

    def test_clients_cannot_write_inferred_fields(self):
        d = self.c.demand(self.ckey, title=EN_TITLE)
        before = self.c.changelog_len()
        for field, value in (("inferred_tags", ["x"]), ("inferred_industries", ["C27"]),
                             ("tags_given", True), ("industries_given", False)):
            with self.subTest(field=field):
                status, body = self.http("POST", "/v1/demands", {"title": "t", field: value},
                                         key=self.ckey)
                self.assertEqual((status, body["error"]["field"]), (400, field), body)
                status, body = self.http("PATCH", f"/v1/demands/{d['id']}", {field: value},
                                         key=self.ckey)
                self.assertEqual((status, body["error"]["field"]), (400, field), body)
                status, body = self.http("POST", "/v1/orgs", {"kind": "startup", "name": "n",
                                                              field: value}, key=AGENCY)
                self.assertEqual((status, body["error"]["field"]), (400, field), body)
        self.assertEqual(self.c.changelog_len(), before)


if __name__ == "__main__":
    unittest.main()
