"""The gateway's HTTP side holds against one client or one key (issue 13, items 3, 5, 6, 7):

* A key whose organisation is not active is anonymous: a self-registered (pending) startup
  reads no `members` demand and writes nothing, but reads itself and /v1/whoami, which reports
  its organisation's status.
* An open SSE stream ends within 5 s of its organisation's suspension or its key's rotation.
* Rate limits: failed authentications (random keys, a malformed header) are throttled per
  client address in a stricter bucket (429) that is checked before the key is looked up; the
  scheme name is case-insensitive and counted once (`bEaReR k` and `Bearer k` share k's
  bucket); /v1/whoami and /v1/status are limited; anonymous self-registration is limited per
  address per hour.
* One client cannot take the server: connections beyond the per-address cap are closed at
  once, a silent connection is closed after the idle timeout, and while one address holds its
  cap of connections dribbling a byte a second another client's requests are each answered
  within SLOW_CLIENT_BOUND_S. A route that needs a key answers 401 to a request without one
  before its body is sent.
* SSE streams are capped per key (429) and in total (503).
* The registry refuses to start with an OIM_BOOTSTRAP_AGENCY_KEY under 32 characters.
* A daemon's reply body is copied by its length: a NUL inside arrives whole (a fake daemon with
  the daemon key answers for the registry).

Clients with their own buckets connect from other loopback addresses (127.0.0.2, ...).
"""
import http.client
import json
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
import unittest

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import AGENCY_KEY, Cluster, proto_modules, wait_for  # noqa: E402

SLOW_CLIENT_BOUND_S = 1.0       # the slowest answer another client may see during the attack


