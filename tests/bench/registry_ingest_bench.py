"""registry_ingest_bench — demand-event ingest throughput, acknowledged-durable, over ZeroMQ
and over HTTP, in batches of 100, with Redis appendfsync everysec and always; printed beside
Redis's own ceiling for the same writes measured in the same run (the same commands, sizes
and MULTI/EXEC grouping sent by `redis-cli --pipe`), as a ratio. The ZeroMQ rate is measured
twice in the same run, plain ZeroMQ (OIM_CURVE=off) and CURVE (as deployed: a publisher key
registered through the API, the gateway's ZAP handler), each on its own fresh cluster, in
alternating rounds; the CURVE/plain ratio of the medians is printed (issue 13: >= 0.70).

    /usr/bin/python3 tests/bench/registry_ingest_bench.py [--batches 300] [--window 8] [--rounds 3]

Needs a build (OIM_BUILD_DIR, default ./build) with oim-gateway and oim-registry.
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from publisher import Publisher  # noqa: E402
from test_registry_util import RegistryCluster, business_number  # noqa: E402

BATCH = 100


def demand_fields(n):
    return {"title": f"스마트 팩토리 비전 검사 자동화 {n}",
            "description": "불량 검출을 위한 머신 비전 PoC 파트너를 찾습니다. " * 4,
            "tags": ["vision", "ai", "manufacturing"], "industries": ["C26"],
            "regions": ["KR-41"], "collaboration": ["poc"]}


def zmq_run(c, key, bn, batches, window, curve=None):
    p = Publisher(f"tcp://127.0.0.1:{c.ports['ingest_port']}", key, c.pb, window=window, timeout=30,
                  curve=curve)
    msgs = [p.batch(f"z{b}", [{"external_id": f"z-{b}-{i}", "sequence": 1, "op": "upsert",
                               "org_ref": bn, "demand": demand_fields(i)} for i in range(BATCH)])
            for b in range(batches)]
    start = time.monotonic()
    acks = p.publish(msgs, deadline=600)
    elapsed = time.monotonic() - start
    p.close()
    assert all(r.status == "created" for a in acks.values() for r in a.results)
    return batches * BATCH / elapsed


def http_run(c, key, bn, requests, threads=4):
    bodies = [json.dumps([{"external_id": f"h-{r}-{i}", "sequence": 1, "op": "upsert",
                           "org_ref": bn, "demand": demand_fields(i)} for i in range(BATCH)],
                         ensure_ascii=False).encode() for r in range(requests)]
    errors = []

    def worker(part):
        conn = http.client.HTTPConnection("127.0.0.1", c.ports["http_port"], timeout=60)
        for body in part:
            conn.request("POST", "/v1/events/demands", body=body,
                         headers={"Authorization": f"Bearer {key}",
                                  "Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 or b'"invalid"' in data:
                errors.append((resp.status, data[:200]))
        conn.close()
    parts = [bodies[i::threads] for i in range(threads)]
    start = time.monotonic()
    ts = [threading.Thread(target=worker, args=(part,)) for part in parts]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - start
    assert not errors, errors[:3]
    return requests * BATCH / elapsed


def resp_cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def raw_ceiling(c, batches):
    """The same writes as an ingest batch — MULTI; per event SET demand and XADD change-log
    entry; per batch one ZADD oim:demands, one ZADD of the org's demands, one HSET of the
    source map (all members), one XADD audit, one HINCRBY; EXEC — with the value sizes the
    registry wrote in this run, pushed by redis-cli --pipe (C, pipelined)."""
    some = c.rcmd("ZRANGE", "oim:demands", 0, 0)[0]
    demand = c.rcmd("GET", b"oim:demand:" + some)
    change = c.rcmd("XREVRANGE", "oim:changelog", "+", "-", "COUNT", 1)[0][1][1]
    audit = c.rcmd("XREVRANGE", "oim:audit", "+", "-", "COUNT", 1)[0][1][1]
    chunks = []
    for b in range(batches):
        chunks.append(resp_cmd("MULTI"))
        ids = [f"dem_bench{b:05d}{i:03d}" for i in range(BATCH)]
        for did in ids:
            chunks.append(resp_cmd("SET", f"bench:demand:{did}", demand))
            chunks.append(resp_cmd("XADD", "bench:changelog", "*", "e", change))
        zadd = [x for did in ids for x in ("0", did)]
        chunks.append(resp_cmd("ZADD", "bench:demands", *zadd))
        chunks.append(resp_cmd("ZADD", "bench:org:demands", *zadd))
        chunks.append(resp_cmd("HSET", "bench:source", *[x for i, did in enumerate(ids)
                                                         for x in (f"r-{b}-{i}", did)]))
        chunks.append(resp_cmd("XADD", "bench:audit", "*", "e", audit))
        chunks.append(resp_cmd("HINCRBY", "bench:stats", "demand:open", BATCH))
        chunks.append(resp_cmd("EXEC"))
    path = os.path.join(c.dir, "raw.resp")
    with open(path, "wb") as f:
        f.write(b"".join(chunks))
    start = time.monotonic()
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-s", c.redis_sock, "--pipe"], stdin=f, check=True,
                       capture_output=True)
    return batches * BATCH / (time.monotonic() - start)


def run(fsync, args, curve=False, zmq_only=False):
    with RegistryCluster(env={"OIM_LOG_LEVEL": "warn"}, curve=curve) as c:
        c.start_redis("--appendfsync", fsync)
        c.start_gateway()
        c.start("registry")
        c.wait_registered({"registry": 1})
        os.makedirs(os.path.join(c.dir, "pb"), exist_ok=True)
        import oimtest
        c.pb = oimtest.proto_modules(os.path.join(c.dir, "pb"))
        bn = business_number()
        c.org("company", business_number=bn)
        keypair = zmq.curve_keypair()
        status, pub, _ = c.http("POST", "/v1/publishers", {
            "source_system": f"bench-{fsync}", "name": "bench",
            "curve_public_key": keypair[0].decode()}, key=oimtest.AGENCY_KEY)
        assert status == 201, pub
        zmq_eps = zmq_run(c, pub["api_key"], bn, args.batches, args.window,
                          (c.keys_dir, keypair) if curve else None)
        if zmq_only:
            return zmq_eps, None, None
        key = pub["api_key"]
        http_eps = http_run(c, key, bn, max(args.batches // 3, 10))
        raw_eps = raw_ceiling(c, args.batches)
        return zmq_eps, http_eps, raw_eps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--window", type=int, default=8, help="ZeroMQ batches in flight")
    parser.add_argument("--rounds", type=int, default=3, help="plain/CURVE ZeroMQ pairs per fsync mode")
    args = parser.parse_args()
    print(f"batches of {BATCH}, {args.batches} ZeroMQ batches, window {args.window}, "
          f"{args.rounds} plain/CURVE rounds; load avg {os.getloadavg()[0]:.1f}")
    print("| appendfsync | ZeroMQ plain ev/s | ZeroMQ CURVE ev/s | CURVE/plain | HTTP ev/s | "
          "raw Redis ev/s | ZeroMQ/raw | HTTP/raw |")
    print("|---|---|---|---|---|---|---|---|")
    for fsync in ("everysec", "always"):
        plain, curve = [], []
        for r in range(args.rounds):
            z, h, raw = run(fsync, args)
            plain.append(z)
            curve.append(run(fsync, args, curve=True, zmq_only=True)[0])
            print(f"  round {r + 1}: plain {z:,.0f}, CURVE {curve[-1]:,.0f} ev/s "
                  f"({curve[-1] / z:.2f})", file=sys.stderr, flush=True)
        z, c = statistics.median(plain), statistics.median(curve)
        print(f"| {fsync} | {z:,.0f} | {c:,.0f} | {c / z:.2f} | {h:,.0f} | {raw:,.0f} | "
              f"{z / raw:.2f} | {h / raw:.2f} |", flush=True)


if __name__ == "__main__":
    main()
