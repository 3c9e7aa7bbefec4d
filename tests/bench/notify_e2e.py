#!/usr/bin/env python3
"""oim-notify end to end: event appended to oim:events -> signed webhook received.

    OIM_BUILD_DIR=build /usr/bin/python3 tests/bench/notify_e2e.py [--seconds 10] [--rate 500]

Starts Redis, the gateway and oim-notify (tests/lib/oimtest.py) and a one-thread asyncio
receiver (notify_e2e_receiver.py) that verifies every signature and stamps its arrival.
  1. latency at --rate events/s spread over 10 endpoints: p50/p99 from just before the XADD
     to the receiver's stamp; then the same with 1 of the 10 endpoints hanging (10%),
     measured on the healthy ones;
  2. throughput: a burst of --burst events over 1, 10 and 100 endpoints, deliveries/s from
     the first XADD to the last arrival.
Reference, same run, same receiver: the same paced POSTs sent straight to it from this
process over one keep-alive connection (latency), and wrk's ceiling on it (throughput)."""
import argparse
import base64
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from test_notify_util import Notify, new_id  # noqa: E402
from oimtest import Cluster, proto_modules, wait_for  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else float("nan")


class Receiver:
    def __init__(self, secret):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "notify_e2e_receiver.py"), secret],
                                     stdout=subprocess.PIPE)
        self.port = int(self.proc.stdout.readline().split()[1])
        self.conn = None

    def dump(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", "/dump")
        data = json.loads(conn.getresponse().read())
        conn.close()
        return data

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def endpoints(n, receiver, secret, count, hang=0):
    orgs = []
    for i in range(count):
        org, _ = n.org()
        path = f"/hang/{org}" if i < hang else f"/ok/{org}"
        n.redis.cmd("HSET", f"oim:webhook:{org}", "url", f"http://127.0.0.1:{receiver.port}{path}",
                    "events", "", "secret", secret, "disabled", "0",
                    "created_at", "2026-11-30T00:00:00.000Z", "updated_at", "2026-11-30T00:00:00.000Z")
        orgs.append(org)
    return orgs


def collect(receiver, want, timeout):
    """Gathers first arrivals until every id in want arrived (or timeout)."""
    got, rejected = {}, 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = receiver.dump()
        rejected += d["rejected"]
        for msg_id, ns in d["received"]:
            got.setdefault(msg_id, ns)
        if want <= got.keys():
            break
        time.sleep(0.05)
    return got, rejected


def paced_events(n, orgs, rate, seconds):
    sent = {}
    total = int(rate * seconds)
    start = time.monotonic()
    for i in range(total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        org = orgs[i % len(orgs)]
        ntf, body = n.event(org, data={"title": "bench", "i": i})
        t = time.time_ns()
        n.redis.cmd("XADD", "oim:events", "*", "e", body)
        sent[ntf] = (t, org)
    return sent


def latency(n, receiver, secret, rate, seconds, hang):
    orgs = endpoints(n, receiver, secret, 10, hang)
    sent = paced_events(n, orgs, rate, seconds)
    healthy = {i for i, (_, org) in sent.items() if org not in orgs[:hang]}
    got, rejected = collect(receiver, healthy, 60)
    lat = [(got[i] - sent[i][0]) / 1e6 for i in healthy if i in got]
    return pct(lat, 50), pct(lat, 99), len(lat), len(healthy), rejected


def reference_latency(receiver, rate, seconds, body):
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
    sent = {}
    total = int(rate * seconds)
    start = time.monotonic()
    for i in range(total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        path = f"/ref/{i}"
        sent[path] = time.time_ns()
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        conn.getresponse().read()
    conn.close()
    got, _ = collect(receiver, set(sent), 30)
    lat = [(got[p] - sent[p]) / 1e6 for p in sent if p in got]
    return pct(lat, 50), pct(lat, 99)


def wrk_ceiling(receiver, body, seconds=5):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write('wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n'
                % json.dumps(body))
        script = f.name
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", script,
                          f"http://127.0.0.1:{receiver.port}/ref/wrk"], capture_output=True, text=True)
    os.unlink(script)
    receiver.dump()
    m = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    return float(m.group(1)) if m else float("nan")


def cpu_seconds(pid):
    """user + system CPU time a process used so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def burst(n, receiver, secret, count, events, pids):
    orgs = endpoints(n, receiver, secret, count)
    batch, ids = [], set()
    for i in range(events):
        ntf, body = n.event(orgs[i % count], data={"title": "bench", "i": i})
        ids.add(ntf)
        batch.append(("XADD", "oim:events", "*", "e", body))
    cpu0 = [cpu_seconds(p) for p in pids]
    start = time.time_ns()
    for i in range(0, len(batch), 500):
        n.redis.pipeline(*batch[i:i + 500])
    got, _ = collect(receiver, ids, 120)
    end = max(got.values()) if got else start
    cpu = [(cpu_seconds(p) - c0) * 1e6 / max(1, len(got)) for p, c0 in zip(pids, cpu0)]
    return len(got) / ((end - start) / 1e9), len(got), cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--burst", type=int, default=10000)
    args = ap.parse_args()
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    with tempfile.TemporaryDirectory() as tmp, \
            Cluster(env={"OIM_FEED_PORT": "0", "OIM_FEED_ADDRESS": "127.0.0.1", "OIM_LOG_LEVEL": "warn"}) as c:
        pb = proto_modules(tmp)
        c.start_redis()
        c.start_gateway()
        c.start("notify")
        c.wait_registered({"notify": 1})
        n = Notify(c, pb)
        receiver = Receiver(secret)
        try:
            sample = json.dumps({"id": new_id("ntf"), "type": "match.created", "org_id": new_id("org"),
                                 "created_at": "2026-11-30T00:00:00.000Z", "data": {"title": "bench", "i": 1},
                                 "feed_sequence": 1})
            ref50, ref99 = reference_latency(receiver, args.rate, min(args.seconds, 5), sample)
            print(f"reference (direct POST -> receiver, {args.rate:.0f}/s, 1 keep-alive conn): "
                  f"p50 {ref50:.2f} ms  p99 {ref99:.2f} ms")
            for hang in (0, 1):
                p50, p99, got, want, rej = latency(n, receiver, secret, args.rate, args.seconds, hang)
                label = "10 endpoints" + (", 1 hanging (10%)" if hang else "")
                print(f"notify e2e ({label}, {args.rate:.0f} events/s, {args.seconds:.0f} s): "
                      f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  ({got}/{want} received, {rej} rejected)  "
                      f"ratio p99/ref p99 {p99 / ref99:.1f}")
            ceiling = wrk_ceiling(receiver, sample)
            print(f"receiver ceiling (wrk -t2 -c32): {ceiling:,.0f} req/s")
            pids = [c.daemons["notify"][0].proc.pid, c.redis.proc.pid, receiver.proc.pid]
            for count in (1, 10, 100):
                rate, got, cpu = burst(n, receiver, secret, count, args.burst, pids)
                print(f"throughput, {count} endpoint(s), burst of {args.burst}: {rate:,.0f} deliveries/s "
                      f"({got} received)  ratio to ceiling {rate / ceiling:.2f}  CPU per delivery: "
                      f"oim-notify {cpu[0]:.0f} us, redis {cpu[1]:.0f} us, receiver {cpu[2]:.0f} us")
        finally:
            receiver.stop()
            n.redis.close()


if __name__ == "__main__":
    main()
