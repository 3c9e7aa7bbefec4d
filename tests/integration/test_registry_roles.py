"""The role matrix: every registry endpoint × every role (agency, company, startup,
publisher, anonymous) × own/other organization, each status code asserted from one table,
plus what each role may see of another organization's private data."""
import itertools
import unittest

from test_registry_util import AGENCY, RegistryCase, RegistryCluster

SEQ = itertools.count(1)
ROLES = ("agency", "company", "startup", "publisher", "anonymous")


def row(agency, company, startup, publisher, anonymous):
    return dict(zip(ROLES, (agency, company, startup, publisher, anonymous)))


class Ctx:
    """Principals and targets; fresh ones for cases that change or destroy them."""

    def __init__(self, c):
        self.c = c
        self.agency_org = c.rcmd("SMEMBERS", "oim:agencies")[0].decode()
        self.shared = {role: self.principal(role) for role in ROLES}
        self.other_company, self.other_key = c.org("company")

    def principal(self, role):
        """(key, own org id) for a role; new organizations for company/startup."""
        if role == "agency":
            return AGENCY, self.agency_org
        if role in ("company", "startup"):
            org, key = self.c.org(role)
            return key, org["id"]
        if role == "publisher":
            return self.c.publisher()["api_key"], None
        return None, None

    def victim(self, pending=False):
        if pending:
            status, org, _ = self.c.http("POST", "/v1/orgs", {"kind": "startup", "name": "p"})
            return org["id"]
        return self.c.org("startup")[0]["id"]

    def other_demand(self, **fields):
        return self.c.demand(self.other_key, **fields)["id"]

    def own_demand(self, key):
        return self.c.demand(key)["id"]

    def search(self, key):
        return self.c.http("POST", "/v1/saved-searches", {"type": "demand", "q": "x"}, key=key)[1]["id"]


# (name, fresh principal?, request builder(ctx, key, own_org) -> (method, path, body), row)
CASES = [
    ("taxonomy.get", False, lambda x, k, o: ("GET", "/v1/taxonomy", None), row(200, 200, 200, 200, 200)),
    ("org.create", False, lambda x, k, o: ("POST", "/v1/orgs", {"kind": "company", "name": "n"}),
     row(201, 403, 403, 403, 201)),
    ("org.get own", False, lambda x, k, o: ("GET", f"/v1/orgs/{o}", None), row(200, 200, 200, None, None)),
    ("org.get other active", False, lambda x, k, o: ("GET", f"/v1/orgs/{x.other_company['id']}", None),
     row(200, 200, 200, 200, 200)),
    ("org.get other pending", False, lambda x, k, o: ("GET", f"/v1/orgs/{x.victim(True)}", None),
     row(200, 404, 404, 404, 404)),
    ("org.update own", False, lambda x, k, o: ("PATCH", f"/v1/orgs/{o}", {"description": "d"}),
     row(200, 200, 200, None, None)),
    ("org.update other", False, lambda x, k, o: ("PATCH", f"/v1/orgs/{x.victim()}", {"description": "d"}),
     row(200, 403, 403, 403, 401)),
    ("org.delete own", True, lambda x, k, o: ("DELETE", f"/v1/orgs/{o}", None), row(409, 403, 403, None, None)),
    ("org.delete other", False, lambda x, k, o: ("DELETE", f"/v1/orgs/{x.victim()}", None),
     row(200, 403, 403, 403, 401)),
    ("org.approve own", True, lambda x, k, o: ("POST", f"/v1/orgs/{o}/approve", None),
     row(409, 403, 403, None, None)),
    ("org.approve other", False, lambda x, k, o: ("POST", f"/v1/orgs/{x.victim(True)}/approve", None),
     row(200, 403, 403, 403, 401)),
    ("org.suspend own", True, lambda x, k, o: ("POST", f"/v1/orgs/{o}/suspend", None),
     row(409, 403, 403, None, None)),
    ("org.suspend other", False, lambda x, k, o: ("POST", f"/v1/orgs/{x.victim()}/suspend", None),
     row(200, 403, 403, 403, 401)),
    ("api_key.create own", True, lambda x, k, o: ("POST", f"/v1/orgs/{o}/api-keys", None),
     row(None, 201, 201, None, None)),
    ("api_key.create other", False, lambda x, k, o: ("POST", f"/v1/orgs/{x.victim()}/api-keys", None),
     row(201, 403, 403, 403, 401)),
    ("demand.create", False, lambda x, k, o: ("POST", "/v1/demands",
                                              {"title": "t", "org_id": x.other_company["id"]}
                                              if k == AGENCY else {"title": "t"}),
     row(201, 201, 403, 403, 401)),
    ("demand.create for other", False, lambda x, k, o: ("POST", "/v1/demands",
                                                        {"title": "t", "org_id": x.other_company["id"]}),
     row(201, 403, 403, 403, 401)),
    ("demand.list", False, lambda x, k, o: ("GET", "/v1/demands", None), row(200, 200, 200, 200, 200)),
    ("demand.get other public", False, lambda x, k, o: ("GET", f"/v1/demands/{x.other_demand()}", None),
     row(200, 200, 200, 200, 200)),
    ("demand.get other members", False,
     lambda x, k, o: ("GET", f"/v1/demands/{x.other_demand(visibility='members')}", None),
     row(200, 200, 200, 404, 404)),
    ("demand.get other confidential", False,
     lambda x, k, o: ("GET", f"/v1/demands/{x.other_demand(visibility='confidential')}", None),
     row(200, 200, 200, 200, 200)),
    ("demand.update own", False, lambda x, k, o: ("PATCH", f"/v1/demands/{x.own_demand(k)}", {"title": "u"}),
     row(None, 200, None, None, None)),
    ("demand.update other", False, lambda x, k, o: ("PATCH", f"/v1/demands/{x.other_demand()}", {"title": "u"}),
     row(200, 403, 403, 403, 401)),
    ("demand.update other confidential", False,
     lambda x, k, o: ("PATCH", f"/v1/demands/{x.other_demand(visibility='confidential')}", {"title": "u"}),
     row(200, 403, 403, 403, 401)),
    ("demand.close own", False, lambda x, k, o: ("POST", f"/v1/demands/{x.own_demand(k)}/close", None),
     row(None, 200, None, None, None)),
    ("demand.close other", False, lambda x, k, o: ("POST", f"/v1/demands/{x.other_demand()}/close", None),
     row(200, 403, 403, 403, 401)),
    ("publisher.create", False, lambda x, k, o: ("POST", "/v1/publishers",
                                                 {"source_system": f"matrix-{next(SEQ)}", "name": "n"}),
     row(201, 403, 403, 403, 401)),
    ("events.ingest", False, lambda x, k, o: ("POST", "/v1/events/demands", []),
     row(200, 403, 403, 200, 401)),
    ("audit.list", False, lambda x, k, o: ("GET", "/v1/admin/audit", None), row(200, 403, 403, 403, 401)),
    ("admin.stats", False, lambda x, k, o: ("GET", "/v1/admin/stats", None), row(200, 403, 403, 403, 401)),
    ("saved_search.create", False, lambda x, k, o: ("POST", "/v1/saved-searches", {"type": "startup"}),
     row(201, 201, 201, 403, 401)),
    ("saved_search.list", False, lambda x, k, o: ("GET", "/v1/saved-searches", None),
     row(200, 200, 200, 403, 401)),
    ("saved_search.delete own", False, lambda x, k, o: ("DELETE", f"/v1/saved-searches/{x.search(k)}", None),
     row(200, 200, 200, None, None)),
    ("saved_search.delete other", False,
     lambda x, k, o: ("DELETE", f"/v1/saved-searches/{x.search(x.other_key)}", None),
     row(200, 404, 404, 403, 401)),
]


