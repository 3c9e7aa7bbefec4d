"""The matcher's text factor on its own small data (issue 15 items 2, 5, 6): real Redis, gateway
and oim-matcher, entities fed as the registry writes them (test_matcher.Feed).

* generic words alone make no match, in English and in Korean (common/oim_evidence's lists);
* a phrase ("adaptive optics", "배터리 재활용") outranks the same words apart;
* explanation terms are never numbers, single characters, stop or generic words;
* every match carries a `strength`; a demand's list is not hidden by the minimum score;
* a confidential demand's match still shows only its teaser to a startup not connected;
* through the glossary (common/oim_glossary), a Korean demand finds an English profile and an
  English demand a Korean one, and the explanation names the translated term.
The corpus is 40 startups: "carried by few startups" says nothing here, the lists must.
"""
import os
import re
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from oimtest import Cluster, proto_modules, wait_for  # noqa: E402
from test_matcher import Feed, start_matcher_cluster  # noqa: E402

COMPANY_KEY, STARTUP_KEY = "k-company", "k-startup"
GENERIC = {"innovative", "innovation", "platform", "development", "develop", "solution",
           "solutions", "service", "services", "system", "technology", "the", "and", "for",
           "기반", "솔루션", "플랫폼", "서비스", "개발", "스타트업", "기업", "제공", "기술"}
SECRET = "zephyrium"

# 40 startups: the ones the checks rank, then fillers that speak the generic language a lot
STARTUPS = {
    "org_phrase": "Adaptive optics telescope mirror control.",
    "org_apart": "Optics telescope mirror adaptive control.",
    "org_ko_phrase": "배터리 재활용 소재 공장",
    "org_ko_apart": "배터리 소재 공장 재활용",
    "org_secret": f"We refine {SECRET} crystals for lasers.",
    "org_en_av": "Lidar perception software for autonomous driving trucks.",
    "org_ko_av": "자율주행 라이다 센서 제조",
}
FILLERS_EN = ["Innovative platform for development solutions and services.",
              "A technology solution platform: innovative services for development.",
              "We develop innovative systems, platforms and solutions in 2014."]
FILLERS_KO = ["기반 솔루션 플랫폼 서비스 개발 기업입니다.",
              "스타트업을 위한 플랫폼 기반 서비스 솔루션을 제공합니다.",
              "기술 기반 개발 솔루션 서비스 플랫폼"]


def corpus(f):
    f.org("org_co", kind="company", name="Co")
    for oid, text in STARTUPS.items():
        f.org(oid, name=oid, description=text)
    fillers = FILLERS_EN + FILLERS_KO
    for i in range(40 - len(STARTUPS)):
        f.org(f"org_f{i:02d}", name=f"F{i}", description=fillers[i % len(fillers)]
              + f" Our focus: {['farming', 'bakery', 'fashion', 'music', 'travel'][i % 5]}.")


def detail_terms(detail):
    """The terms a text detail names: after the label, before " (demand text ...)"."""
    body = detail.split(": ", 1)[1] if ": " in detail else ""
    body = body.split(" (", 1)[0]
    return [w for item in body.split(", ") for w in item.split() if w]


