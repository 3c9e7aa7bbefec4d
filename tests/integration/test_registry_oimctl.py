"""oimctl against real processes: org create/get, key rotation, demand create/list/close,
publisher create with its CURVE key, publish of a JSON-lines file over ZeroMQ with CURVE
(--curve-server-key / --curve-keypair; progress line, every batch acknowledged, re-run reports
duplicates), the publisher's CURVE key replaced (publisher curve-key), status, usage errors."""
import csv
import io
import json
import os
import subprocess
import unittest

import zmq

from test_registry_util import AGENCY, RegistryCase, RegistryCluster, business_number, oimtest


class OimctlCase(RegistryCase):
    """A registry cluster and the oimctl binary, with a runner (ctl) and key files."""

    @classmethod
    def bring_up(cls):
        super().bring_up()
        cls.bin = oimtest.binary("oimctl")

    def keypair_file(self, name):
        """A fresh CURVE keypair in a zcert secret file: (public Z85, path)."""
        public, secret = zmq.curve_keypair()
        path = os.path.join(self.c.dir, f"{name}.key_secret")
        with open(path, "w") as f:
            f.write(f'curve\n    public-key = "{public.decode()}"\n    secret-key = "{secret.decode()}"\n')
        return public.decode(), path

    def ctl(self, *args, key=AGENCY, expect=0, keypair=None):
        env = dict(os.environ, OIM_URL=f"http://127.0.0.1:{self.c.ports['http_port']}",
                   OIM_API_KEY=key or "",
                   OIM_INGEST_ENDPOINT=f"tcp://127.0.0.1:{self.c.ports['ingest_port']}")
        if keypair and self.c.curve:
            env["OIM_CURVE_SERVER_KEY"] = oimtest.load_cert(
                os.path.join(self.c.keys_dir, "gateway.cert"))[0].decode()
            env["OIM_CURVE_KEYPAIR"] = keypair
        out = subprocess.run([self.bin] + list(args), env=env, capture_output=True, timeout=120)
        self.assertEqual(out.returncode, expect, out.stderr.decode())
        text = out.stdout.decode().strip()
        return (json.loads(text) if text.startswith("{") else text), out.stderr.decode()


