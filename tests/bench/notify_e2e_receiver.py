#!/usr/bin/env python3
"""The benchmark's webhook receiver (tests/bench/notify_e2e.py): asyncio, HTTP/1.1 keep-alive,
one thread. Prints "PORT <n>". For every POST it records (webhook-id, receive time in ns) and
verifies the signature with hmac (the secret is argv[1]); paths under /hang/ are never
answered, /ref/ is the reference load (no signature expected). GET /dump returns
{"received": [[id, ns], ...], "rejected": n} and clears the record."""
import asyncio
import base64
import hashlib
import hmac
import json
import sys
import time

KEY = base64.b64decode(sys.argv[1][len("whsec_"):])
RECEIVED = []
STATE = {"rejected": 0}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def verified(headers, body):
    msg_id, ts, sig = headers.get("webhook-id"), headers.get("webhook-timestamp"), headers.get("webhook-signature")
    if not (msg_id and ts and sig):
        return False
    mac = base64.b64encode(hmac.new(KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(s[3:], mac) for s in sig.split(" ") if s.startswith("v1,"))


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            now = time.time_ns()
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "GET":
                data = json.dumps({"received": RECEIVED, "rejected": STATE["rejected"]}).encode()
                RECEIVED.clear()
                STATE["rejected"] = 0
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                             % len(data) + data)
            elif path.startswith("/hang/"):
                await asyncio.sleep(3600)
            elif path.startswith("/ref/"):
                RECEIVED.append([path, now])
                writer.write(OK)
            else:
                if verified(headers, body):
                    RECEIVED.append([headers["webhook-id"], now])
                else:
                    STATE["rejected"] += 1
                writer.write(OK)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