class MatchTextTest(unittest.TestCase):
    def test_text_factor(self):
        with Cluster() as c, tempfile.TemporaryDirectory() as tmp:
            pb = proto_modules(tmp)
            start_matcher_cluster(c)
            f = Feed(c, pb)
            f.key(COMPANY_KEY, "org_co", pb["common"].ROLE_COMPANY)
            f.key(STARTUP_KEY, "org_secret", pb["common"].ROLE_STARTUP)
            corpus(f)
            demands = {
                "dem_generic_en": "innovative platform development solution",
                "dem_generic_ko": "AI 기반 솔루션 플랫폼 서비스 개발",
                "dem_optics": "adaptive optics",
                "dem_battery": "배터리 재활용",
                "dem_noise": "The 2014 x innovative platform for adaptive optics and 배터리 재활용",
                "dem_ko_av": "자율주행 인지 기술",
                "dem_en_av": "autonomous driving perception",
            }
            for did, title in demands.items():
                f.demand(did, "org_co", title=title, description=title + " needed.")
            f.demand("dem_last", "org_co", title="adaptive mirror", description="")
            wait_for(f.settled, 10, "matcher settled")

            def matches(did, key=COMPANY_KEY):
                status, body, _ = c.http("GET", f"/v1/demands/{did}/matches", key=key)
                self.assertEqual(status, 200, body)
                return body["items"]

            wait_for(lambda: matches("dem_last"), 10, "dem_last matched")
            if os.environ.get("VERBOSE"):
                for did in demands:
                    for m in matches(did):
                        print(did, m["startup_id"], m["score"], m["strength"],
                              m["explanation"][0]["detail"])
            # generic words alone make no match
            self.assertEqual(matches("dem_generic_en"), [])
            self.assertEqual(matches("dem_generic_ko"), [])
            # a phrase outranks the same words apart (same words, same length)
            for did, phrase, apart in (("dem_optics", "org_phrase", "org_apart"),
                                       ("dem_battery", "org_ko_phrase", "org_ko_apart")):
                items = matches(did)
                ids = [m["startup_id"] for m in items]
                self.assertIn(phrase, ids, did)
                self.assertIn(apart, ids, did)
                self.assertLess(ids.index(phrase), ids.index(apart), did)
                by = {m["startup_id"]: m for m in items}
                self.assertGreater(by[phrase]["score"], by[apart]["score"], did)
                self.assertTrue(set(ids) <= {phrase, apart}, ids)   # fillers share nothing
            top = matches("dem_optics")[0]["explanation"][0]["detail"]
            self.assertIn("adaptive optics", top)
            self.assertIn("given", top)
            self.assertIn("배터리 재활용", matches("dem_battery")[0]["explanation"][0]["detail"])
            # explanation terms: no digits, single characters, stop or generic words
            items = matches("dem_noise")
            self.assertTrue(items)
            for m in items:
                for term in detail_terms(m["explanation"][0]["detail"]):
                    self.assertFalse(re.search(r"\d", term), term)
                    self.assertGreater(len(term), 1, term)
                    self.assertNotIn(term, GENERIC, term)
            # across languages through the glossary: both profiles, the translation named
            for did in ("dem_ko_av", "dem_en_av"):
                by = {m["startup_id"]: m for m in matches(did)}
                self.assertTrue({"org_en_av", "org_ko_av"} <= set(by), (did, list(by)))
            ko = {m["startup_id"]: m for m in matches("dem_ko_av")}
            self.assertIn("autonomous driving", ko["org_en_av"]["explanation"][0]["detail"])
            en = {m["startup_id"]: m for m in matches("dem_en_av")}
            self.assertIn("자율주행", en["org_ko_av"]["explanation"][0]["detail"])
            # strength on every match; a weak match is listed, not hidden
            for did in ("dem_optics", "dem_battery", "dem_noise", "dem_last"):
                for m in matches(did):
                    self.assertIn(m["strength"], ("strong", "good", "weak"), m)
                    want = ("strong" if m["score"] >= 0.5 else "good" if m["score"] >= 0.25
                            else "weak")
                    self.assertEqual(m["strength"], want, m)

            # a confidential demand: the startup not connected sees its teaser only
            d = pb["registry"].Demand(
                id="dem_conf", org_id="org_co", status="open", visibility="confidential",
                title="Laser crystals", description=f"We need {SECRET} refining at scale.",
                industries=["C26"], regions=["KR-11"], version=1, created_at="2026-01-01T00:00:00.000Z",
                updated_at="2026-01-01T00:00:00.000Z")
            f._write("demand", "dem_conf", "oim:demand:dem_conf", "oim:demands", d,
                     "demand.update")
            owner = wait_for(lambda: [m for m in matches("dem_conf")
                                      if m["startup_id"] == "org_secret"], 10, "dem_conf")
            self.assertIn(SECRET, owner[0]["explanation"][0]["detail"])
            status, body, _ = c.http("GET", "/v1/orgs/org_secret/matches", key=STARTUP_KEY)
            self.assertEqual(status, 200, body)
            seen = [m for m in body["items"] if m["demand_id"] == "dem_conf"]
            self.assertEqual(len(seen), 1, body)
            self.assertNotIn("company_id", seen[0])
            self.assertNotIn(SECRET, str(seen[0]))
            self.assertIn(seen[0]["strength"], ("strong", "good", "weak"))
            for x in seen[0]["explanation"][2:]:
                self.assertIn("confidential", x["detail"])
            f.close()


if __name__ == "__main__":
    unittest.main()
