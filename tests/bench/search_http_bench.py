#!/usr/bin/python3
"""search_http_bench — GET /v1/search over HTTP through the whole system (issue 4).

Loads a generated corpus (tests/bench/search_gen_corpus.py) into a throw-away Redis exactly
as the registry stores entities (zsets oim:orgs / oim:demands, protobuf values at
oim:org:<id> / oim:demand:<id>), starts redis + gateway + registry + search with
tests/lib/oimtest.py, waits until /v1/search answers with the full total, then runs the query
classes of the queries file through GET /v1/search with a few keep-alive clients and prints
p50/p99 per class beside the in-process figures of the same queries (search_bench on the same
corpus, run by this script before the cluster starts) and their ratio. Last, live-update
latency: POST /v1/orgs, then poll /v1/search until the new org is found (p50/p99).

    /usr/bin/python3 tests/bench/search_http_bench.py --docs /tmp/sb/docs100k.jsonl \
        --queries /tmp/sb/q100k.tsv [--max-docs N] [--clients 2] [--runs 3] [--writes 100] \
        [--search-bench build/services/search/search_bench | --no-inproc] [--replicas N] \
        [--client c|python]

HTTP requests are the daemon's defaults: limit 20, snippets, facet counts of type,
industry, region, stage and tag over the whole match (in-process, search_bench counts four
fields for the "facet" class only; `search_bench --daemon-facets 1` counts what the daemon
does). The daemon answers from OIM_SEARCH_THREADS threads (default 2); --replicas N starts N
oim-search processes. The requests are sent by tests/bench/http_load (C: the client then
takes little of the 2 cores the system under test runs on), or with --client python by
threads of http.client here (~1 ms of CPU per request, taken from the daemon's cores).
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import oimtest  # noqa: E402

CLASSES = ("frequent", "mid", "rare", "multi", "prefix", "typo", "filtered", "facet")


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))]


def resp(*args):
    """One RESP command (binary safe)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def load_corpus(cluster, pb, docs_path, max_docs):
    """Writes the docs into Redis as the registry would. Returns the count."""
    reg = pb["registry"]
    pipe = os.path.join(cluster.dir, "load.resp")
    n = 0
    with open(docs_path, encoding="utf-8") as f, open(pipe, "wb") as out:
        for line in f:
            if max_docs and n >= max_docs:
                break
            d = json.loads(line)
            eid = d["id"]
            if d["type"] == "demand":
                m = reg.Demand(id=eid, org_id="bench-owner", title=d["title"], description=d["body"],
                               tags=d["tags"], industries=[d["industry"]] if d.get("industry") else [],
                               regions=[d["region"]] if d.get("region") else [],
                               stages=[d["stage"]] if d.get("stage") else [],
                               collaboration=d.get("collaboration") or [], visibility="public",
                               status="open", version=1)
                out.write(resp("SET", f"oim:demand:{eid}", m.SerializeToString()))
                out.write(resp("ZADD", "oim:demands", "0", eid))
            else:
                m = reg.Organization(id=eid, kind=d["type"], name=d["title"], description=d["body"],
                                     tags=d["tags"], industries=[d["industry"]] if d.get("industry") else [],
                                     region=d.get("region") or "", stage=d.get("stage") or "",
                                     status="active", version=1)
                out.write(resp("SET", f"oim:org:{eid}", m.SerializeToString()))
                out.write(resp("ZADD", "oim:orgs", "0", eid))
            n += 1
    with open(pipe, "rb") as f:
        r = subprocess.run(["redis-cli", "-s", cluster.redis_sock, "--pipe"], stdin=f,
                           capture_output=True, timeout=3600)
    if r.returncode != 0 or b"errors: 0" not in r.stdout:
        raise SystemExit("redis-cli --pipe failed: " + r.stdout.decode() + r.stderr.decode())
    os.unlink(pipe)
    return n


