"""GET /v1/notifications/stream (Server-Sent Events from the org's feed stream in Redis):
live delivery, Last-Event-ID resume, isolation between organizations, auth."""
import hashlib
import os
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import Cluster, proto_modules, wait_for  # noqa: E402


class SSEReader:
    """A raw HTTP client reading an SSE stream event by event."""

    def __init__(self, port, key, last_event_id=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        headers = f"GET /v1/notifications/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        if last_event_id:
            headers += f"Last-Event-ID: {last_event_id}\r\n"
        self.sock.sendall((headers + "\r\n").encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1])

    def _until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        head, self.buf = self.buf.split(marker, 1)
        return head

    def event(self):
        """Next real event as a dict {id, event, data} (chunk framing and comments skipped)."""
        while True:
            block = self._until(b"\n\n").decode()
            fields = {}
            for line in block.splitlines():
                if ":" in line and not line.startswith(":"):
                    k, v = line.split(":", 1)
                    fields[k.strip()] = v.strip()
            if "id" in fields:
                return fields

    def close(self):
        self.sock.close()


class SSETest(unittest.TestCase):
    def test_live_resume_and_isolation(self):
        with Cluster() as c, tempfile.TemporaryDirectory() as tmp:
            c.start_all()
            pb = proto_modules(tmp)

            def add_key(key, org):
                rec = pb["registry"].ApiKeyRecord(key_id="key_" + org, role=pb["common"].ROLE_COMPANY, org_id=org)
                digest = hashlib.sha256(key.encode()).hexdigest()
                subprocess_set(c, f"oim:apikey:{digest}", rec.SerializeToString())
                # the gateway serves streams to active organisations only
                org_rec = pb["registry"].Organization(id=org, kind="company", status="active")
                subprocess_set(c, f"oim:org:{org}", org_rec.SerializeToString())

            def publish(org, n):
                note = pb["notify"].Notification(id=f"ntf_{org}_{n}", type="match.created", org_id=org,
                                                 created_at="2026-11-30T00:00:00.000Z",
                                                 data_json='{"match_id": "mat_%d", "이름": "배터리"}' % n)
                return subprocess_xadd(c, f"oim:feed:{org}", note.SerializeToString())

            add_key("key-a", "org_A")
            add_key("key-b", "org_B")
            self.assertEqual(c.http("GET", "/v1/notifications/stream")[0], 401)
            self.assertEqual(c.http("GET", "/v1/notifications/stream", key="wrong")[0], 401)
            reader = SSEReader(c.ports["http_port"], "key-a")
            self.assertEqual(reader.status, 200)
            publish("org_B", 0)                       # another org's: never shown to A
            first = publish("org_A", 1)
            ev = reader.event()
            self.assertEqual((ev["id"], ev["event"]), (first, "match.created"))
            self.assertIn('"이름":"배터리"', ev["data"])
            reader.close()
            # while disconnected, two more arrive; resume from the last seen id gets both
            second, third = publish("org_A", 2), publish("org_A", 3)
            reader = SSEReader(c.ports["http_port"], "key-a", last_event_id=first)
            self.assertEqual([reader.event()["id"], reader.event()["id"]], [second, third])
            reader.close()
            # a malformed Last-Event-ID starts from now (found reading the fuzz harness list:
            # "1-2-3" passed the old digits-and-dashes check and broke every XREAD)
            for bad in ("1-2-3", "-", "12-", "x"):
                reader = SSEReader(c.ports["http_port"], "key-a", last_event_id=bad)
                self.assertEqual(reader.status, 200, bad)
                fresh = publish("org_A", 10)
                self.assertEqual(reader.event()["id"], fresh, bad)
                reader.close()


def subprocess_set(c, key, value):
    import subprocess
    subprocess.run(["redis-cli", "-s", c.redis_sock, "-x", "SET", key], input=value, check=True,
                   capture_output=True)


def subprocess_xadd(c, key, value):
    import subprocess
    out = subprocess.run(["redis-cli", "-s", c.redis_sock, "-x", "XADD", key, "*", "n"], input=value,
                         check=True, capture_output=True)
    return out.stdout.decode().strip()


if __name__ == "__main__":
    unittest.main(verbosity=2)