def request(c, method, path, body=None, auth=None, source="127.0.0.1", timeout=10):
    """One request from a chosen source address with a raw Authorization value.
    Returns (status, parsed JSON or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", c.ports["http_port"], timeout=timeout,
                                      source_address=(source, 0))
    headers = {"Authorization": auth} if auth else {}
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    if payload and "json" in resp.getheader("Content-Type", ""):
        return resp.status, json.loads(payload)
    return resp.status, payload


def api(c, method, path, body=None, key=None, expect=200):
    status, reply, _ = c.http(method, path, body, key=key)
    assert status == expect, (method, path, status, reply)
    return reply


def create_org(c, **fields):
    return api(c, "POST", "/v1/orgs", fields, key=AGENCY_KEY, expect=201)


class Stream:
    """A raw SSE client: status, then bytes until the server ends the stream."""

    def __init__(self, c, key):
        self.sock = socket.create_connection(("127.0.0.1", c.ports["http_port"]), timeout=10)
        self.sock.sendall(f"GET /v1/notifications/stream HTTP/1.1\r\nHost: x\r\n"
                          f"Authorization: Bearer {key}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ")[1]) if head else 0

    def seconds_until_closed(self, limit):
        """Reads until the server closes the stream; the time it took (or None past limit)."""
        start = time.monotonic()
        self.sock.settimeout(0.5)
        while time.monotonic() - start < limit:
            try:
                if not self.sock.recv(4096):
                    return time.monotonic() - start
            except socket.timeout:
                continue
            except ConnectionResetError:
                return time.monotonic() - start
        return None

    def close(self):
        self.sock.close()


class StandingTest(unittest.TestCase):
    def test_pending_org_is_anonymous_except_itself_and_whoami(self):
        with Cluster() as c:
            c.start_all()
            company = create_org(c, kind="company", name="Members Holding", region="KR-11")
            pending = api(c, "POST", "/v1/orgs", {"kind": "startup", "name": "Pending Valve",
                                                  "tags": ["hydrogen"]}, expect=201)
            self.assertEqual(pending["status"], "pending")
            pkey = pending["api_key"]
            demand = api(c, "POST", "/v1/demands", {
                "title": "Hydrogen valve supply", "tags": ["hydrogen"], "visibility": "members",
                "description": "membersonly specification"}, key=company["api_key"], expect=201)
            anonymous = c.http("GET", f"/v1/demands/{demand['id']}")[0]
            self.assertIn(anonymous, (403, 404))
            self.assertEqual(c.http("GET", f"/v1/demands/{demand['id']}", key=pkey)[0], anonymous)
            # a key-only route: recognised but not allowed, before the body is looked at
            status, body, _ = c.http("POST", "/v1/demands", {"title": "x"}, key=pkey)
            self.assertEqual((status, body["error"]["code"]), (403, "org_not_active"))
            self.assertEqual(api(c, "GET", f"/v1/orgs/{pending['id']}", key=pkey)["status"], "pending")
            who = api(c, "GET", "/v1/whoami", key=pkey)
            self.assertEqual((who["org_id"], who["org_status"], who["in_standing"]),
                             (pending["id"], "pending", False))
            self.assertEqual(c.http("GET", "/v1/notifications/stream", key=pkey)[0], 403)
            # approved: the same key is in standing at once
            api(c, "POST", f"/v1/orgs/{pending['id']}/approve", {}, key=AGENCY_KEY)
            self.assertEqual(api(c, "GET", "/v1/whoami", key=pkey)["org_status"], "active")
            self.assertEqual(c.http("GET", f"/v1/demands/{demand['id']}", key=pkey)[0], 200)

    def test_open_stream_ends_on_suspension_and_rotation(self):
        with Cluster() as c:
            c.start_all()
            suspended = create_org(c, kind="company", name="Suspended Co", region="KR-11")
            rotated = create_org(c, kind="company", name="Rotated Co", region="KR-11")
            s1, s2 = Stream(c, suspended["api_key"]), Stream(c, rotated["api_key"])
            self.assertEqual((s1.status, s2.status), (200, 200))
            api(c, "POST", f"/v1/orgs/{suspended['id']}/suspend", {}, key=AGENCY_KEY)
            took = s1.seconds_until_closed(8)
            self.assertIsNotNone(took, "the suspended org's stream stayed open")
            self.assertLess(took, 5.0)
            new_key = api(c, "POST", f"/v1/orgs/{rotated['id']}/api-keys", key=rotated["api_key"],
                          expect=201)["api_key"]
            keys = api(c, "GET", f"/v1/orgs/{rotated['id']}/api-keys", key=new_key)["items"]
            old_id = next(k["id"] for k in keys if k["name"] == "initial")
            c.http("DELETE", f"/v1/orgs/{rotated['id']}/api-keys/{old_id}", key=new_key)
            took = s2.seconds_until_closed(8)
            self.assertIsNotNone(took, "the rotated key's stream stayed open")
            self.assertLess(took, 5.0)
            s1.close()
            s2.close()
            s3 = Stream(c, new_key)
            self.assertEqual(s3.status, 200)
            self.assertIsNone(s3.seconds_until_closed(3), "the new key's stream stays open")
            s3.close()


class AgencyKeyTest(unittest.TestCase):
    def test_registry_refuses_a_short_agency_key(self):
        with Cluster() as c:
            c.start_redis()
            c.start_gateway()
            proc = c.start("registry", OIM_BOOTSTRAP_AGENCY_KEY="x" * 31)
            self.assertEqual(proc.wait(30), 1)
            self.assertIn("bootstrap_refused", proc.log())
            c.daemons["registry"].clear()
            # even when an agency exists already (a restart with a weak key)
            proc = c.start("registry")
            wait_for(lambda: c.http("GET", "/v1/whoami", key=AGENCY_KEY)[0] == 200, 15, "the agency")
            proc.signal(15)
            proc.wait(10)
            c.daemons["registry"].clear()
            proc = c.start("registry", OIM_BOOTSTRAP_AGENCY_KEY="y" * 31)
            self.assertEqual(proc.wait(30), 1)
            c.daemons["registry"].clear()


class RateLimitTest(unittest.TestCase):
    ENV = {"OIM_RATE_LIMIT": "2", "OIM_RATE_BURST": "10", "OIM_AUTH_FAIL_LIMIT_PER_MINUTE": "6",
           "OIM_AUTH_FAIL_BURST": "5", "OIM_SIGNUP_LIMIT_PER_HOUR": "3"}

    def test_failed_authentications_throttled_harder(self):
        with Cluster(env=self.ENV) as c:
            c.start_all()
            statuses = [request(c, "GET", "/v1/search?q=x", auth=f"Bearer {secrets.token_hex(16)}",
                                source="127.0.0.2")[0] for _ in range(12)]
            self.assertEqual(statuses[:5], [401] * 5, statuses)       # the failure burst
            self.assertEqual(statuses[6:], [429] * 6, statuses)
            # a malformed header counts as a failure too, whatever the scheme's case
            self.assertEqual(request(c, "GET", "/v1/search?q=x", auth="bEaReR", source="127.0.0.2")[0], 429)
            self.assertEqual(request(c, "GET", "/v1/search?q=x", auth="Basic Zm9v", source="127.0.0.3")[0], 401)
            # anonymous requests from the throttled address have their own, laxer bucket
            self.assertEqual(request(c, "GET", "/v1/search?q=x", source="127.0.0.2")[0], 200)

    def test_scheme_case_counted_once_and_whoami_status_limited(self):
        with Cluster(env=self.ENV) as c:
            c.start_all()
            key = create_org(c, kind="company", name="Case Co", region="KR-11")["api_key"]
            ok = 0
            for i in range(20):           # two spellings, one bucket: the burst of 10, not 20
                status = request(c, "GET", "/v1/whoami", auth=("bEaReR " if i % 2 else "Bearer ") + key,
                                 source="127.0.0.4")[0]
                self.assertIn(status, (200, 429))
                ok += status == 200
            self.assertLessEqual(ok, 13, "each spelling had a bucket of its own")
            self.assertGreaterEqual(ok, 10)
            statuses = [request(c, "GET", "/v1/status", source="127.0.0.5")[0] for _ in range(20)]
            self.assertIn(429, statuses)
            self.assertLessEqual(statuses.count(200), 13)
            for path in ("/healthz", "/readyz", "/metrics"):         # never limited
                self.assertEqual(request(c, "GET", path, source="127.0.0.5")[0], 200, path)

    def test_self_registration_limited_per_address(self):
        with Cluster(env=self.ENV) as c:
            c.start_all()
            statuses = [request(c, "POST", "/v1/orgs", {"kind": "startup", "name": f"Signup {i}"},
                                source="127.0.0.6")[0] for i in range(5)]
            self.assertEqual(statuses, [201, 201, 201, 429, 429])
            self.assertEqual(request(c, "POST", "/v1/orgs", {"kind": "startup", "name": "Other"},
                                     source="127.0.0.7")[0], 201)
            # the agency is not limited by it
            self.assertEqual(c.http("POST", "/v1/orgs", {"kind": "startup", "name": "By agency"},
                                    key=AGENCY_KEY)[0], 201)


class SlowClientTest(unittest.TestCase):
    CAP = 16

    def test_dribbling_client_does_not_stop_others(self):
        env = {"OIM_HTTP_MAX_CONNECTIONS_PER_ADDRESS": str(self.CAP), "OIM_HTTP_IDLE_TIMEOUT_S": "3"}
        with Cluster(env=env) as c:
            c.start_all()
            port = c.ports["http_port"]
            # a route that needs a key answers 401 before the announced body is sent
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /v1/demands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100000\r\n\r\n")
            self.assertIn(b" 401 ", s.recv(4096))
            s.close()
            attackers = []
            for _ in range(4 * self.CAP):
                a = socket.socket()
                a.bind(("127.0.0.2", 0))
                a.connect(("127.0.0.1", port))
                a.sendall(b"GET /v1/search?q=")
                attackers.append(a)
            worst = 0.0
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:     # the attack goes on: a byte a second each
                for a in attackers:
                    try:
                        a.send(b"x")
                    except OSError:
                        pass
                for _ in range(5):
                    t0 = time.monotonic()
                    status = c.http("GET", "/v1/status", timeout=10)[0]
                    worst = max(worst, time.monotonic() - t0)
                    self.assertEqual(status, 200)
                time.sleep(0.2)
            open_ = 0
            for a in attackers:
                a.setblocking(False)
                try:
                    open_ += a.recv(1) != b""
                except BlockingIOError:
                    open_ += 1
                except OSError:
                    pass
            print(f"slow-client: worst answer {worst * 1000:.0f} ms, attacker connections open "
                  f"{open_}/{len(attackers)}", file=sys.stderr)
            self.assertLess(worst, SLOW_CLIENT_BOUND_S)
            self.assertLessEqual(open_, self.CAP, "connections beyond the per-address cap stay open")
            # a connection that stays silent is closed after the idle timeout
            idle = socket.create_connection(("127.0.0.1", port), timeout=10)
            t0 = time.monotonic()
            self.assertEqual(idle.recv(1), b"")
            self.assertLess(time.monotonic() - t0, 6)
            for a in attackers + [idle]:
                a.close()


class StreamCapTest(unittest.TestCase):
    def test_streams_capped_per_key_and_in_total(self):
        env = {"OIM_SSE_MAX_STREAMS_PER_KEY": "2", "OIM_SSE_MAX_STREAMS": "3"}
        with Cluster(env=env) as c:
            c.start_all()
            a = create_org(c, kind="company", name="A Co", region="KR-11")["api_key"]
            b = create_org(c, kind="company", name="B Co", region="KR-11")["api_key"]
            streams = [Stream(c, a), Stream(c, a)]
            extra = Stream(c, a)
            self.assertEqual([s.status for s in streams] + [extra.status], [200, 200, 429])
            extra.close()
            streams.append(Stream(c, b))
            self.assertEqual(streams[-1].status, 200)
            extra = Stream(c, b)
            self.assertEqual(extra.status, 503)                # the total cap
            extra.close()
            streams.pop(0).close()
            wait_for(lambda: stream_status(c, b) == 200, 10, "a freed slot")
            for s in streams:
                s.close()


def stream_status(c, key):
    stream = Stream(c, key)
    stream.close()
    return stream.status


class ReplyBodyTest(unittest.TestCase):
    def test_nul_inside_a_reply_body_arrives_whole(self):
        with Cluster() as c, tempfile.TemporaryDirectory() as tmp:
            pb = proto_modules(tmp)
            c.start_redis()
            c.start_gateway()
            ctx = zmq.Context()
            fake = c.curve_socket(ctx, zmq.DEALER, c.daemon_keypair())
            fake.setsockopt(zmq.LINGER, 0)
            fake.connect(c.ports["broker_endpoint"])
            ready = pb["wire"].Header(signature=0x4F494D31, version=1, command=pb["wire"].COMMAND_READY,
                                      service="registry", instance="registry@fake:1")
            fake.send_multipart([ready.SerializeToString(), b""])
            body = b'{"text":"before\x00after","tail":"' + b"z" * 100 + b'"}'
            heartbeat = pb["wire"].Header(signature=0x4F494D31, version=1,
                                          command=pb["wire"].COMMAND_HEARTBEAT).SerializeToString()
            stop = threading.Event()

            def serve():        # a worker: heartbeats, and taxonomy.get answered with body
                while not stop.is_set():
                    fake.send_multipart([heartbeat, b""])
                    if not fake.poll(100):
                        continue
                    frames = fake.recv_multipart()
                    header = pb["wire"].Header.FromString(frames[0])
                    if header.command != pb["wire"].COMMAND_REQUEST or header.method != "taxonomy.get":
                        continue
                    reply = pb["wire"].Header(signature=0x4F494D31, version=1,
                                              command=pb["wire"].COMMAND_REPLY,
                                              correlation_id=header.correlation_id,
                                              client=header.client, status=200)
                    api_reply = pb["api"].ApiReply(status=200, body=body)
                    fake.send_multipart([reply.SerializeToString(), api_reply.SerializeToString()])
            thread = threading.Thread(target=serve)
            thread.start()
            try:
                wait_for(lambda: c.http("GET", "/healthz")[0] == 200 and raw_get(c, "/v1/taxonomy")[0] == 200,
                         10, "the fake registry to answer")
                status, got = raw_get(c, "/v1/taxonomy")
            finally:
                stop.set()
                thread.join(5)
                fake.close()
                ctx.term()
            self.assertEqual(status, 200)
            self.assertEqual(got, body)


def raw_get(c, path):
    conn = http.client.HTTPConnection("127.0.0.1", c.ports["http_port"], timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    got = resp.read()
    conn.close()
    return resp.status, got


if __name__ == "__main__":
    unittest.main(verbosity=2)
