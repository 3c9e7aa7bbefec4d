"""Issue 13, item 1 (the "curve" part): CURVE on the broker and the feed, enforced by the server.

  * the ZeroMQ feed (:5571): a subscriber without CURVE, or with a CURVE key nobody registered,
    receives nothing; an organisation's subscriber holding its registered feed key
    (PUT /v1/orgs/{id}/feed-key) and subscribing to "" and to another organisation's id
    receives its own organisation's notifications only — real ones, made through the API (a
    demand of each of two companies matching a startup of each);
  * a revoked feed key (DELETE) and the key of a suspended organisation cannot connect anymore,
    and a revoked key's open connection is cut off (the feed re-binds);
  * the feed-key API: owner or agency only, a Z85 key of 40 characters, one key one identity;
  * a fake daemon without the daemon key (no CURVE, or a random CURVE key) cannot register at
    the broker: its READY for "registry" gets it nothing, and every request still goes to the
    real registry;
  * denials are counted in /metrics (oim_zap_denied_total{domain}, refused subscriptions);
  * plain ZeroMQ is refused beyond loopback, and CURVE on without the key files names them.
"""
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import AGENCY_KEY, Cluster, binary, proto_modules, wait_for  # noqa: E402

import zmq  # noqa: E402


def api(c, method, path, body=None, key=AGENCY_KEY, expect=200):
    status, reply, _ = c.http(method, path, body, key=key)
    assert status == expect, (method, path, status, reply)
    return reply


def z85(public):
    return public.decode() if isinstance(public, bytes) else public


class FeedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(env={"OIM_MATCH_MIN_SCORE": "0.1"}).__enter__()
        try:
            cls.c.start_all()
            cls.ctx = zmq.Context()
        except Exception:
            cls.c.__exit__(*sys.exc_info())
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ctx.destroy(linger=0)
        cls.c.__exit__(None, None, None)

    def sub(self, keypair, *topics, curve=True):
        """A SUB on the public feed, subscribed to topics (bytes)."""
        sock = self.ctx.socket(zmq.SUB) if not curve else self.c.curve_socket(self.ctx, zmq.SUB, keypair)
        sock.setsockopt(zmq.LINGER, 0)
        for t in topics:
            sock.setsockopt(zmq.SUBSCRIBE, t)
        sock.connect(self.c.feed_endpoint())
        return sock

    def drain(self, sock, seconds):
        """Every [topic, body] sock receives within seconds."""
        got, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            if sock.poll(50):
                got.append(sock.recv_multipart())
        return got

    def register(self, org_id, key=AGENCY_KEY, keypair=None):
        public, secret = keypair or zmq.curve_keypair()
        reply = api(self.c, "PUT", f"/v1/orgs/{org_id}/feed-key", {"curve_public_key": z85(public)},
                    key=key)
        self.assertEqual(reply["curve_public_key"], z85(public))
        return public, secret

    def denied(self, domain):
        return self.c.gateway_metric("oim_zap_denied_total", {"domain": domain})

    def test_1_only_the_own_organisation(self):
        c = self.c
        company_a = api(c, "POST", "/v1/orgs", {"kind": "company", "name": "Cathode Korea"}, expect=201)
        company_b = api(c, "POST", "/v1/orgs", {"kind": "company", "name": "Bread Holdings"}, expect=201)
        a, b = company_a["id"], company_b["id"]
        keys_a = self.register(a, key=company_a["api_key"])         # the owner
        keys_b = self.register(b)                                   # the agency
        applied = c.gateway_metric("oim_feed_subscriptions_total")
        refused = c.gateway_metric("oim_feed_subscriptions_refused_total")
        denied = self.denied("feed")
        plain = self.sub(None, b"", curve=False)
        stranger = self.sub(None, b"")                              # a random, unregistered key
        sub_a = self.sub(keys_a, b"", b.encode(), a.encode())       # only a's may apply
        sub_b = self.sub(keys_b, b.encode())
        wait_for(lambda: c.gateway_metric("oim_feed_subscriptions_total") >= applied + 2, 10,
                 "a's and b's own subscriptions applied")
        wait_for(lambda: c.gateway_metric("oim_feed_subscriptions_refused_total") >= refused + 2, 10,
                 'a\'s "" and b subscriptions refused')
        wait_for(lambda: self.denied("feed") >= denied + 1, 10, "the unregistered key denied")

        # Real notifications for both companies: a demand of each matching a startup of each.
        api(c, "POST", "/v1/orgs", {"kind": "startup", "name": "ReCell", "description":
            "We recycle lithium-ion batteries and recover cathode metals.",
            "tags": ["battery", "recycling"], "industries": ["C26"], "region": "KR-11",
            "stage": "seed"}, expect=201)
        api(c, "POST", "/v1/orgs", {"kind": "startup", "name": "Sourdough Lab", "description":
            "Artisan sourdough bread baked and delivered daily.", "tags": ["bread", "bakery"],
            "industries": ["C10"], "region": "KR-26", "stage": "seed"}, expect=201)
        api(c, "POST", "/v1/demands", {"title": "EV battery recycling partner", "description":
            "Recover lithium and cathode metals from used batteries.", "tags": ["battery",
            "recycling"], "industries": ["C26"], "regions": ["KR-11"], "stages": ["seed"]},
            key=company_a["api_key"], expect=201)
        api(c, "POST", "/v1/demands", {"title": "Bakery supplier for our cafes", "description":
            "Sourdough bread baked daily.", "tags": ["bread", "bakery"], "industries": ["C10"],
            "regions": ["KR-26"], "stages": ["seed"]}, key=company_b["api_key"], expect=201)

        def inbox(org):
            key = company_a["api_key"] if org == a else company_b["api_key"]
            return {n["id"] for n in api(c, "GET", "/v1/notifications", key=key)["notifications"]}
        ids_a = wait_for(lambda: inbox(a), 20, "a notification for company a")
        ids_b = wait_for(lambda: inbox(b), 20, "a notification for company b")

        pb = self.pb()
        got_a = self.drain(sub_a, 2.0)
        got_b = self.drain(sub_b, 0.5)
        # Every one of the org's notifications (those stored by then, and nothing but its
        # own: whatever arrived is in its inbox), none of the other's.
        for got, org, first in ((got_a, a, ids_a), (got_b, b, ids_b)):
            notes = [pb["notify"].Notification.FromString(m) for _, m in got]
            self.assertEqual({t for t, _ in got}, {org.encode()})
            self.assertEqual({n.org_id for n in notes}, {org})
            self.assertLessEqual(first, {n.id for n in notes})
            self.assertLessEqual({n.id for n in notes}, inbox(org))
        self.assertEqual(self.drain(plain, 0.3), [])
        self.assertEqual(self.drain(stranger, 0.3), [])
        for s in (plain, stranger, sub_a, sub_b):
            s.close()

    def test_2_revoked_and_suspended_keys_cannot_connect(self):
        c = self.c
        org = api(c, "POST", "/v1/orgs", {"kind": "company", "name": "Revoked Co"}, expect=201)
        other = api(c, "POST", "/v1/orgs", {"kind": "company", "name": "Suspended Co"}, expect=201)
        keys = self.register(org["id"], key=org["api_key"])
        keys_other = self.register(other["id"])
        # Works first: the subscription is applied.
        applied = c.gateway_metric("oim_feed_subscriptions_total")
        first = self.sub(keys, org["id"].encode())
        wait_for(lambda: c.gateway_metric("oim_feed_subscriptions_total") >= applied + 1, 10,
                 "the registered key's subscription")
        first.close()
        api(c, "DELETE", f"/v1/orgs/{org['id']}/feed-key", key=org["api_key"])
        self.assertEqual(c.http("DELETE", f"/v1/orgs/{org['id']}/feed-key", key=org["api_key"])[0], 404)
        api(c, "POST", f"/v1/orgs/{other['id']}/suspend")
        time.sleep(2.2)     # past the ZAP handler's cache (GATEWAY_ZAP_CACHE_MSEC)
        denied = self.denied("feed")
        applied = c.gateway_metric("oim_feed_subscriptions_total")
        again = self.sub(keys, org["id"].encode())
        suspended = self.sub(keys_other, other["id"].encode())
        wait_for(lambda: self.denied("feed") >= denied + 2, 10, "the revoked and suspended keys denied")
        time.sleep(0.5)
        self.assertEqual(c.gateway_metric("oim_feed_subscriptions_total"), applied)
        again.close()
        suspended.close()

    def publish(self, org_id):
        """One notification for org_id, as the matcher writes it to oim:events."""
        ntf = "ntf_" + "".join(str(d) for d in os.urandom(21))[:21].rjust(21, "0")
        ev = self.pb()["notify"].Event(id=ntf, type="match.created", org_id=org_id,
                                       created_at="2026-12-04T00:00:00.000Z", data_json="{}")
        subprocess.run(["redis-cli", "-s", self.c.redis_sock, "-x", "XADD", "oim:events", "*", "e"],
                       input=ev.SerializeToString(), check=True, capture_output=True)
        return ntf

    def received(self, sock, org_id, timeout=5.0):
        """Publishes for org_id until sock gets one (or timeout); True when it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.publish(org_id)
            if sock.poll(200):
                while sock.poll(100):
                    sock.recv_multipart()
                return True
        return False

    def test_4_revocation_cuts_off_an_open_connection(self):
        c = self.c
        gone = api(c, "POST", "/v1/orgs", {"kind": "company", "name": "Cut Off Co"}, expect=201)
        stays = api(c, "POST", "/v1/orgs", {"kind": "company", "name": "Stays Co"}, expect=201)
        sub_gone = self.sub(self.register(gone["id"]), gone["id"].encode())
        sub_stays = self.sub(self.register(stays["id"]), stays["id"].encode())
        self.assertTrue(self.received(sub_gone, gone["id"]), "the open connection works first")
        self.assertTrue(self.received(sub_stays, stays["id"]))
        api(c, "DELETE", f"/v1/orgs/{gone['id']}/feed-key")
        # The revoked one gets nothing anymore once the feed re-bound (this revocation's, or
        # one another test's revocation caused, if it came after the DELETE); the other
        # subscriber is back by itself.
        wait_for(lambda: not self.received(sub_gone, gone["id"], timeout=1.5), 15,
                 "the revoked subscriber cut off")
        self.assertGreaterEqual(c.gateway_metric("oim_feed_rebinds_total"), 1)
        self.assertTrue(self.received(sub_stays, stays["id"], timeout=10))
        self.assertFalse(self.received(sub_gone, gone["id"], timeout=2))
        sub_gone.close()
        sub_stays.close()

    def test_3_feed_key_api_rules(self):
        c = self.c
        one = api(c, "POST", "/v1/orgs", {"kind": "startup", "name": "One"}, expect=201)
        two = api(c, "POST", "/v1/orgs", {"kind": "startup", "name": "Two"}, expect=201)
        public, _ = zmq.curve_keypair()
        body = {"curve_public_key": z85(public)}
        api(c, "PUT", f"/v1/orgs/{one['id']}/feed-key", body, key=two["api_key"], expect=403)
        api(c, "PUT", f"/v1/orgs/{one['id']}/feed-key", body, key=None, expect=401)
        for bad in ("short", "x" * 40 + "y", "~" * 40, 5):
            api(c, "PUT", f"/v1/orgs/{one['id']}/feed-key", {"curve_public_key": bad},
                key=one["api_key"], expect=422)
        api(c, "PUT", f"/v1/orgs/{one['id']}/feed-key", body, key=one["api_key"])
        api(c, "PUT", f"/v1/orgs/{one['id']}/feed-key", body, key=one["api_key"])   # same: fine
        api(c, "PUT", f"/v1/orgs/{two['id']}/feed-key", body, key=two["api_key"], expect=409)
        # Rotation: the old key's record goes in the same transaction.
        newer, _ = zmq.curve_keypair()
        api(c, "PUT", f"/v1/orgs/{one['id']}/feed-key", {"curve_public_key": z85(newer)},
            key=one["api_key"])
        self.assertEqual(c.redis_cli("EXISTS", f"oim:curvekey:{z85(public)}"), "0")
        self.assertEqual(c.redis_cli("EXISTS", f"oim:curvekey:{z85(newer)}"), "1")
        api(c, "PUT", f"/v1/orgs/{two['id']}/feed-key", body, key=two["api_key"])   # free again

    _pb = None

    @classmethod
    def pb(cls):
        if cls._pb is None:
            cls._tmp = tempfile.mkdtemp(dir=cls.c.dir)
            cls._pb = proto_modules(cls._tmp)
        return cls._pb


class BrokerTest(unittest.TestCase):
    @staticmethod
    def send(sock, frames):
        """Sends without waiting: a socket whose handshake failed has no peer to queue for."""
        try:
            sock.send_multipart(frames, flags=zmq.DONTWAIT)
        except zmq.Again:
            pass

    def ready(self, pb):
        header = pb["wire"].Header(signature=0x4F494D31, version=1, command=pb["wire"].COMMAND_READY,
                                   service="registry", instance="registry@fake:1")
        return [header.SerializeToString(), b""]

    def test_fake_daemon_without_the_key_never_gets_a_request(self):
        with Cluster() as c, tempfile.TemporaryDirectory() as tmp:
            pb = proto_modules(tmp)
            c.start_all()
            ctx = zmq.Context()
            denied = c.gateway_metric("oim_zap_denied_total", {"domain": "internal"})
            fakes = [ctx.socket(zmq.DEALER), c.curve_socket(ctx, zmq.DEALER)]   # plain, random key
            for f in fakes:
                f.setsockopt(zmq.LINGER, 0)
                f.connect(c.ports["broker_endpoint"])
                self.send(f, self.ready(pb))
            wait_for(lambda: c.gateway_metric("oim_zap_denied_total", {"domain": "internal"}) > denied,
                     10, "the random key denied on the broker")
            # Requests keep going to the real registry (a registered fake would take its share
            # and leave them unanswered: 504).
            for i in range(40):
                status, body, _ = c.http("GET", "/v1/taxonomy", timeout=10)
                self.assertEqual(status, 200, body)
                for f in fakes:
                    self.send(f, self.ready(pb))
            self.assertEqual(c.workers().get("registry"), 1)
            for f in fakes:
                self.assertEqual(f.poll(200), 0)        # not even a heartbeat
            # The daemon key itself is accepted (the test's own socket with daemon.cert).
            real = c.curve_socket(ctx, zmq.DEALER, c.daemon_keypair())
            real.setsockopt(zmq.LINGER, 0)
            real.connect(c.ports["broker_endpoint"])
            real.send_multipart(self.ready(pb))
            self.assertTrue(real.poll(5000), "the broker talks to a READY with the daemon key")
            for s in fakes + [real]:
                s.close()
            ctx.term()


class ConfigTest(unittest.TestCase):
    def run_gateway(self, env, *args):
        out = subprocess.run([binary("oim-gateway"), "--http-port", "0", "--ingest-port", "0",
                              "--feed-port", "0", "--feed-proxy", "tcp://127.0.0.1:*"] + list(args),
                             env=dict(os.environ, OIM_LOG_LEVEL="info", **env), capture_output=True,
                             timeout=20)
        return out.returncode, (out.stdout + out.stderr).decode()

    def test_plain_mode_only_on_loopback(self):
        code, log = self.run_gateway({"OIM_CURVE": "off"}, "--broker-endpoint", "tcp://*:0")
        self.assertEqual(code, 1, log)
        self.assertIn("event=curve_off ", log)
        self.assertIn("event=curve_off_refused endpoint=tcp://*:0", log)

    def test_curve_on_without_keys_names_the_file(self):
        with tempfile.TemporaryDirectory() as empty:
            code, log = self.run_gateway({"OIM_CURVE_DIR": empty}, "--broker-endpoint",
                                         "tcp://127.0.0.1:0")
            self.assertEqual(code, 1, log)
            self.assertIn(f"file={empty}/gateway.cert_secret", log)
            code, log = subprocess.run(
                [binary("oim-registry")], env=dict(os.environ, OIM_CURVE_DIR=empty),
                capture_output=True, timeout=20).returncode, ""
            self.assertEqual(code, 1)

    def test_plain_cluster_still_works(self):
        with Cluster(curve=False) as c:
            c.start_all(services=("registry",))
            self.assertEqual(c.http("GET", "/v1/taxonomy")[0], 200)
            self.assertIn("event=curve_off ", c.gateway.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
