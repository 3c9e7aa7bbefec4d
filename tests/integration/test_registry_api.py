"""Registry API flows over real processes (redis-server, oim-gateway, oim-registry): every
registry endpoint, every SPEC §3 error the registry produces, bad input refused with nothing
stored, the change log written with every change, the closes_at sweep, key rotation,
visibility of confidential and members-only demands, and recovery when Redis comes back."""
import signal
import time
import unittest

from test_registry_util import AGENCY, RegistryCase, RegistryCluster, business_number, oimtest


class RegistryApi(RegistryCase):
    def http(self, *args, **kw):
        status, body, _ = self.c.http(*args, **kw)
        return status, body

    def assertError(self, result, status, field=None, code=None):
        got, body = result
        self.assertEqual(got, status, body)
        self.assertIn("error", body)
        self.assertIn("message", body["error"])
        if field is not None:
            self.assertEqual(body["error"].get("field"), field, body)
        if code is not None:
            self.assertEqual(body["error"]["code"], code, body)

    def refused(self, method, path, status, field=None, key=AGENCY, body=None, raw=None,
                headers=None):
        """Asserts an error reply and that the change log did not grow."""
        before = self.c.changelog_len()
        result = self.http(method, path, body, key=key, raw=raw, headers=headers)
        self.assertError(result, status, field)
        self.assertEqual(self.c.changelog_len(), before, "a refused request changed state")
        return result[1]

    # -- taxonomy ---------------------------------------------------------------------------
    def test_taxonomy(self):
        status, body = self.http("GET", "/v1/taxonomy")
        self.assertEqual(status, 200)
        sections = {s["code"]: s for s in body["sections"]}
        self.assertEqual(sorted(sections), [chr(c) for c in range(ord("A"), ord("U") + 1)])
        self.assertIn("J62", [d["code"] for d in sections["J"]["divisions"]])
        self.assertEqual(sections["C"]["name_ko"], "제조업")
        self.assertTrue(sections["C"]["name_en"].startswith("Manufacturing"))

    # -- organizations ----------------------------------------------------------------------
    def test_org_create_by_agency_and_self_registration(self):
        bn = business_number()
        org, key = self.c.org("startup", name="  로보틱스 스타트업 ", name_en="Robotics",
                              business_number=f"{bn[:3]}-{bn[3:5]}-{bn[5:]}",
                              tags=["  AI ", "ai", "Robotics", "로봇"], industries=["C", "J62"],
                              region="KR-41", stage="seed", email="a@b.kr", founded=2020)
        self.assertEqual(org["status"], "active")
        self.assertEqual(org["name"], "로보틱스 스타트업")
        self.assertEqual(org["tags"], ["ai", "robotics", "로봇"])
        self.assertEqual(org["business_number"], bn)
        self.assertEqual(org["version"], 1)
        self.assertTrue(org["id"].startswith("org_"))
        # The key works, and only its hash is stored.
        status, me = self.http("GET", f"/v1/orgs/{org['id']}", key=key)
        self.assertEqual((status, me["email"]), (200, "a@b.kr"))
        self.assertNotIn("api_key", me)
        self.assertFalse(self.c.rcmd("KEYS", f"*{key}*"))
        # Anonymous self-registration: pending, invisible to others until approved.
        status, pending, _ = self.c.http("POST", "/v1/orgs", {"kind": "company", "name": "Co"})
        self.assertEqual((status, pending["status"]), (201, "pending"))
        self.assertIn("api_key", pending)
        self.assertError(self.http("GET", f"/v1/orgs/{pending['id']}"), 404)
        self.assertEqual(self.http("GET", f"/v1/orgs/{pending['id']}", key=AGENCY)[0], 200)
        self.assertEqual(self.http("GET", f"/v1/orgs/{pending['id']}", key=pending["api_key"])[0], 200)
        # A pending company cannot post demands yet.
        self.assertError(self.http("POST", "/v1/demands", {"title": "x"}, key=pending["api_key"]),
                         403, code="org_not_active")
        self.refused("POST", "/v1/orgs", 403, key=None, body={"kind": "agency", "name": "Fake"},
                     field="kind")
        # Public view hides contacts.
        status, public = self.http("GET", f"/v1/orgs/{org['id']}")
        self.assertEqual(status, 200)
        for private in ("email", "phone", "business_number"):
            self.assertNotIn(private, public)

    def test_org_validation_errors(self):
        huge = "가" * 20001
        cases = [
            ({"kind": "company"}, 422, "name"),
            ({"kind": "company", "name": "   "}, 422, "name"),
            ({"kind": "bank", "name": "x"}, 422, "kind"),
            ({"kind": "company", "name": "x", "colour": "red"}, 400, "colour"),
            ({"kind": "company", "name": 42}, 400, "name"),
            ({"kind": "company", "name": "x", "tags": "ai"}, 400, "tags"),
            ({"kind": "company", "name": "x", "founded": "1999"}, 400, "founded"),
            ({"kind": "company", "name": "x", "id": "org_X"}, 400, "id"),
            ({"kind": "company", "name": "x", "status": "active"}, 400, "status"),
            ({"kind": "company", "name": "x", "version": 7}, 400, "version"),
            ({"kind": "company", "name": "x" * 201}, 422, "name"),
            ({"kind": "company", "name": "x", "description": huge}, 422, "description"),
            ({"kind": "company", "name": "x", "region": "KR-99"}, 422, "region"),
            ({"kind": "company", "name": "x", "region": "Seoul"}, 422, "region"),
            ({"kind": "company", "name": "x", "industries": ["C", "Z99"]}, 422, "industries[1]"),
            ({"kind": "company", "name": "x", "industries": ["J26"]}, 422, "industries[0]"),
            ({"kind": "company", "name": "x", "business_number": "1234567890"}, 422, "business_number"),
            ({"kind": "company", "name": "x", "stage": "seed"}, 422, "stage"),
            ({"kind": "startup", "name": "x", "stage": "series-z"}, 422, "stage"),
            ({"kind": "company", "name": "x", "tags": [f"t{i}" for i in range(51)]}, 422, "tags"),
            ({"kind": "company", "name": "x", "tags": ["x" * 51]}, 422, "tags[0]"),
            ({"kind": "company", "name": "x", "email": "not-an-email"}, 422, "email"),
            ({"kind": "company", "name": "x", "website": "ftp://x"}, 422, "website"),
            ({"kind": "company", "name": "x", "employees": -1}, 422, "employees"),
            ({"kind": "company", "name": "a\u0007b"}, 422, "name"),
        ]
        for body, status, field in cases:
            with self.subTest(body=str(body)[:80]):
                self.refused("POST", "/v1/orgs", status, field, body=body)
        # Not JSON objects, invalid UTF-8 inside a JSON string, too large.
        self.refused("POST", "/v1/orgs", 400, raw=b'["kind"]')
        self.refused("POST", "/v1/orgs", 400, raw=b'{"kind":"company","name":')
        self.refused("POST", "/v1/orgs", 400, raw=b'{"kind":"company","name":"\xff\xfe bad"}')
        self.refused("POST", "/v1/orgs", 400, raw=b'{"kind":"company","name":"\xed\xa0\x80"}')
        self.refused("POST", "/v1/orgs", 400, raw=b"")
        self.refused("POST", "/v1/orgs", 413, raw=b'{"kind":"company","name":"' + b"x" * (1 << 20) + b'"}')
        # Duplicate business number: 409.
        bn = business_number()
        self.c.org("company", business_number=bn)
        self.refused("POST", "/v1/orgs", 409, "business_number",
                     body={"kind": "company", "name": "Twin", "business_number": bn})

    def test_org_update_if_match(self):
        org, key = self.c.org("startup")
        path = f"/v1/orgs/{org['id']}"
        status, body, headers = self.c.http("PATCH", path, {"description": "v2"}, key=key,
                                            headers={"If-Match": '"1"'})
        self.assertEqual((status, body["version"], body["description"]), (200, 2, "v2"))
        self.assertEqual(headers.get("ETag"), '"2"')
        self.refused("PATCH", path, 409, key=key, body={"description": "v3"}, headers={"If-Match": "1"})
        self.refused("PATCH", path, 400, "If-Match", key=key, body={"description": "v3"},
                     headers={"If-Match": "abc"})
        # Without If-Match the update applies to the current version (documented choice).
        status, body = self.http("PATCH", path, {"tags": ["New Tag"]}, key=key)
        self.assertEqual((status, body["version"], body["tags"]), (200, 3, ["new tag"]))
        self.refused("PATCH", path, 400, "kind", key=key, body={"kind": "company"})
        self.refused("PATCH", path, 422, "region", key=key, body={"region": "XX"})
        self.refused("PATCH", path, 400, key=key, raw=b'{"name":"\xc3\x28"}')
        self.refused("PATCH", "/v1/orgs/org_00000000000000000000X", 404, key=AGENCY,
                     body={"name": "x"})
        # The change log has each version in order with the full state.
        entries = [e for e in self.c.changelog() if e.entity_id == org["id"]]
        self.assertEqual([e.org.version for e in entries], [1, 2, 3])
        self.assertEqual([e.action for e in entries], ["org.create", "org.update", "org.update"])
        self.assertEqual(entries[-1].org.tags, ["new tag"])

    def test_org_lifecycle_approve_suspend_delete(self):
        status, pending, _ = self.c.http("POST", "/v1/orgs", {"kind": "company", "name": "P"})
        path = f"/v1/orgs/{pending['id']}"
        status, body = self.http("POST", path + "/approve", key=AGENCY)
        self.assertEqual((status, body["status"]), (200, "active"))
        self.refused("POST", path + "/approve", 409, key=AGENCY)
        self.assertEqual(self.c.demand(pending["api_key"])["org_id"], pending["id"])
        status, body = self.http("POST", path + "/suspend", key=AGENCY)
        self.assertEqual((status, body["status"]), (200, "suspended"))
        self.refused("POST", path + "/suspend", 409, key=AGENCY)
        self.assertError(self.http("POST", "/v1/demands", {"title": "x"}, key=pending["api_key"]), 403)
        self.assertError(self.http("GET", path), 404)
        status, body = self.http("DELETE", path, key=AGENCY)
        self.assertEqual((status, body["deleted"]), (200, True))
        self.assertError(self.http("GET", path, key=AGENCY), 404)
        self.assertError(self.http("GET", path, key=pending["api_key"]), 401)   # key revoked
        self.refused("DELETE", path, 404, key=AGENCY)
        last = self.c.changelog()[-1]
        self.assertEqual((last.op, last.action, last.org.deleted),
                         (self.c.pb["changelog"].CHANGE_OP_DELETE, "org.delete", True))

    def test_named_keys(self):
        """Issue 16: a new key no longer revokes the old one; each is deleted on its own."""
        org, key = self.c.org("company")
        status, body = self.http("POST", f"/v1/orgs/{org['id']}/api-keys", {"name": "ci"}, key=key)
        self.assertEqual((status, body["name"]), (201, "ci"))
        new_key = body["api_key"]
        self.assertNotEqual(new_key, key)
        self.assertEqual(self.http("GET", f"/v1/orgs/{org['id']}", key=key)[0], 200)
        self.assertEqual(self.http("GET", f"/v1/orgs/{org['id']}", key=new_key)[0], 200)
        status, body = self.http("POST", f"/v1/orgs/{org['id']}/api-keys", key=AGENCY)
        self.assertEqual(status, 201)
        status, listed = self.http("GET", f"/v1/orgs/{org['id']}/api-keys", key=AGENCY)
        self.assertEqual(len(listed["items"]), 3)
        status, _ = self.http("DELETE", f"/v1/orgs/{org['id']}/api-keys/{body['id']}", key=new_key)
        self.assertEqual(status, 204)
        self.assertError(self.http("GET", f"/v1/orgs/{org['id']}", key=body["api_key"]), 401)
        self.assertEqual(self.http("GET", f"/v1/orgs/{org['id']}", key=new_key)[0], 200)

    # -- demands ----------------------------------------------------------------------------
    def test_demand_crud_and_errors(self):
        org, key = self.c.org("company")
        status, d, headers = self.c.http("POST", "/v1/demands", {
            "title": "스마트 팩토리 비전 검사", "description": "line\nbreaks ok",
            "tags": ["Vision", "vision", "AI"], "industries": ["C26"], "regions": ["KR-11"],
            "stages": ["seed"], "collaboration": ["poc"], "budget_krw": {"min": 1, "max": 5},
            "closes_at": "2031-01-01T09:00:00+09:00", "visibility": "public"}, key=key)
        self.assertEqual(status, 201, d)
        self.assertEqual((d["status"], d["version"], d["org_id"]), ("open", 1, org["id"]))
        self.assertEqual(d["tags"], ["vision", "ai"])
        self.assertEqual(d["closes_at"], "2031-01-01T00:00:00.000Z")
        self.assertEqual(headers["Location"], f"/v1/demands/{d['id']}")
        path = f"/v1/demands/{d['id']}"
        self.assertEqual(self.http("GET", path)[1]["title"], "스마트 팩토리 비전 검사")
        for body, status, field in [
                ({}, 422, "title"), ({"title": "x" * 201}, 422, "title"),
                ({"title": "x", "description": "y" * 20001}, 422, "description"),
                ({"title": "x", "visibility": "secret"}, 422, "visibility"),
                ({"title": "x", "collaboration": ["merger"]}, 422, "collaboration[0]"),
                ({"title": "x", "stages": ["late"]}, 422, "stages[0]"),
                ({"title": "x", "regions": ["KR-00"]}, 422, "regions[0]"),
                ({"title": "x", "budget_krw": {"min": 5, "max": 1}}, 422, "budget_krw"),
                ({"title": "x", "budget_krw": {"min": "5"}}, 400, "budget_krw.min"),
                ({"title": "x", "closes_at": "tomorrow"}, 422, "closes_at"),
                ({"title": "x", "closes_at": "2001-01-01T00:00:00Z"}, 422, "closes_at"),
                ({"title": "x", "status": "closed"}, 400, "status"),
                ({"title": "x", "org_id": "org_00000000000000000000X"}, 403, "org_id"),
                ({"title": "x", "extra": 1}, 400, "extra")]:
            with self.subTest(body=body):
                self.refused("POST", "/v1/demands", status, field, key=key, body=body)
        self.refused("POST", "/v1/demands", 400, key=key, raw=b'{"title":"\xf0\x28\x8c\x28"}')
        self.refused("POST", "/v1/demands", 422, "org_id", key=AGENCY, body={"title": "x"})
        # Update with If-Match, then close, then no more changes.
        status, d2 = self.http("PATCH", path, {"title": "v2"}, key=key, headers={"If-Match": "1"})
        self.assertEqual((status, d2["version"]), (200, 2))
        self.refused("PATCH", path, 409, key=key, body={"title": "v3"}, headers={"If-Match": "1"})
        self.refused("PATCH", path, 400, "org_id", key=key, body={"org_id": org["id"]})
        status, closed = self.http("POST", path + "/close", key=key)
        self.assertEqual((status, closed["status"], closed["version"]), (200, "closed", 3))
        self.refused("POST", path + "/close", 409, key=key)
        self.refused("PATCH", path, 409, key=key, body={"title": "v4"})
        self.refused("GET", "/v1/demands/dem_00000000000000000000X", 404)
        self.refused("GET", "/v1/demands/nonsense", 404)
        d3 = self.c.demand(key)
        status, awarded = self.http("POST", f"/v1/demands/{d3['id']}/close", {"status": "awarded"}, key=key)
        self.assertEqual((status, awarded["status"]), (200, "awarded"))
        d4 = self.c.demand(key)
        self.refused("POST", f"/v1/demands/{d4['id']}/close", 422, "status", key=key, body={"status": "open"})
        # Agency posts for a company.
        status, d5 = self.http("POST", "/v1/demands", {"title": "by agency", "org_id": org["id"]}, key=AGENCY)
        self.assertEqual((status, d5["org_id"]), (201, org["id"]))

    def test_demand_list_paging_and_filters(self):
        org, key = self.c.org("company")
        ids = [self.c.demand(key)["id"] for _ in range(5)]
        self.http("POST", f"/v1/demands/{ids[0]}/close", key=key)
        seen, cursor = [], None
        for _ in range(10):
            q = f"/v1/demands?org_id={org['id']}&limit=2" + (f"&cursor={cursor}" if cursor else "")
            status, page = self.http("GET", q)
            self.assertEqual(status, 200, page)
            self.assertLessEqual(len(page["items"]), 2)
            seen += [d["id"] for d in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        self.assertEqual(seen, list(reversed(ids)))         # newest first, each once
        status, page = self.http("GET", f"/v1/demands?org_id={org['id']}&status=closed")
        self.assertEqual([d["id"] for d in page["items"]], [ids[0]])
        self.refused("GET", "/v1/demands?limit=0", 400, "limit")
        self.refused("GET", "/v1/demands?limit=abc", 400, "limit")
        self.refused("GET", "/v1/demands?status=maybe", 400, "status")
        self.refused("GET", "/v1/demands?cursor=zzz", 400, "cursor")
        self.refused("GET", "/v1/demands?org_id=zzz", 400, "org_id")

    def test_visibility(self):
        owner, okey = self.c.org("company")
        other, xkey = self.c.org("company")
        startup, skey = self.c.org("startup")
        friend, fkey = self.c.org("startup")
        conf = self.c.demand(okey, visibility="confidential", description="secret plan",
                             tags=["Secret"])
        members = self.c.demand(okey, visibility="members", description="members only")
        self.c.rcmd("SADD", f"oim:demand:{conf['id']}:connected", friend["id"])
        teaser_keys = {"id", "title", "tags", "visibility", "status", "teaser"}
        for who, key in [("anonymous", None), ("other company", xkey), ("startup", skey)]:
            with self.subTest(who=who):
                status, body = self.http("GET", f"/v1/demands/{conf['id']}", key=key)
                self.assertEqual(status, 200)
                self.assertEqual(set(body), teaser_keys)
                self.assertEqual(body["tags"], ["secret"])
                listed = self.http("GET", f"/v1/demands?org_id={owner['id']}", key=key)[1]["items"]
                for item in listed:
                    self.assertNotIn("description", item) if item["id"] == conf["id"] else None
                    self.assertNotIn("secret plan", str(item))
        for who, key in [("owner", okey), ("agency", AGENCY), ("connected startup", fkey)]:
            with self.subTest(who=who):
                status, body = self.http("GET", f"/v1/demands/{conf['id']}", key=key)
                self.assertEqual((status, body.get("description")), (200, "secret plan"))
        # Lists apply the same rules (each confidential item checked for a connection).
        conf2 = self.c.demand(okey, visibility="confidential", description="second secret")
        listed = {d["id"]: d for d in
                  self.http("GET", f"/v1/demands?org_id={owner['id']}", key=fkey)[1]["items"]}
        self.assertEqual(listed[conf["id"]]["description"], "secret plan")
        self.assertTrue(listed[conf2["id"]]["teaser"])
        self.assertEqual(listed[members["id"]]["description"], "members only")
        self.assertError(self.http("GET", f"/v1/demands/{members['id']}"), 404)
        ids = [d["id"] for d in self.http("GET", f"/v1/demands?org_id={owner['id']}")[1]["items"]]
        self.assertNotIn(members["id"], ids)
        self.assertIn(conf["id"], ids)
        self.assertEqual(self.http("GET", f"/v1/demands/{members['id']}", key=skey)[1]["description"],
                         "members only")

    def test_closes_at_sweep(self):
        org, key = self.c.org("company")
        closes = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 2)) + "Z"
        d = self.c.demand(key, closes_at=closes)
        self.assertEqual(d["status"], "open")
        oimtest.wait_for(lambda: self.http("GET", f"/v1/demands/{d['id']}")[1]["status"] == "closed",
                         15, "the sweep to close the demand")
        last = [e for e in self.c.changelog() if e.entity_id == d["id"]][-1]
        self.assertEqual((last.action, last.demand.status), ("demand.expire", "closed"))

    # -- saved searches, audit, stats, publishers ------------------------------------------
    def test_saved_searches(self):
        org, key = self.c.org("startup")
        other, xkey = self.c.org("company")
        status, ss = self.http("POST", "/v1/saved-searches",
                               {"type": "demand", "q": "비전 AI", "tag": ["Vision"],
                                "region": ["KR-11"], "collaboration": ["poc"]}, key=key)
        self.assertEqual((status, ss["tag"], ss["org_id"]), (201, ["vision"], org["id"]))
        self.refused("POST", "/v1/saved-searches", 422, "type", key=key, body={"type": "x"})
        self.refused("POST", "/v1/saved-searches", 400, "org_id", key=key,
                     body={"type": "demand", "org_id": other["id"]})
        self.refused("POST", "/v1/saved-searches", 422, "industry[0]", key=key,
                     body={"type": "demand", "industry": ["Q99"]})
        status, page = self.http("GET", "/v1/saved-searches", key=key)
        self.assertEqual([s["id"] for s in page["items"]], [ss["id"]])
        self.assertEqual(self.http("GET", "/v1/saved-searches", key=xkey)[1]["items"], [])
        self.refused("GET", f"/v1/saved-searches?org_id={org['id']}", 403, "org_id", key=xkey)
        self.assertEqual(len(self.http("GET", f"/v1/saved-searches?org_id={org['id']}",
                                       key=AGENCY)[1]["items"]), 1)
        self.refused("DELETE", f"/v1/saved-searches/{ss['id']}", 404, key=xkey)
        self.assertEqual(self.http("DELETE", f"/v1/saved-searches/{ss['id']}", key=key)[0], 200)
        self.refused("DELETE", f"/v1/saved-searches/{ss['id']}", 404, key=key)
        entries = [e for e in self.c.changelog() if e.entity_id == ss["id"]]
        self.assertEqual([e.action for e in entries], ["saved_search.create", "saved_search.delete"])

    def test_audit_filters_and_paging(self):
        org, key = self.c.org("company")
        for i in range(3):
            self.http("PATCH", f"/v1/orgs/{org['id']}", {"description": f"v{i}"}, key=key)
        q = f"/v1/admin/audit?entity_id={org['id']}"
        status, page = self.http("GET", q, key=AGENCY)
        self.assertEqual(status, 200)
        self.assertEqual([e["action"] for e in page["items"]],
                         ["org.update"] * 3 + ["org.create"])
        self.assertEqual(page["items"][0]["actor_org_id"], org["id"])
        self.assertEqual(page["items"][0]["actor_role"], "company")
        seen, cursor = [], None
        while True:
            status, p = self.http("GET", q + "&limit=1" + (f"&cursor={cursor}" if cursor else ""),
                                  key=AGENCY)
            seen += [e["id"] for e in p["items"]]
            cursor = p.get("next_cursor")
            if not cursor:
                break
        self.assertEqual(seen, [e["id"] for e in page["items"]])
        status, p = self.http("GET", f"/v1/admin/audit?action=org.create&actor_org_id={org['id']}",
                              key=AGENCY)
        self.assertEqual(p["items"], [])
        self.refused("GET", "/v1/admin/audit?since=yesterday", 400, "since")
        self.refused("GET", "/v1/admin/audit?cursor=abc", 400, "cursor")
        self.refused("GET", "/v1/admin/audit?limit=1000", 400, "limit")
        future = "/v1/admin/audit?since=2999-01-01T00:00:00Z"
        self.assertEqual(self.http("GET", future, key=AGENCY)[1]["items"], [])

    def test_stats(self):
        status, before = self.http("GET", "/v1/admin/stats", key=AGENCY)
        self.assertEqual(status, 200)
        self.c.org("startup")
        status, after = self.http("GET", "/v1/admin/stats", key=AGENCY)
        self.assertEqual(after["orgs"]["startup"]["active"],
                         before["orgs"].get("startup", {}).get("active", 0) + 1)
        self.assertEqual(after["orgs"]["agency"]["active"], 1)
        self.assertGreater(after["changelog_length"], before["changelog_length"])

    def test_publishers(self):
        pub = self.c.publisher("kosme-oi-" + business_number()[:4])
        self.assertTrue(pub["id"].startswith("pub_"))
        self.assertTrue(pub["api_key"].startswith("oimk_"))
        self.refused("POST", "/v1/publishers", 409, "source_system",
                     body={"source_system": pub["source_system"], "name": "again"})
        self.refused("POST", "/v1/publishers", 422, "source_system",
                     body={"source_system": "Bad System!", "name": "x"})
        self.refused("POST", "/v1/publishers", 422, "name", body={"source_system": "ok-sys"})

    def test_unknown_key_and_routes(self):
        self.assertError(self.http("GET", "/v1/admin/stats", key="oimk_nope"), 401)
        self.assertError(self.http("GET", "/v1/admin/stats"), 401)
        self.assertError(self.http("GET", "/v1/orgs/x", key="oimk_nope"), 401)
        self.assertError(self.http("GET", "/v1/nothing"), 404)
        self.assertError(self.http("PUT", "/v1/demands"), 405)


