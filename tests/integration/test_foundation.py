"""Foundation integration tests (issue 2): the spine works for real — HTTP -> broker ->
daemon -> Redis -> back, daemons die and come back, replicas share load, the gateway and
Redis restart under running daemons, and garbage never crashes anything."""
import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import Cluster, SERVICES, wait_for  # noqa: E402

import zmq  # noqa: E402


class StatusTest(unittest.TestCase):
    def test_status_round_trip_through_every_daemon(self):
        with Cluster() as c:
            c.start_all()
            status, body, headers = c.http("GET", "/v1/status")
            self.assertEqual(status, 200)
            self.assertIn("X-Request-Id", headers)
            seen = {e["service"]: e for e in body["services"]}
            self.assertEqual(set(seen), set(SERVICES))
            for entry in seen.values():
                self.assertTrue(entry["redis_ok"], entry)
                self.assertEqual(entry["version"], body["gateway"]["version"])
                self.assertGreaterEqual(int(entry["uptime_ms"]), 0)
            status, body, _ = c.http("GET", "/v1/status/registry")
            self.assertEqual((status, body["service"]), (200, "registry"))
            self.assertEqual(c.http("GET", "/healthz")[0], 200)
            status, body, _ = c.http("GET", "/readyz")
            self.assertEqual((status, body["status"]), (200, "ready"), body)

    def test_console_and_whoami(self):
        from oimtest import AGENCY_KEY
        with Cluster() as c:
            c.start_all()
            status, page, headers = c.http("GET", "/")
            self.assertEqual(status, 200)
            self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
            self.assertIn("OI 마켓", page)
            self.assertEqual(c.http("GET", "/v1/whoami")[0], 401)
            wait_for(lambda: c.http("GET", "/v1/whoami", key=AGENCY_KEY)[0] == 200, 5, "the bootstrap agency")
            status, body, _ = c.http("GET", "/v1/whoami", key=AGENCY_KEY)
            self.assertEqual(body["role"], "agency")
            self.assertTrue(body["org_id"].startswith("org_"))

    def test_readyz_names_what_is_missing(self):
        with Cluster() as c:
            c.start_all(services=("registry", "search", "matcher"))
            status, body, _ = c.http("GET", "/readyz")
            self.assertEqual(status, 503)
            self.assertEqual(body["checks"]["notify"], "no live worker")
            self.assertEqual(body["checks"]["registry"], "ok")

    def test_metrics_cover_gateway_and_daemons(self):
        with Cluster() as c:
            c.start_all()
            c.http("GET", "/v1/status")
            status, text, headers = c.http("GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(headers["Content-Type"].startswith("text/plain"))
            self.assertIn("oim_http_requests_total", text)
            for service in SERVICES:
                self.assertIn(f'service="{service}"', text)
            # one HELP/TYPE per family, as Prometheus requires
            types = [line for line in text.splitlines() if line.startswith("# TYPE ")]
            self.assertEqual(len(types), len(set(types)))

    def test_sigterm_stops_daemons_cleanly(self):
        with Cluster() as c:
            c.start_all()
            for service in SERVICES:
                self.assertEqual(c.kill(service, sig=signal.SIGTERM), 0, service)


class UsageTest(unittest.TestCase):
    def test_every_binary_has_help_and_env_configuration(self):
        import subprocess
        from oimtest import binary
        for name in ["oim-gateway"] + [f"oim-{s}" for s in SERVICES]:
            out = subprocess.run([binary(name), "--help"], capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 0, name)
            self.assertIn("Usage:", out.stdout)
            self.assertIn("OIM_REDIS_URL", out.stdout, name)
            self.assertIn("OIM_LOG_LEVEL", out.stdout, name)
            out = subprocess.run([binary(name), "--no-such-flag"], capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 2, name)
            self.assertIn("unknown option", out.stderr)

    def test_healthcheck_reflects_the_daemon(self):
        import subprocess
        from oimtest import binary
        with Cluster() as c:
            c.start_all()
            health = os.path.join(c.dir, "registry-0.health")
            wait_for(lambda: os.path.exists(health), 5, "the health file")
            check = lambda: subprocess.run([binary("oim-registry"), "--healthcheck", "--health-file",
                                            health], capture_output=True).returncode
            self.assertEqual(check(), 0)
            c.kill("registry", sig=signal.SIGTERM)
            self.assertEqual(check(), 1)        # removed on a clean stop


class FailureTest(unittest.TestCase):
    def test_killed_daemon_gets_503_quickly_then_served_after_restart(self):
        with Cluster() as c:
            c.start_all()
            c.kill("matcher")
            started = time.monotonic()
            wait_for(lambda: c.http("GET", "/v1/status/matcher")[0] == 503, 5,
                     "503 for a dead daemon")
            self.assertLess(time.monotonic() - started, 5)
            status, body, _ = c.http("GET", "/v1/status/matcher")
            self.assertEqual(body["error"]["code"], "unavailable")
            c.restart("matcher")
            wait_for(lambda: c.http("GET", "/v1/status/matcher")[0] == 200, 10,
                     "the restarted daemon to be served")

    def test_two_replicas_kill_one_no_failures_beyond_in_flight(self):
        with Cluster() as c:
            c.start_all()
            c.start("registry")
            c.wait_registered({"registry": 2})
            failures, total = [], [0]
            stop = threading.Event()

            def load():
                while not stop.is_set():
                    status = c.http("GET", "/v1/status/registry")[0]
                    total[0] += 1
                    if status != 200:
                        failures.append(status)

            thread = threading.Thread(target=load)
            thread.start()
            wait_for(lambda: total[0] > 50, 10, "load to run")
            c.kill("registry", index=0)
            seen = total[0]
            wait_for(lambda: total[0] > seen + 200, 20, "load to continue")
            stop.set()
            thread.join()
            self.assertLessEqual(len(failures), 1, failures)

    def test_gateway_restart_daemons_reregister(self):
        with Cluster() as c:
            c.start_all()
            c.restart_gateway()
            c.wait_registered({s: 1 for s in SERVICES}, timeout=15)
            self.assertEqual(c.http("GET", "/readyz")[0], 200)

    def test_redis_down_then_back_without_restarting_anything(self):
        with Cluster() as c:
            c.start_all()
            c.stop_redis()
            wait_for(lambda: c.http("GET", "/readyz")[0] == 503, 10, "readyz 503 without Redis")
            status, body, _ = c.http("GET", "/v1/status/registry")
            self.assertEqual(status, 200)
            self.assertFalse(body["redis_ok"])
            c.start_redis()
            wait_for(lambda: c.http("GET", "/readyz")[0] == 200, 15, "ready again")
            wait_for(lambda: c.http("GET", "/v1/status/registry")[1]["redis_ok"], 10,
                     "daemon reconnected to Redis")


class RateLimitTest(unittest.TestCase):
    def test_429_with_retry_after_per_client(self):
        with Cluster(env={"OIM_RATE_LIMIT": "5", "OIM_RATE_BURST": "10"}) as c:
            c.start_all()
            statuses = [c.http("GET", "/v1/search?q=x")[0] for _ in range(30)]
            self.assertIn(429, statuses)
            self.assertLessEqual(statuses.count(200), 12)     # the burst, and a token or two
            status, body, headers = c.http("GET", "/v1/search?q=x")
            self.assertEqual((status, body["error"]["code"]), (429, "rate_limited"))
            self.assertGreaterEqual(int(headers["Retry-After"]), 1)
            # /healthz, /readyz and /metrics are never limited (/v1/status is, like the API);
            # another client has its own bucket
            self.assertEqual(c.http("GET", "/readyz")[0], 200)
            self.assertEqual(c.http("GET", "/healthz")[0], 200)
            self.assertEqual(c.http("GET", "/v1/status")[0], 429)
            status = c.http("GET", "/v1/search?q=x", key="some-other-key")[0]
            self.assertEqual(status, 401)                     # limited separately: reaches auth
            wait_for(lambda: c.http("GET", "/v1/search?q=x")[0] == 200, 5, "tokens to refill")


class RedisUrlTest(unittest.TestCase):
    def test_password_and_db_in_the_url(self):
        with Cluster() as c:
            c.redis_extra = ["--requirepass", "s3cret"]
            c.redis_cli = lambda *a: subprocess_cli(c, "s3cret", *a)
            c.start_redis()
            c.redis_url = f"unix://{c.redis_sock}?db=3&password=s3cret"
            c.start_gateway()
            c.start("registry")
            c.start("matcher", OIM_REDIS_URL=f"unix://{c.redis_sock}?password=wrong")
            c.wait_registered({"registry": 1, "matcher": 1})
            self.assertTrue(c.http("GET", "/v1/status/registry")[1]["redis_ok"])
            status, body, _ = c.http("GET", "/v1/status/matcher")
            self.assertFalse(body["redis_ok"])
            self.assertIn("WRONGPASS", body["redis_error"])


def subprocess_cli(c, password, *args):
    import subprocess
    out = subprocess.run(["redis-cli", "-s", c.redis_sock, "-a", password, "--no-auth-warning"]
                         + [str(a) for a in args], capture_output=True, timeout=10)
    return out.stdout.decode().strip()


class BadInputTest(unittest.TestCase):
    def test_http_errors_have_the_spec_shape(self):
        with Cluster() as c:
            c.start_all()
            cases = [
                ("GET", "/nowhere", None, 404, "not_found"),
                ("DELETE", "/v1/status", None, 405, "method_not_allowed"),
                ("POST", "/v1/orgs", b"{not json", 400, "invalid"),
                ("POST", "/v1/orgs", b'{"name": "\xff\xfe"}', 400, "invalid"),
                ("POST", "/v1/orgs", b'{"a": 1, "a": 2}', 400, "invalid"),
                ("POST", "/v1/orgs", b"x" * (1024 * 1024 + 1), 413, "too_large"),
                ("PATCH", "/v1/orgs/org_x", b"{}", 401, "unauthorized"),
            ]
            for method, path, raw, code, name in cases:
                status, body, headers = c.http(method, path, raw=raw)
                self.assertEqual(status, code, (method, path, body))
                self.assertEqual(body["error"]["code"], name, body)
                self.assertIn("message", body["error"])
                self.assertTrue(headers["Content-Type"].startswith("application/json"))
            status, _, headers = c.http("DELETE", "/v1/status")
            self.assertEqual(headers.get("Allow"), "GET")
            status, body, _ = c.http("GET", "/v1/status", key="no-such-key")
            self.assertEqual(status, 401)       # public endpoint, but a key sent is checked ...
            status, body, _ = c.http("PATCH", "/v1/orgs/x", raw=b"{}", key="no-such-key")
            self.assertEqual((status, body["error"]["code"]), (401, "unauthorized"))
            self.assertEqual(c.http("GET", "/readyz")[0], 200)

    def test_oversized_body_over_raw_socket(self):
        """A body far over the limit, announced by Content-Length, is refused unread."""
        with Cluster() as c:
            c.start_all()
            s = socket.create_connection(("127.0.0.1", c.ports["http_port"]))
            s.sendall(b"POST /v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1073741824\r\n\r\n{")
            reply = s.recv(4096)
            s.close()
            self.assertIn(b" 413 ", reply.split(b"\r\n")[0])
            self.assertEqual(c.http("GET", "/readyz")[0], 200)

    def test_garbage_zeromq_frames_do_not_crash(self):
        with Cluster() as c:
            c.start_all()
            ctx = zmq.Context()
            # Garbage from holders of the right keys: the daemons' on the broker, a registered
            # publisher's on ingest (without them the handshake fails before any frame).
            dealer = c.curve_socket(ctx, zmq.DEALER, c.daemon_keypair())
            dealer.setsockopt(zmq.LINGER, 1000)
            dealer.connect(c.ports["broker_endpoint"])
            garbage = [[b""], [b"\x00" * 10], [b"hello", b"world"], [b"a", b"b", b"c", b"d", b"e"],
                       [os.urandom(5000), b""], [b"\x0d\x31\x4d\x49\x4f", os.urandom(9 * 1024 * 1024)],
                       [os.urandom(64), os.urandom(64)]]
            for frames in garbage:
                dealer.send_multipart(frames)
            ingest = c.curve_socket(ctx, zmq.DEALER, c.register_curve_key(
                "publisher", publisher_id="pub_0000000000000000000G0", source_system="garbage"))
            ingest.setsockopt(zmq.LINGER, 1000)
            ingest.setsockopt(zmq.RCVTIMEO, 10000)
            ingest.connect(f"tcp://127.0.0.1:{c.ports['ingest_port']}")
            ingest.send_multipart([b"a", b"b", b"c"])            # three frames: refused
            reply = ingest.recv()           # an IngestAck with an error status, not silence
            self.assertTrue(len(reply) > 0)
            # (a message over the ingest's 2 MiB limit drops the connection instead:
            # test_security_ingest)
            # The broker and every daemon still work.
            c.wait_registered({s: 1 for s in SERVICES})
            self.assertEqual(c.http("GET", "/readyz")[0], 200)
            status, text, _ = c.http("GET", "/metrics")
            garbage_lines = [l for l in text.splitlines()
                             if l.startswith("oim_broker_garbage_total")]
            self.assertTrue(garbage_lines and int(garbage_lines[0].split()[-1]) >= 5, garbage_lines)
            self.assertTrue(c.gateway.alive())
            for s in ("dealer", "ingest"):
                locals()[s].close()
            ctx.term()


if __name__ == "__main__":
    unittest.main(verbosity=2)
