"""Organisation profile events from other systems (issue 17 item 6) over both transports:
HTTP (POST /v1/events/organizations) and ZeroMQ (IngestBatch.org_events, the ack's
org_results). Duplicate, stale and invalid events; one organisation per (source_system,
external_id); an old publisher (demand events only) sees no difference; SIGKILL of the
registry in the middle of a stream loses nothing acknowledged."""
import unittest

from publisher import Publisher
from test_registry_util import AGENCY, RegistryCase, RegistryCluster, business_number


def org_event(ext, seq, op="upsert", **org):
    e = {"external_id": ext, "sequence": seq, "op": op}
    if op == "upsert":
        e["organization"] = {"kind": org.pop("kind", "startup"),
                             "name": org.pop("name", f"org {ext} v{seq}"), **org}
    return e


def add_org_events(pb_batch, events):
    """Adds dict events to an IngestBatch's org_events."""
    for e in events:
        ev = pb_batch.org_events.add()
        for k, v in e.items():
            if k != "organization":
                setattr(ev, k, v)
        for k, v in e.get("organization", {}).items():
            if isinstance(v, list):
                getattr(ev.organization, k).extend(v)
            else:
                setattr(ev.organization, k, v)
    return pb_batch


class ProfileEvents(RegistryCase):
    @classmethod
    def bring_up(cls):
        super().bring_up()
        cls.pub = cls.c.publisher("profiles-oi")
        cls.endpoint = f"tcp://127.0.0.1:{cls.c.ports['ingest_port']}"

    def post(self, events, key=None):
        status, body, _ = self.c.http("POST", "/v1/events/organizations", events,
                                      key=key or self.pub["api_key"])
        return status, body

    def publisher(self, key=None):
        return Publisher(self.endpoint, key or self.pub["api_key"], self.c.pb,
                         curve=self.pub.get("curve"))

    def test_http_duplicate_stale_and_delete(self):
        status, body = self.post([org_event("p1", 3, name="배터리 스타트업", tags=["Battery"],
                                            region="KR-11", stage="seed"),
                                  org_event("p1", 3, name="again"),
                                  org_event("p1", 2, name="older"),
                                  org_event("p2", 1, kind="company", name="Big Co")])
        self.assertEqual(status, 200, body)
        self.assertEqual([r["status"] for r in body["results"]],
                         ["created", "duplicate", "stale", "created"])
        oid = body["results"][0]["org_id"]
        self.assertEqual(body["results"][1]["org_id"], oid)
        org = self.c.http("GET", f"/v1/orgs/{oid}", key=AGENCY)[1]
        self.assertEqual((org["name"], org["kind"], org["status"], org["tags"], org["source"]),
                         ("배터리 스타트업", "startup", "active", ["battery"],
                          {"system": "profiles-oi", "external_id": "p1"}))
        before = self.c.changelog_len()
        status, body = self.post([org_event("p1", 3, name="replayed")])
        self.assertEqual(body["results"][0]["status"], "duplicate")
        self.assertEqual(self.c.changelog_len(), before)
        status, body = self.post([org_event("p1", 4, name="v4"), org_event("p1", 5, op="delete"),
                                  org_event("p1", 6, op="delete")])
        self.assertEqual([r["status"] for r in body["results"]], ["updated", "deleted", "invalid"])
        self.assertEqual(self.c.http("GET", f"/v1/orgs/{oid}")[0], 404)
        status, body = self.post([org_event("p1", 7, name="back")])
        self.assertEqual((body["results"][0]["status"], body["results"][0]["org_id"]),
                         ("created", oid))
        org = self.c.http("GET", f"/v1/orgs/{oid}", key=AGENCY)[1]
        self.assertEqual((org["name"], org["version"]), ("back", 4))
        mapping = self.c.rcmd("HGETALL", "oim:source:profiles-oi:orgs")
        self.assertEqual(dict(zip(mapping[0::2], mapping[1::2]))[b"p1"], oid.encode())

    def test_http_invalid_events(self):
        bn = business_number()
        holder, _ = self.c.org("company", business_number=bn)
        before = self.c.changelog_len()
        status, body = self.post([
            org_event("i1", 1, kind="agency"),
            org_event("i2", 1, name=""),
            org_event("i3", 0),
            org_event("i4", 1, op="close"),
            {"external_id": "i5", "sequence": 1, "op": "upsert"},
            org_event("i6", 1, region="KR-77"),
            org_event("i7", 1, kind="company", business_number=bn),
            {**org_event("i8", 1), "source_system": "someone-else"},
            org_event("i9", 1, inferred_tags=["x"]),
            "not an object",
            org_event("i10", 1, op="delete"),
            org_event("ok", 1, kind="company", industries=["C26"]),
        ])
        self.assertEqual(status, 200, body)
        got = [(r["status"], r.get("field")) for r in body["results"]]
        self.assertEqual(got, [
            ("invalid", "organization.kind"), ("invalid", "organization.name"),
            ("invalid", "sequence"), ("invalid", "op"), ("invalid", "organization"),
            ("invalid", "organization.region"), ("invalid", "organization.business_number"),
            ("invalid", "source_system"), ("invalid", "organization.inferred_tags"),
            ("invalid", ""), ("invalid", "external_id"), ("created", None)])
        for r in body["results"][:-1]:
            self.assertTrue(r["reason"], r)
        self.assertEqual(self.c.changelog_len(), before + 1)
        # kind never changes
        status, body = self.post([org_event("ok", 2, kind="startup")])
        self.assertEqual((body["results"][0]["status"], body["results"][0]["field"]),
                         ("invalid", "organization.kind"))
        self.assertEqual(self.c.rcmd("GET", f"oim:bizno:{bn}"), holder["id"].encode())

    def test_http_refusals(self):
        _, ckey = self.c.org("company")
        self.assertEqual(self.post([], key=ckey)[0], 403)
        self.assertEqual(self.post([org_event("x", 1)] * 1001)[0], 413)
        self.assertEqual(self.c.http("POST", "/v1/events/organizations", {"not": "array"},
                                     key=self.pub["api_key"])[0], 400)
        status, body = self.post([{**org_event("agency-1", 1), "source_system": "manual"}],
                                 key=AGENCY)
        self.assertEqual([r["status"] for r in body["results"]], ["created"])

    def test_zmq_org_events_and_old_publishers(self):
        bn = business_number()
        self.c.org("company", business_number=bn)
        p = self.publisher()
        try:
            b = p.batch("zo-1", [{"external_id": "zd-1", "sequence": 1, "op": "upsert",
                                  "org_ref": bn, "demand": {"title": "a demand"}}])
            add_org_events(b, [org_event("zo-a", 1, name="스타트업 A"),
                               org_event("zo-b", 1, kind="company"),
                               org_event("zo-c", 1, kind="agency")])
            ack = p.publish([b])["zo-1"]
            self.assertEqual([r.status for r in ack.results], ["created"])
            self.assertEqual([(r.index, r.status) for r in ack.org_results],
                             [(0, "created"), (1, "created"), (2, "invalid")])
            self.assertEqual(ack.org_results[2].field, "organization.kind")
            self.assertTrue(ack.org_results[0].org_id.startswith("org_"))
            again = p.publish([b])["zo-1"]
            self.assertEqual([r.status for r in again.org_results],
                             ["duplicate", "duplicate", "invalid"])
            stale = add_org_events(p.batch("zo-2", []), [org_event("zo-a", 0),
                                                         org_event("zo-b", 2, kind="company",
                                                                   name="renamed")])
            ack = p.publish([stale])["zo-2"]
            self.assertEqual([r.status for r in ack.org_results], ["invalid", "updated"])
            # An old publisher: demand events only, no org_results in its ack.
            old = p.batch("zo-old", [{"external_id": "zd-2", "sequence": 1, "op": "upsert",
                                      "org_ref": bn, "demand": {"title": "old style"}}])
            ack = p.publish([old])["zo-old"]
            self.assertEqual(([r.status for r in ack.results], len(ack.org_results)),
                             (["created"], 0))
            # 1,001 events in all (demand + organisation) is too large.
            big = add_org_events(p.batch("zo-big", [{"external_id": f"d{i}", "sequence": 1,
                                                     "op": "close"} for i in range(500)]),
                                 [org_event(f"o{i}", 1) for i in range(501)])
            self.assertEqual(p.send_raw(big.SerializeToString()).status, 413)
        finally:
            p.close()