class RegistryRecovery(unittest.TestCase):
    def test_redis_down_503_then_recovers_and_bootstrap_rules(self):
        with RegistryCluster() as c:
            # appendfsync always: an acknowledged change survives even SIGKILL of Redis (§6).
            c.up("--appendfsync", "always")
            org, key = c.org("company")
            c.stop_redis()
            status, body, _ = c.http("POST", "/v1/demands", {"title": "x"}, key=AGENCY)
            self.assertEqual(status, 503, body)     # the gateway cannot check the key
            status, body, _ = c.http("GET", f"/v1/orgs/{org['id']}")    # anonymous: registry's 503
            self.assertEqual((status, body["error"]["code"]), (503, "unavailable"))
            c.start_redis()
            oimtest.wait_for(lambda: c.http("GET", f"/v1/orgs/{org['id']}")[0] == 200, 15,
                             "the registry to reach Redis again")
            d = c.demand(key)
            self.assertEqual(c.http("GET", f"/v1/demands/{d['id']}")[0], 200)
            # Restart the registry without the bootstrap key: an agency exists, so it starts.
            c.kill("registry")
            c.restart("registry", OIM_BOOTSTRAP_AGENCY_KEY="")
            oimtest.wait_for(lambda: c.http("GET", f"/v1/demands/{d['id']}")[0] == 200, 15,
                             "the registry to come back")
            self.assertEqual(c.rcmd("SCARD", "oim:agencies"), 1)

    def test_stopped_registry_504_then_503(self):
        with RegistryCluster() as c:
            c.start_redis()
            c.start_gateway(OIM_REQUEST_TIMEOUT_MS=400)
            proc = c.start("registry")
            c.wait_registered({"registry": 1})
            proc.signal(signal.SIGSTOP)
            try:
                status, body, _ = c.http("GET", "/v1/taxonomy")
                self.assertEqual((status, body["error"]["code"]), (504, "timeout"))
                # Silent past the heartbeat expiry: the broker drops it, 503 at once.
                oimtest.wait_for(lambda: c.http("GET", "/v1/taxonomy")[0] == 503, 10,
                                 "the broker to expire the stopped registry")
            finally:
                proc.signal(signal.SIGCONT)
            oimtest.wait_for(lambda: c.http("GET", "/v1/taxonomy")[0] == 200, 15,
                             "the registry to come back")

    def test_refuses_empty_store_without_bootstrap_key(self):
        with RegistryCluster() as c:
            c.start_redis()
            c.start_gateway()
            proc = c.start("registry", OIM_BOOTSTRAP_AGENCY_KEY="")
            self.assertEqual(proc.wait(30), 1)
            self.assertIn("bootstrap_refused", proc.log())
            c.daemons["registry"].clear()


if __name__ == "__main__":
    unittest.main(verbosity=2)
