"""Demand events from other systems (SPEC §4) over both transports: HTTP
(POST /v1/events/demands) and ZeroMQ (the gateway's ingest endpoint, driven by a publisher
written in Python — publisher.py). Duplicates, stale sequences, mixed good and bad batches,
refusals of whole batches, and SIGKILL of the registry in the middle of a stream: afterwards
exactly one demand per external id and every acknowledged event present."""
import unittest

from publisher import Publisher
from test_registry_util import AGENCY, RegistryCase, RegistryCluster, business_number, oimtest


def event(ext, seq, op="upsert", org_ref=None, **demand):
    e = {"external_id": ext, "sequence": seq, "op": op}
    if org_ref:
        e["org_ref"] = org_ref
    if op == "upsert":
        e["demand"] = {"title": demand.pop("title", f"external {ext} v{seq}"), **demand}
    elif demand:
        e["demand"] = demand
    return e


class Ingest(RegistryCase):
    @classmethod
    def bring_up(cls):
        super().bring_up()
        cls.bn = business_number()
        cls.company, cls.ckey = cls.c.org("company", business_number=cls.bn)
        cls.pub = cls.c.publisher("other-oi")
        cls.endpoint = f"tcp://127.0.0.1:{cls.c.ports['ingest_port']}"

    def post(self, events, key=None):
        status, body, _ = self.c.http("POST", "/v1/events/demands", events, key=key or self.pub["api_key"])
        return status, body

    def statuses(self, body):
        return [r["status"] for r in body["results"]]

    def test_http_duplicate_batch(self):
        batch = [event(f"dup-{i}", 1, org_ref=self.bn, tags=["AI"]) for i in range(5)]
        status, first = self.post(batch)
        self.assertEqual((status, self.statuses(first)), (200, ["created"] * 5))
        before = self.c.changelog_len()
        status, second = self.post(batch)
        self.assertEqual(self.statuses(second), ["duplicate"] * 5)
        self.assertEqual([r["demand_id"] for r in first["results"]],
                         [r["demand_id"] for r in second["results"]])
        self.assertEqual(self.c.changelog_len(), before)
        d = self.c.http("GET", f"/v1/demands/{first['results'][0]['demand_id']}")[1]
        self.assertEqual((d["source"], d["org_id"], d["tags"]),
                         ({"system": "other-oi", "external_id": "dup-0"}, self.company["id"], ["ai"]))

    def test_http_sequences_stale_and_ops(self):
        ref = self.company["id"]
        status, body = self.post([event("seq", 5, org_ref=ref, title="v5"),
                                  event("seq", 3, org_ref=ref, title="v3"),
                                  event("seq", 5, org_ref=ref, title="v5 again"),
                                  event("seq", 7, org_ref=ref, title="v7"),
                                  event("seq", 8, op="close"),
                                  event("seq", 6, op="delete"),
                                  event("seq", 9, op="delete")])
        self.assertEqual(self.statuses(body),
                         ["created", "stale", "duplicate", "updated", "closed", "stale", "deleted"])
        did = body["results"][0]["demand_id"]
        self.assertEqual(self.c.http("GET", f"/v1/demands/{did}", key=AGENCY)[0], 404)
        status, body = self.post([event("seq", 10, org_ref=ref, title="back")])
        self.assertEqual((self.statuses(body), body["results"][0]["demand_id"]), (["created"], did))
        d = self.c.http("GET", f"/v1/demands/{did}")[1]
        self.assertEqual((d["title"], d["status"], d["version"]), ("back", "open", 5))
        entries = [e.action for e in self.c.changelog() if e.entity_id == did]
        self.assertEqual(entries, ["demand.ingest.upsert", "demand.ingest.upsert", "demand.ingest.close",
                                   "demand.ingest.delete", "demand.ingest.upsert"])
        status, body = self.post([event("award", 1, org_ref=ref), event("award", 2, op="close", status="awarded")])
        self.assertEqual(self.statuses(body), ["created", "closed"])
        self.assertEqual(self.c.http("GET", f"/v1/demands/{body['results'][0]['demand_id']}")[1]["status"],
                         "awarded")

    def test_http_mixed_batch(self):
        startup, _ = self.c.org("startup")
        other_co, _ = self.c.org("company")
        before = self.c.changelog_len()
        status, body = self.post([
            event("mix-ok-1", 1, org_ref=self.bn),
            event("mix-bad-title", 1, org_ref=self.bn, title=""),
            event("mix-bad-ref", 1, org_ref="123-45-67890"),
            event("mix-startup", 1, org_ref=startup["id"]),
            event("mix-unknown-org", 1, org_ref="org_00000000000000000000X"),
            {"external_id": "mix-no-op", "sequence": 1, "org_ref": self.bn},
            {"external_id": "mix-seq0", "sequence": 0, "op": "upsert", "org_ref": self.bn, "demand": {"title": "x"}},
            {"external_id": "mix-type", "sequence": "one", "op": "upsert"},
            {"external_id": "mix-unknown-field", "sequence": 1, "colour": "red"},
            "not an object",
            event("mix-close-unknown", 1, op="close"),
            {**event("mix-other-source", 1, org_ref=self.bn), "source_system": "someone-else"},
            event("mix-region", 1, org_ref=self.bn, regions=["KR-77"]),
            event("mix-ok-2", 1, org_ref=self.company["id"], description="d" * 20000),
            event("mix-huge", 1, org_ref=self.bn, description="d" * 20001),
            event("mix-ok-1", 2, org_ref=other_co["id"]),
        ])
        self.assertEqual(status, 200, body)
        got = [(r["status"], r.get("field")) for r in body["results"]]
        self.assertEqual(got, [
            ("created", None), ("invalid", "demand.title"), ("invalid", "org_ref"),
            ("invalid", "org_ref"), ("invalid", "org_ref"), ("invalid", "op"),
            ("invalid", "sequence"), ("invalid", "sequence"), ("invalid", "colour"),
            ("invalid", ""), ("invalid", "external_id"), ("invalid", "source_system"),
            ("invalid", "demand.regions[0]"), ("created", None), ("invalid", "demand.description"),
            ("invalid", "org_ref")])
        for r in body["results"]:
            if r["status"] == "invalid":
                self.assertTrue(r["reason"])
        self.assertEqual(self.c.changelog_len(), before + 2)

    def test_http_refusals(self):
        self.assertEqual(self.post([event("x", 1)] * 1001)[0], 413)
        self.assertEqual(self.post([], key=self.ckey)[0], 403)
        self.assertEqual(self.c.http("POST", "/v1/events/demands", {"not": "array"},
                                     key=self.pub["api_key"])[0], 400)
        self.assertEqual(self.c.http("POST", "/v1/events/demands", None,
                                     raw=b'[{"external_id":"\xff"}]', key=self.pub["api_key"])[0], 400)
        # The agency may publish for any source system.
        status, body = self.post([{**event("agency-1", 1, org_ref=self.bn), "source_system": "manual"}],
                                 key=AGENCY)
        self.assertEqual(self.statuses(body), ["created"])

    # -- ZeroMQ -----------------------------------------------------------------------------
    def publisher(self, key=None, **kw):
        return Publisher(self.endpoint, key or self.pub["api_key"], self.c.pb,
                         curve=self.pub.get("curve"), **kw)

    def test_zmq_batches_and_acks(self):
        p = self.publisher()
        try:
            batches = [p.batch(f"zb-{b}", [event(f"z-{b}-{i}", 1, org_ref=self.bn, tags=["Robot"])
                                          for i in range(100)]) for b in range(10)]
            acks = p.publish(batches)
            self.assertEqual(len(acks), 10)
            for bid, ack in acks.items():
                self.assertEqual((ack.status, len(ack.results)), (200, 100))
                self.assertEqual({r.status for r in ack.results}, {"created"})
            again = p.publish([batches[0]])["zb-0"]
            self.assertEqual({r.status for r in again.results}, {"duplicate"})
            mixed = p.batch("zb-mixed", [event("z-0-0", 2, org_ref=self.bn, title="v2"),
                                         event("z-0-1", 1, org_ref=self.bn),
                                         event("z-new", 1, org_ref="bad-ref"),
                                         event("z-0-2", 2, op="close")])
            ack = p.publish([mixed])["zb-mixed"]
            self.assertEqual([(r.index, r.status) for r in ack.results],
                             [(0, "updated"), (1, "duplicate"), (2, "invalid"), (3, "closed")])
            self.assertEqual(ack.results[2].field, "org_ref")
        finally:
            p.close()
        self.assertEqual(self.c.rcmd("HLEN", "oim:source:other-oi:demands") >= 1000, True)

    def test_zmq_refusals(self):
        p = self.publisher()
        try:
            ack = p.send_raw(b"\xff\xfe garbage that is not protobuf \x00\x01")
            self.assertEqual(ack.status, 400)
            ack = p.send_raw(p.batch("too-big", [event(f"b{i}", 1) for i in range(1001)]).SerializeToString())
            self.assertEqual((ack.status, ack.batch_id), (413, "too-big"))
            bad = self.publisher("oimk_unknown")
            try:
                ack = bad.send_raw(bad.batch("unknown", [event("u", 1)]).SerializeToString())
                self.assertEqual((ack.status, ack.batch_id), (401, "unknown"))
            finally:
                bad.close()
            company = self.publisher(self.ckey)
            try:
                ack = company.send_raw(company.batch("company", [event("u", 1)]).SerializeToString())
                self.assertEqual(ack.status, 403)
            finally:
                company.close()
            # Invalid UTF-8 inside protobuf strings: invalid, never echoed, nothing stored.
            b = p.batch("utf8", [])
            ev = b.events.add()
            ev.external_id, ev.sequence, ev.op, ev.org_ref = "ok-utf8", 1, "upsert", self.bn
            ev.demand.title = "TITLE_PLACEHOLDER"
            raw = b.SerializeToString().replace(b"TITLE_PLACEHOLDER", b"\xff\xfe\xfd-bad-utf8-\xc3abc")
            ack = p.send_raw(raw)
            self.assertEqual((ack.status, ack.results[0].status, ack.results[0].field),
                             (200, "invalid", "demand.title"))
        finally:
            p.close()