def read_queries(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[0] in CLASSES:
                out.append((parts[0], parts[1], parts[3] if len(parts) > 3 else ""))
    return out


def query_path(cls, q, filt):
    path = "/v1/search?q=" + quote(q)
    if cls == "prefix":
        path += "&prefix=true"
    if cls == "filtered" and filt:
        path += "&industry=" + quote(filt)
    return path


def inproc(bench, docs, queries, runs, max_docs, tmp):
    """Runs search_bench on the same docs and queries; returns {class: (p50, p99)} in ms."""
    if max_docs:
        cut = os.path.join(tmp, "docs.jsonl")
        with open(docs, encoding="utf-8") as f, open(cut, "w", encoding="utf-8") as out:
            for i, line in enumerate(f):
                if i >= max_docs:
                    break
                out.write(line)
        docs = cut
    r = subprocess.run([bench, "--docs", docs, "--queries", queries, "--runs", str(runs)],
                       capture_output=True, text=True, timeout=7200)
    sys.stdout.write(r.stdout)
    figures = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^(\w+)\s+\d+\s+\|\s+([\d.]+)\s+([\d.]+)\s+\|", line)
        if m and m.group(1) in CLASSES:
            figures[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    if max_docs:
        os.unlink(docs)
    return figures


def run_http(port, queries, clients, runs, client):
    """Each client cycles through its share of queries×runs on one keep-alive connection:
    client "c" = tests/bench/http_load.c (little CPU beside the system under test), "python"
    = threads of http.client here (~1 ms of CPU per request on the same 2 cores)."""
    jobs = [(cls, query_path(cls, q, f)) for _ in range(runs) for cls, q, f in queries]
    lat = {c: [] for c in CLASSES}
    took = {c: [] for c in CLASSES}
    totals = {c: [] for c in CLASSES}
    errors = []
    t0 = time.perf_counter()
    rows = http_load(port, jobs, clients) if client == "c" else http_python(port, jobs, clients)
    wall = time.perf_counter() - t0
    for cls, ms, status, took_ms, total, path in rows:
        if status != 200:
            errors.append((status, path))
            continue
        lat[cls].append(ms)
        took[cls].append(took_ms)
        totals[cls].append(total)
    if errors:
        print(f"{len(errors)} errors, first: {errors[0]}")
    return lat, took, totals, len(jobs) / wall


def http_load(port, jobs, clients):
    """[(class, ms, status, took_ms, total, path)] from the C client."""
    binary = os.path.join(oimtest.BUILD_DIR, "tests", "http_load")
    r = subprocess.run([binary, "--port", str(port), "--clients", str(clients)], text=True,
                       input="".join(f"{cls}\t{path}\n" for cls, path in jobs),
                       capture_output=True, timeout=3600)
    if r.returncode:
        raise SystemExit(f"http_load failed: {r.stderr}")
    rows = []
    for line in r.stdout.splitlines():
        cls, ms, status, took_ms, total = line.split("\t")
        rows.append((cls, float(ms), int(status), float(took_ms), int(float(total)), ""))
    return rows


def http_python(port, jobs, clients):
    """[(class, ms, status, took_ms, total, path)] from Python threads."""
    rows, lock = [], threading.Lock()

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for cls, path in jobs[k::clients]:
            t0 = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            ms = (time.perf_counter() - t0) * 1000
            j = json.loads(body) if r.status == 200 else {}
            with lock:
                rows.append((cls, ms, r.status, j.get("took_ms", 0.0), j.get("total", 0), path))
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rows


def live_updates(cluster, writes):
    port = cluster.ports["http_port"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdr = {"Authorization": f"Bearer {oimtest.AGENCY_KEY}", "Content-Type": "application/json"}
    lat, polls = [], []
    for i in range(writes):
        name = f"livebench{i}z{os.getpid()}"
        t0 = time.perf_counter()
        conn.request("POST", "/v1/orgs", body=json.dumps({"kind": "startup", "name": name,
                     "description": "live update probe", "tags": ["probe"]}), headers=hdr)
        r = conn.getresponse()
        body = json.loads(r.read())
        if r.status != 201:
            raise SystemExit(f"POST /v1/orgs: {r.status} {body}")
        oid, n = body["id"], 0
        deadline = t0 + 5
        while True:
            n += 1
            conn.request("GET", "/v1/search?limit=5&q=" + quote(name))
            r = conn.getresponse()
            res = json.loads(r.read())
            if r.status == 200 and any(h["id"] == oid for h in res["hits"]):
                break
            if time.perf_counter() > deadline:
                raise SystemExit(f"{name} not searchable after 5 s")
            time.sleep(0.001)
        lat.append((time.perf_counter() - t0) * 1000)
        polls.append(n)
    conn.close()
    return lat, polls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--max-docs", type=int, default=0, help="the first N docs only")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--writes", type=int, default=100)
    ap.add_argument("--search-bench", default=os.path.join(oimtest.BUILD_DIR, "services", "search",
                                                          "search_bench"))
    ap.add_argument("--no-inproc", action="store_true")
    ap.add_argument("--replicas", type=int, default=1, help="oim-search processes")
    ap.add_argument("--client", choices=("c", "python"), default="c",
                    help="c: tests/bench/http_load (default), python: http.client threads")
    args = ap.parse_args()
    queries = read_queries(args.queries)
    print(time.strftime("%H:%M:%S"), "load average", os.getloadavg())
    tmp = tempfile.mkdtemp(prefix="search-http-bench-")
    ours = {}
    if not args.no_inproc:
        t0 = time.perf_counter()
        ours = inproc(args.search_bench, args.docs, args.queries, args.runs, args.max_docs, tmp)
        print(f"in-process run: {time.perf_counter() - t0:.0f} s")
    pb = oimtest.proto_modules(tmp)
    with oimtest.Cluster() as c:
        try:
            c.start_redis()
            t0 = time.perf_counter()
            n = load_corpus(c, pb, args.docs, args.max_docs)
            print(f"redis: {n} docs loaded in {time.perf_counter() - t0:.1f} s")
            c.start_gateway()
            c.start("registry")
            t0 = time.perf_counter()
            for _ in range(args.replicas):
                c.start("search")
            #  the daemon answers nothing while it loads its snapshot (the gateway may drop it
            #  meanwhile; it registers again after): wait for the full total, however long
            c.wait_registered({"registry": 1}, timeout=60)

            def ready():
                status, body, _ = c.http("GET", "/v1/search?q=&limit=1")
                return status == 200 and body["total"] >= n
            oimtest.wait_for(ready, timeout=3600, message="the full index", interval=0.5)
            c.wait_registered({"search": args.replicas}, timeout=3600)
            oimtest.wait_for(lambda: all(ready() for _ in range(10 * args.replicas)), timeout=3600,
                             message="every replica's full index", interval=0.5)
            print(f"search daemon: snapshot of {n} docs searchable after "
                  f"{time.perf_counter() - t0:.1f} s")
            run_http(c.ports["http_port"], queries[::8], args.clients, 1, args.client)  # warm-up
            lat, took, totals, qps = run_http(c.ports["http_port"], queries, args.clients, args.runs,
                                              args.client)
            print(f"\nGET /v1/search, {args.replicas} oim-search replica(s), {args.clients} "
                  f"keep-alive clients ({args.client} client), {args.runs} runs of "
                  f"{len(queries)} queries, {qps:.0f} queries/s; ms")
            print(f"{'class':<9} {'avg hits':>9} | {'http p50':>8} {'http p99':>8} | "
                  f"{'took p50':>8} {'took p99':>8} | {'inproc p50':>10} {'inproc p99':>10} | "
                  f"{'p50 x':>6} {'p99 x':>6}")
            for cls in CLASSES:
                if not lat[cls]:
                    continue
                hp50, hp99 = pct(lat[cls], 50), pct(lat[cls], 99)
                ip50, ip99 = ours.get(cls, (float("nan"), float("nan")))
                print(f"{cls:<9} {sum(totals[cls]) / len(totals[cls]):>9.0f} | {hp50:>8.2f} "
                      f"{hp99:>8.2f} | {pct(took[cls], 50):>8.2f} {pct(took[cls], 99):>8.2f} | "
                      f"{ip50:>10.2f} {ip99:>10.2f} | {hp50 / ip50:>5.1f}x {hp99 / ip99:>5.1f}x")
            if args.writes:
                wl, polls = live_updates(c, args.writes)
                print(f"\nlive update, POST /v1/orgs then poll /v1/search until found, "
                      f"{args.writes} writes: p50 {pct(wl, 50):.1f} ms, p99 {pct(wl, 99):.1f} ms, "
                      f"max {max(wl):.1f} ms (avg {sum(polls) / len(polls):.1f} polls)")
        except BaseException:
            c.dump_logs()
            raise
    print(time.strftime("%H:%M:%S"), "load average", os.getloadavg())


if __name__ == "__main__":
    main()