class Oimctl(OimctlCase):
    def test_help_and_usage(self):
        text, _ = self.ctl("--help")
        self.assertIn("publish FILE.jsonl", text)
        self.ctl("frobnicate", expect=2)
        self.ctl(expect=2)

    def test_orgs_keys_demands(self):
        bn = business_number()
        org, _ = self.ctl("org", "create", "--kind", "company", "--name", "CLI Co",
                          "--json", json.dumps({"business_number": bn, "region": "KR-11"}))
        self.assertEqual((org["status"], org["region"]), ("active", "KR-11"))
        got, _ = self.ctl("org", "get", org["id"])
        self.assertEqual(got["id"], org["id"])
        created, _ = self.ctl("api-keys", "create", org["id"], "cli", key=org["api_key"])
        listed, _ = self.ctl("api-keys", "list", org["id"], key=created["api_key"])
        initial = next(k["id"] for k in listed["items"] if k["name"] == "initial")
        self.ctl("api-keys", "delete", org["id"], initial, key=created["api_key"])
        self.ctl("org", "get", org["id"], key=org["api_key"], expect=1)    # deleted key revoked
        key = created["api_key"]
        d, _ = self.ctl("demand", "create", "--title", "CLI demand", "--visibility", "members", key=key)
        page, _ = self.ctl("demand", "list", "--org", org["id"], key=key)
        self.assertEqual([x["id"] for x in page["items"]], [d["id"]])
        closed, _ = self.ctl("demand", "close", d["id"], key=key)
        self.assertEqual(closed["status"], "closed")
        _, err = self.ctl("demand", "close", d["id"], key=key, expect=1)
        self.assertIn("409", err)
        self.ctl("org", "create", "--kind", "company", expect=1)            # 422: no name
        status, _ = self.ctl("status")
        self.assertIn("registry", json.dumps(status))

    def test_publish_jsonl(self):
        bn = business_number()
        self.ctl("org", "create", "--kind", "company", "--name", "Pub target",
                 "--json", json.dumps({"business_number": bn}))
        public, keypair = self.keypair_file("cli-src")
        pub, _ = self.ctl("publisher", "create", "--source-system", "cli-src", "--name", "CLI",
                          "--curve-public-key", public)
        self.assertEqual(pub["curve_public_key"], public)
        path = os.path.join(self.c.dir, "events.jsonl")
        with open(path, "w") as f:
            for i in range(250):
                f.write(json.dumps({"external_id": f"cli-{i}", "sequence": 1, "op": "upsert",
                                    "org_ref": bn, "demand": {"title": f"외부 수요 {i}"}},
                                   ensure_ascii=False) + "\n")
            f.write(json.dumps({"external_id": "cli-bad", "sequence": 1, "op": "upsert",
                                "org_ref": bn, "demand": {"title": ""}}) + "\n")
        _, err = self.ctl("publish", path, "--batch", "100", key=pub["api_key"], keypair=keypair)
        self.assertIn("3/3 batches acked (251 events): created 250", err)
        self.assertIn("invalid 1", err)
        self.assertEqual(self.c.rcmd("HLEN", "oim:source:cli-src:demands"), 250)
        # A new keypair replaces the old one (the old key's record goes with the same EXEC).
        public2, keypair2 = self.keypair_file("cli-src-2")
        rotated, _ = self.ctl("publisher", "curve-key", pub["id"], public2)
        self.assertEqual((rotated["curve_public_key"], rotated["version"]), (public2, 2))
        self.assertIsNone(self.c.rcmd("GET", "oim:curvekey:" + public))
        _, err = self.ctl("publish", path, key=pub["api_key"], keypair=keypair2)
        self.assertIn("duplicate 250", err)
        _, err = self.ctl("publish", path, key="oimk_wrong", expect=1, keypair=keypair2)
        self.assertIn("401", err)
        self.ctl("publisher", "curve-key", pub["id"], "not-a-key", expect=1)     # 422
        with open(path, "a") as f:
            f.write("{not json\n")
        self.ctl("publish", path, key=pub["api_key"], expect=1, keypair=keypair2)


