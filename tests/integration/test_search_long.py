"""Search with a long query (issue 15 item 7): a pasted demand as q (32 words or more) or
like=<demand id> ranks by BM25F over the text's evidence terms (no numbers, one-letter or
generic words), each weighted 1 + ln (its count); like= uses only the text the caller may read;
short queries keep all-words-first. Own small data."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import AGENCY_KEY, Cluster, wait_for  # noqa: E402
from urllib.parse import quote  # noqa: E402

# A pasted demand: its subject (adaptive optics, wavefront, laser) said a few times inside much
# solicitation boilerplate and generic words, some of them repeated many times, plus numbers.
PASTED = (
    "Adaptive optics for laser wavefront correction. The innovative system platform shall "
    "provide a technology solution: the system development effort will develop an innovative "
    "system, a platform system and a technology system, with system performance, system "
    "capability and system integration in Phase 1 and Phase 2 of the 2026 program. "
    "Proposed solutions should demonstrate development of the platform and of technology "
    "that support the system, and commercial system development for 3 markets. "
    "Offerors will demonstrate a wavefront sensor for the laser beam.")

GENERIC = ("Innovative system platform: we develop a technology system, platform solutions and "
           "system development services; our system capability and system performance lead the "
           "market in 2026, program phase 1 and 2.")
OPTICS = "Adaptive optics system and wavefront sensing that correct high-power laser beams."
OTHER = "Organic fertiliser from food waste for urban farms."


def create(c, path, fields, key=AGENCY_KEY):
    status, body, _ = c.http("POST", path, fields, key=key)
    assert status == 201, (status, body)
    return body


def get(c, key=None, **params):
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    return c.http("GET", f"/v1/search?{query}", key=key)


def ids(c, key=None, **params):
    status, body, _ = get(c, key, **params)
    assert status == 200, (status, body)
    return [h["id"] for h in body["hits"]]


class SearchLongTest(unittest.TestCase):
    def test_long_query_like_and_short_queries(self):
        with Cluster() as c:
            c.start_all(services=("registry", "search"))
            generic = create(c, "/v1/orgs", {"kind": "startup", "name": "SysPlat",
                                             "description": GENERIC})
            optics = create(c, "/v1/orgs", {"kind": "startup", "name": "Beamfix",
                                            "description": OPTICS})
            other = create(c, "/v1/orgs", {"kind": "startup", "name": "Compostly",
                                           "description": OTHER})
            owner = create(c, "/v1/orgs", {"kind": "company", "name": "Lasers Inc"})
            outsider = create(c, "/v1/orgs", {"kind": "company", "name": "Elsewhere Ltd"})
            public = create(c, "/v1/demands", {"title": "Wavefront correction",
                                               "description": PASTED}, owner["api_key"])
            secret = create(c, "/v1/demands", {
                "title": "Soil programme", "description": "secretword compost fertiliser food waste",
                "visibility": "confidential"}, owner["api_key"])
            members = create(c, "/v1/demands", {"title": "Members programme",
                                                "description": "adaptive optics",
                                                "visibility": "members"}, owner["api_key"])
            wait_for(lambda: members["id"] in ids(c, owner["api_key"], q="members programme"),
                     10, "everything indexed")

            # 1. The pasted demand (60+ words) ranks the optics profile first. Under the old
            # plan (every word, weighted by its raw count: "system" 12 times) the generic
            # profile came first; now numbers and generic words are no evidence at all.
            self.assertGreaterEqual(len(PASTED.split()), 32)
            hits = ids(c, q=PASTED, type="startup")
            self.assertEqual(hits[0], optics["id"], hits)
            self.assertNotIn(other["id"], hits)
            # generic words and numbers alone, however many: no match
            boiler = " ".join(["innovative system platform technology solution development",
                               "2026 phase 1"] * 6)
            self.assertEqual(ids(c, q=boiler, type="startup"), [])

            # 2. like=<demand id>: the demand's text as the query; the demand itself is no hit
            self.assertNotIn(public["id"], ids(c, owner["api_key"], like=public["id"]))
            hits = ids(c, owner["api_key"], like=public["id"], type="startup")
            self.assertEqual(hits[0], optics["id"], hits)
            self.assertEqual(ids(c, like=public["id"], type="startup")[0], optics["id"])
            # confidential: its description is used for the owner and the agency only
            self.assertEqual(ids(c, owner["api_key"], like=secret["id"], type="startup"),
                             [other["id"]])
            self.assertEqual(ids(c, AGENCY_KEY, like=secret["id"], type="startup"),
                             [other["id"]])
            self.assertEqual(ids(c, outsider["api_key"], like=secret["id"], type="startup"), [])
            self.assertEqual(ids(c, like=secret["id"], type="startup"), [])
            # members-only: unreadable (404) for an anonymous caller, found for a member
            self.assertEqual(get(c, like=members["id"])[0], 404)
            self.assertEqual(ids(c, outsider["api_key"], like=members["id"], type="startup"),
                             [optics["id"]])
            # unknown id, empty like, q and like together
            status, body, _ = get(c, like="no-such-demand")
            self.assertEqual((status, body["error"]["field"]), (404, "like"))
            for params in ({"like": ""}, {"like": public["id"], "q": "laser"}):
                status, body, _ = get(c, **params)
                self.assertEqual((status, body["error"]["field"]), (400, "like"), params)

            # 3. Short queries keep all-words-first (a doc with every word first, even when
            # another has one of them many times) and generic words still match there.
            self.assertEqual(ids(c, q="laser wavefront", type="startup"), [optics["id"]])
            self.assertEqual(ids(c, q="system", type="startup"), [generic["id"], optics["id"]])
            self.assertEqual(ids(c, q="system laser", type="startup"),
                             [optics["id"], generic["id"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