class RoleMatrix(RegistryCase):
    @classmethod
    def bring_up(cls):
        super().bring_up()
        cls.x = Ctx(cls.c)

    def test_matrix(self):
        checked = 0
        for name, fresh, build, expected in CASES:
            for role in ROLES:
                want = expected[role]
                if want is None:
                    continue
                key, own = self.x.principal(role) if fresh else self.x.shared[role]
                method, path, body = build(self.x, key, own)
                with self.subTest(case=name, role=role):
                    status, reply, _ = self.c.http(method, path, body, key=key)
                    self.assertEqual(status, want, f"{name} as {role}: {reply}")
                    if status >= 400:
                        self.assertIn("code", reply["error"])
                    checked += 1
        self.assertGreater(checked, 120)

    def test_private_data_isolation(self):
        owner, okey = self.c.org("company", email="ceo@owner.kr", phone="010-1234-5678")
        conf = self.c.demand(okey, visibility="confidential", description="the secret")
        for role in ROLES:
            key, own = self.x.shared[role]
            with self.subTest(role=role):
                status, org, _ = self.c.http("GET", f"/v1/orgs/{owner['id']}", key=key)
                self.assertEqual(status, 200)
                self.assertNotIn("api_key", org)
                if role == "agency":
                    self.assertEqual(org["email"], "ceo@owner.kr")
                else:
                    self.assertNotIn("email", org)
                    self.assertNotIn("phone", org)
                status, d, _ = self.c.http("GET", f"/v1/demands/{conf['id']}", key=key)
                self.assertEqual(status, 200)
                self.assertEqual("description" in d, role == "agency", d)
                self.assertEqual("org_id" in d, role == "agency", d)
                status, page, _ = self.c.http("GET", f"/v1/demands?org_id={owner['id']}", key=key)
                self.assertNotIn("the secret", str(page))  if role != "agency" else None
                # Keys are never readable through the API, hashed in Redis.
                status, audit, _ = self.c.http("GET", "/v1/admin/audit", key=key)
                self.assertEqual(status, 200 if role == "agency" else (401 if key is None else 403))
        self.assertFalse(self.c.rcmd("KEYS", f"*{okey}*"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