class OimctlWorkflow(OimctlCase):
    """Issue 17 item 7: the table-driven commands (services/oimctl/oimctl_commands.c) cover the
    agency's workflow, the integrator's events, stats and exports; --help per command, --json
    and --text output, usage errors."""

    def test_publish_profiles_over_zeromq(self):
        public, keypair = self.keypair_file("ctl-zmq-profiles")
        pub, _ = self.ctl("publisher", "create", "--source-system", "ctl-zmq", "--name", "Z",
                          "--curve-public-key", public)
        path = os.path.join(self.c.dir, "profiles.jsonl")
        with open(path, "w") as f:
            for i in range(120):
                f.write(json.dumps({"external_id": f"z{i}", "sequence": 1, "op": "upsert",
                                    "organization": {"kind": "startup", "name": f"스타트업 {i}"}},
                                   ensure_ascii=False) + "\n")
            f.write(json.dumps({"external_id": "zbad", "sequence": 1, "op": "upsert",
                                "organization": {"kind": "agency", "name": "x"}}) + "\n")
        _, err = self.ctl("publish", path, "--batch", "50", key=pub["api_key"], keypair=keypair)
        self.assertIn("3/3 batches acked (121 events): created 120", err)
        self.assertIn("invalid 1", err)
        self.assertEqual(self.c.rcmd("HLEN", "oim:source:ctl-zmq:orgs"), 120)
        _, err = self.ctl("publish", path, "--batch", "50", key=pub["api_key"], keypair=keypair)
        self.assertIn("duplicate 120", err)

    def test_help_per_command(self):
        text, _ = self.ctl("--help")
        for words in ("demand approve", "review-queue", "announce", "export", "stats",
                      "events organizations", "deliveries retry", "saved-search create"):
            self.assertIn(words, text)
        text, _ = self.ctl("demand", "renew", "--help")
        self.assertIn("POST /v1/demands/{1}/renew", text)
        self.assertIn("--closes-at VALUE", text)
        _, err = self.ctl("demand", "approve", expect=2)              # no DEMAND_ID
        self.assertIn("usage: oimctl", err)
        self.ctl("settings", "set", "--demand-review", "maybe", expect=2)

    def test_review_workflow_stats_export(self):
        company, _ = self.ctl("org", "create", "--kind", "company", "--name", "리뷰 회사")
        ckey = company["api_key"]
        self.ctl("settings", "set", "--demand-review", "true")
        try:
            d, _ = self.ctl("demand", "create", "--title", "검토 수요", "--tags", "battery,ai",
                            key=ckey)
            self.assertEqual((d["status"], d["tags"]), ("pending_review", ["battery", "ai"]))
            queue, _ = self.ctl("review-queue")
            self.assertIn(d["id"], [x["id"] for x in queue["items"]])
            returned, _ = self.ctl("demand", "return", d["id"], "--comment", "예산을 적어 주세요")
            self.assertEqual(returned["status"], "returned")
            _, err = self.ctl("demand", "approve", d["id"], expect=1)
            self.assertIn("returned", err)
            self.assertIn("409", err)
            self.ctl("demand", "resubmit", d["id"], key=ckey)
            text, _ = self.ctl("demand", "approve", d["id"], "--text")
            self.assertIn("status: open", text.splitlines())
            renewed, _ = self.ctl("demand", "renew", d["id"], "--closes-at", "2099-01-01T00:00:00Z",
                                  "--json", key=ckey)
            self.assertEqual(renewed["closes_at"], "2099-01-01T00:00:00Z")
        finally:
            self.ctl("settings", "set", "--demand-review", "false")
        ann, _ = self.ctl("announce", "--title", "공지", "--kinds", "company")
        self.assertGreaterEqual(ann["recipients"], 1)
        listed, _ = self.ctl("announcements")
        self.assertEqual(listed["items"][0]["id"], ann["id"])
        stats, _ = self.ctl("stats", "--period", "month", "--from", "2020-01-01T00:00:00Z")
        self.ctl("stats", "--period", "day", "--from", "2020-01-01T00:00:00Z", expect=1)  # > 400 days
        self.assertGreaterEqual(stats["funnel_total"]["posted"], 1)
        text, err = self.ctl("export", "organizations", "--limit", "1")
        self.assertIn("next_cursor: 1", err)
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        self.assertEqual((rows[0][:3], len(rows)), (["id", "kind", "name"], 2))
        self.ctl("export", "keys", expect=1)                          # 404

    def test_profile_events_file_and_search(self):
        pub, _ = self.ctl("publisher", "create", "--source-system", "ctl-profiles", "--name", "P")
        path = os.path.join(self.c.dir, "orgs.json")
        with open(path, "w") as f:
            json.dump([{"external_id": "p1", "sequence": 1, "op": "upsert",
                        "organization": {"kind": "startup", "name": "파일 스타트업"}}], f,
                      ensure_ascii=False)
        out, _ = self.ctl("events", "organizations", "--file", path, key=pub["api_key"])
        self.assertEqual(out["results"][0]["status"], "created")
        out, _ = self.ctl("events", "organizations", "--file", path, key=pub["api_key"])
        self.assertEqual(out["results"][0]["status"], "duplicate")
        got, _ = self.ctl("org", "get", out["results"][0]["org_id"])
        self.assertEqual(got["source"]["external_id"], "p1")
        listed, _ = self.ctl("demand", "list", "--limit", "1")
        self.assertIn("items", listed)
        self.ctl("audit", "--action", "org.ingest.upsert", "--limit", "5")


if __name__ == "__main__":
    unittest.main(verbosity=2)