class IngestKill(unittest.TestCase):
    def test_sigkill_registry_mid_stream(self):
        with RegistryCluster() as c:
            c.up()
            bn = business_number()
            c.org("company", business_number=bn)
            pub = c.publisher("crashy")
            p = Publisher(f"tcp://127.0.0.1:{c.ports['ingest_port']}", pub["api_key"], c.pb,
                          window=4, timeout=2.0, curve=pub.get("curve"))
            # 60 batches of 50 events: 1,500 external ids, each upserted twice (seq 1, 2),
            # the second time in a later batch, so a re-sent batch can meet newer state.
            batches = []
            for b in range(60):
                events = []
                for i in range(50):
                    n = (b * 50 + i) % 1500
                    seq = 1 if b < 30 else 2
                    events.append(event(f"k-{n}", seq, org_ref=bn, title=f"k-{n} v{seq}"))
                batches.append(p.batch(f"kb-{b}", events))
            acked = []
            killed = []

            def on_ack(ack):
                for r in ack.results:       # acked events are applied (or already were)
                    self.assertIn(r.status, ("created", "updated", "duplicate", "stale"), r)
                acked.append(ack.batch_id)
                if len(acked) == 8 and not killed:
                    killed.append(c.kill("registry"))       # SIGKILL mid-stream
                    c.restart("registry")
            try:
                acks = p.publish(batches, deadline=120, on_ack=on_ack)
            finally:
                p.close()
            self.assertTrue(killed, "the registry was not killed")
            self.assertEqual(len(acks), 60)
            # Exactly one demand per external id, and every acknowledged event present.
            mapping = c.rcmd("HGETALL", "oim:source:crashy:demands")
            ids = dict(zip(mapping[0::2], mapping[1::2]))
            self.assertEqual(len(ids), 1500)
            self.assertEqual(len(set(ids.values())), 1500)
            self.assertEqual(c.rcmd("ZCARD", "oim:demands"), 1500)
            for ext, demand_id in ids.items():
                raw = c.rcmd("GET", b"oim:demand:" + demand_id)
                d = c.pb["registry"].Demand()
                d.ParseFromString(raw)
                self.assertEqual(d.source_sequence, 2, ext)        # the newest event applied
                self.assertEqual(d.title, f"{ext.decode()} v2")
            # The change log holds exactly one creation per demand (no duplicate applies).
            creates = {}
            for e in c.changelog():
                if e.entity_type == "demand" and e.op == c.pb["changelog"].CHANGE_OP_CREATE:
                    creates[e.entity_id] = creates.get(e.entity_id, 0) + 1
            self.assertEqual(len(creates), 1500)
            self.assertEqual(set(creates.values()), {1})
            print(f"\nresends after SIGKILL: {p.resends}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
