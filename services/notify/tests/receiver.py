#!/usr/bin/env python3
"""A real webhook receiver for oim-notify's tests.

Usage: receiver.py SECRET        (SECRET = "whsec_...")
Listens on 127.0.0.1, port chosen by the kernel, and prints "PORT <n>" on stdout.
Every POST is verified the Standard Webhooks way: with the `standardwebhooks` package when
this interpreter can import it, else with Python's hmac following the spec (stderr says
which). A missing or bad signature is answered 400 and counted as rejected.
The first path segment says how to answer:
    /ok/...            200 after verifying
    /fail/...          500
    /gone/...          410
    /flaky/N/...       500 for the first N requests to that path, 200 afterwards
    /hang/...          never answers (until the server stops)
    /slow/MS/...       200 after MS milliseconds
GET /stats returns {path: {"received", "verified", "rejected", "ids", "answered"}} as JSON.
"""
import base64
import hashlib
import hmac
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from standardwebhooks import Webhook
    VERIFIER = "standardwebhooks"
except ImportError:
    Webhook = None
    VERIFIER = "hmac"

SECRET = sys.argv[1]
STOP = threading.Event()
LOCK = threading.Lock()
STATS = {}


def verify_hmac(body, headers):
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        return False
    key = base64.b64decode(SECRET[len("whsec_"):])
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(s.partition(",")[2], expected)
               for s in signatures.split(" ") if s.startswith("v1,"))


def verify(body, headers):
    if Webhook is None:
        return verify_hmac(body, headers)
    try:
        Webhook(SECRET).verify(body, {k.lower(): v for k, v in headers.items()})
        return True
    except Exception:
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            self.answer(200, json.dumps(STATS).encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = verify(body, self.headers)
        parts = self.path.strip("/").split("/")
        with LOCK:
            entry = STATS.setdefault(self.path, {"received": 0, "verified": 0, "rejected": 0,
                                                 "ids": [], "answered": []})
            entry["received"] += 1
            entry["verified" if ok else "rejected"] += 1
            entry["ids"].append(self.headers.get("webhook-id"))
            count = entry["received"]
        if not ok:
            code = 400
        elif parts[0] == "hang":
            STOP.wait(60)
            return
        elif parts[0] == "fail":
            code = 500
        elif parts[0] == "slow":
            STOP.wait(int(parts[1]) / 1000)
            code = 200
        elif parts[0] == "gone":
            code = 410
        elif parts[0] == "flaky":
            code = 500 if count <= int(parts[1]) else 200
        else:
            code = 200
        with LOCK:
            entry["answered"].append(code)
        self.answer(code)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("PORT", server.server_address[1], flush=True)
    print("receiver: verifying with", VERIFIER, file=sys.stderr, flush=True)
    import signal
    signal.signal(signal.SIGTERM, lambda *a: (STOP.set(), threading.Thread(
        target=server.shutdown).start()))
    server.serve_forever()


if __name__ == "__main__":
    main()