class ProfileEventsKill(unittest.TestCase):
    def test_sigkill_registry_mid_stream(self):
        with RegistryCluster() as c:
            c.up()
            pub = c.publisher("crashy-profiles")
            p = Publisher(f"tcp://127.0.0.1:{c.ports['ingest_port']}", pub["api_key"], c.pb,
                          window=4, timeout=2.0, curve=pub.get("curve"))
            # 40 batches of 25 profiles: 500 external ids, each upserted twice (seq 1, 2).
            batches = []
            for b in range(40):
                events = [org_event(f"k-{(b * 25 + i) % 500}", 1 if b < 20 else 2,
                                    name=f"k-{(b * 25 + i) % 500} v{1 if b < 20 else 2}")
                          for i in range(25)]
                batches.append(add_org_events(p.batch(f"ob-{b}", []), events))
            acked, killed = [], []

            def on_ack(ack):
                for r in ack.org_results:
                    self.assertIn(r.status, ("created", "updated", "duplicate", "stale"), r)
                acked.append(ack.batch_id)
                if len(acked) == 6 and not killed:
                    killed.append(c.kill("registry"))
                    c.restart("registry")
            try:
                acks = p.publish(batches, deadline=120, on_ack=on_ack)
            finally:
                p.close()
            self.assertTrue(killed)
            self.assertEqual(len(acks), 40)
            mapping = c.rcmd("HGETALL", "oim:source:crashy-profiles:orgs")
            ids = dict(zip(mapping[0::2], mapping[1::2]))
            self.assertEqual((len(ids), len(set(ids.values()))), (500, 500))
            for ext, oid in ids.items():
                o = c.pb["registry"].Organization()
                o.ParseFromString(c.rcmd("GET", b"oim:org:" + oid))
                self.assertEqual((o.source_sequence, o.name), (2, f"{ext.decode()} v2"))
            creates = {}
            for e in c.changelog():
                if e.entity_type == "org" and e.action == "org.ingest.upsert" \
                        and e.op == c.pb["changelog"].CHANGE_OP_CREATE:
                    creates[e.entity_id] = creates.get(e.entity_id, 0) + 1
            self.assertEqual((len(creates), set(creates.values())), (500, {1}))
            print(f"\nresends after SIGKILL: {p.resends}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
