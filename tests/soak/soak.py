#!/usr/bin/env python3
"""soak — the whole native stack under a mixed load for a while, with a SIGKILL of a random
daemon every minute (issue 19 part 5).

Starts a throw-away Redis (AOF), the gateway and one registry, search, matcher and notify
(tests/lib/oimtest.py), then for --minutes runs, side by side:
  * searches (GET /v1/search, startups and demands, Korean and English words),
  * writes: companies post demands (POST /v1/demands) and close old ones (so the open set, what
    the matcher holds in memory, stays bounded), startups edit their profiles,
  * match lists (GET /v1/orgs/{id}/matches: the matcher's answers),
  * demand ingest from another system over HTTP (POST /v1/events/demands) and over ZeroMQ
    (tests/integration/publisher.py: re-sends a batch until it is acknowledged),
  * webhooks: one company's endpoint answers slowly (0.3 s), another's always fails (500), so
    its deliveries go through every retry to the dead letters,
  * two SSE clients on GET /v1/notifications/stream (reconnecting when the gateway dies),
and every --kill-every seconds SIGKILLs one of gateway, registry, search, matcher, notify,
chosen at random, and starts it again at once (as a supervisor would). Redis is not killed.

Every few seconds it samples each process's resident memory (VmRSS). At the end it prints
per time window (--window, default 60 s, 300 s for runs of 10 minutes or more) the p50/p99
latency and the error count of each request class, and the RSS table, and it checks:
  * nothing acknowledged is lost: every demand a 201 answered, every event an ingest ack
    (HTTP or ZeroMQ) reported applied, exists afterwards — exactly one demand per external id;
  * every notification of the slow company was delivered, and every one of the failing
    company's reached the dead letters after the whole retry schedule (a fast one, and no
    circuit breaker: its own tests cover it);
  * memory: no daemon's RSS above --max-rss-mib, and for every process that lived at least
    three windows, no growth trend after warm-up: the least-squares slope over the second
    half of its life below --max-growth-mib-per-min.
Exit 0 when every check passes.

    OIM_BUILD_DIR=build /usr/bin/python3 tests/soak/soak.py --minutes 30     # the long run
    OIM_BUILD_DIR=build /usr/bin/python3 tests/soak/soak.py --minutes 3      # CI (ctest soak)
"""
import argparse
import urllib.parse
import http.client
import json
import os
import random
import signal
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import oimtest  # noqa: E402
from publisher import Publisher  # noqa: E402
from test_notify_util import Receiver  # noqa: E402
from test_registry_util import AGENCY, RegistryCluster, business_number  # noqa: E402

DAEMONS = ("gateway", "registry", "search", "matcher", "notify")
#  a vocabulary large enough that a demand matches a few startups, not all of them (every
#  match is a notification, and a profile edit re-scores every demand it shares words with)
WORDS = ("battery recycling lidar drone robot sensor vision cloud security logistics "
         "배터리 재활용 자율주행 로봇 센서 보안 물류 의료 영상 진단 반도체 수소 에너지").split() + \
    ["zk" + "".join(chr(97 + i // 26 ** k % 26) for k in range(3)) + "o" for i in range(600)]
RETRY_SCHEDULE = "1,2,4"


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=3)
    ap.add_argument("--kill-every", type=float, default=60, help="seconds between kills")
    ap.add_argument("--window", type=float, default=0, help="report window, seconds")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--max-rss-mib", type=float, default=1024)
    ap.add_argument("--max-growth-mib-per-min", type=float, default=2.0)
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    if not args.window:
        args.window = 300 if args.minutes >= 10 else 60
    return args


def log(text):
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)


def text(rnd, n):
    return " ".join(rnd.choice(WORDS) for _ in range(n))


def items(body, *old):
    """A list body's items (the envelope, or an older name)."""
    if not isinstance(body, dict):
        return []
    for name in ("items",) + old:
        if isinstance(body.get(name), list):
            return body[name]
    return []


class Recorder:
    """Latencies per request class, timestamped; acknowledged writes; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.samples = []           # (t, class, seconds, ok)
        self.demands = set()        # (id, key) a 201 acknowledged
        self.open = []              # of those, not closed by the soak
        self.external = {}          # external_id -> the newest sequence an ack applied

    def request(self, c, cls, method, path, body=None, key=None):
        t0 = time.monotonic()
        try:
            status, reply, _ = c.http(method, path, body, key=key, timeout=15)
        except (OSError, http.client.HTTPException, ValueError):
            status, reply = 0, None
        with self.lock:
            self.samples.append((t0, cls, time.monotonic() - t0, 0 < status < 500))
        return status, reply

    def acked_events(self, events, results, statuses=("created", "updated", "duplicate",
                                                      "stale")):
        with self.lock:
            for e, status in zip(events, results):
                if status in statuses:
                    ext = e["external_id"]
                    self.external[ext] = max(self.external.get(ext, 0), e["sequence"])


class Soak:
    def __init__(self, args):
        self.args = args
        self.rnd = random.Random(args.seed)
        self.rec = Recorder()
        self.stop = threading.Event()
        self.kills = []
        self.rss = {}               # (name, pid) -> [(t, MiB)]
        self.sse_events = [0]

    # -- setup -------------------------------------------------------------------------------
    def setup(self, c):
        c.start_all()
        os.makedirs(os.path.join(c.dir, "pb"), exist_ok=True)
        c.pb = oimtest.proto_modules(os.path.join(c.dir, "pb"))
        rnd = self.rnd
        self.startups = [c.org("startup", name=f"스타트업 {i}", description=text(rnd, 12),
                               tags=[rnd.choice(WORDS)]) for i in range(30)]
        self.companies = [c.org("company", name=f"회사 {i}", business_number=business_number())
                          for i in range(4)]
        (slow, skey), (fail, fkey) = self.companies[0], self.companies[1]
        self.receivers = []
        for (org, key), path in (((slow, skey), "/slow/300/"), ((fail, fkey), "/fail/")):
            status, reply, _ = c.http("PUT", f"/v1/orgs/{org['id']}/webhook",
                                      {"url": "http://127.0.0.1:9/placeholder"}, key=key)
            assert status == 200, reply
            r = Receiver(reply["secret"])
            status, reply, _ = c.http("PUT", f"/v1/orgs/{org['id']}/webhook",
                                      {"url": r.url(path)}, key=key)
            assert status == 200, reply
            self.receivers.append(r)
        self.bn = self.companies[2][0].get("business_number") or None
        self.pub = c.publisher("soak-oi")
        self.org_ref = self.companies[2][0]["id"]

    # -- load --------------------------------------------------------------------------------
    def loop(self, fn, pause):
        while not self.stop.is_set():
            fn()
            self.stop.wait(pause)

    def search(self, c):
        kind = self.rnd.choice(("startup", "demand"))
        q = urllib.parse.quote(self.rnd.choice(WORDS))
        self.rec.request(c, "search", "GET", f"/v1/search?type={kind}&q={q}&limit=10")

    def write(self, c):
        rnd = self.rnd
        #  the webhook companies post rarely: each demand's matches notify its owner, and the
        #  slow endpoint takes a request at a time
        org, key = self.companies[0 if rnd.random() < 0.5 else 1] if rnd.random() < 0.04 \
            else rnd.choice(self.companies[2:])
        roll = rnd.random()
        if len(self.rec.open) > 150 or (roll < 0.3 and len(self.rec.open) > 100):
            #  close one: the open set (what the matcher holds in memory) stays bounded
            with self.rec.lock:
                demand, dkey = self.rec.open.pop(rnd.randrange(len(self.rec.open)))
            self.rec.request(c, "write", "POST", f"/v1/demands/{demand}/close", {}, dkey)
        elif roll < 0.85 or not self.rec.demands:
            status, reply = self.rec.request(c, "write", "POST", "/v1/demands",
                                             {"title": text(rnd, 3), "description": text(rnd, 20)},
                                             key)
            if status == 201:
                with self.rec.lock:
                    self.rec.demands.add((reply["id"], key))
                    self.rec.open.append((reply["id"], key))
        else:
            s, skey = rnd.choice(self.startups)
            self.rec.request(c, "write", "PATCH", f"/v1/orgs/{s['id']}",
                             {"description": text(rnd, 12)}, skey)

    def matches(self, c):
        s, skey = self.rnd.choice(self.startups)
        self.rec.request(c, "matches", "GET", f"/v1/orgs/{s['id']}/matches", None, skey)

    def ingest_http(self, c):
        rnd = self.rnd
        events = []
        for _ in range(10):
            n = rnd.randrange(400)
            seq = int(time.time() * 1000)
            events.append({"external_id": f"h-{n}", "sequence": seq, "op": "upsert",
                           "org_ref": self.org_ref,
                           "demand": {"title": text(rnd, 3), "description": text(rnd, 15)}})
        status, reply = self.rec.request(c, "ingest", "POST", "/v1/events/demands", events,
                                         self.pub["api_key"])
        if status == 200:
            self.rec.acked_events(events, [r["status"] for r in reply["results"]])

    def ingest_zmq(self, c):
        p = Publisher(f"tcp://127.0.0.1:{c.ports['ingest_port']}", self.pub["api_key"], c.pb,
                      window=2, timeout=3.0, curve=self.pub.get("curve"))
        b = 0
        try:
            while not self.stop.is_set():
                events = [{"external_id": f"z-{self.rnd.randrange(400)}",
                           "sequence": int(time.time() * 1000) + i, "op": "upsert",
                           "org_ref": self.org_ref,
                           "demand": {"title": text(self.rnd, 3)}} for i in range(10)]
                batch = p.batch(f"zb-{b}", events)
                t0 = time.monotonic()
                acks = p.publish([batch], deadline=60)
                ack = acks.get(f"zb-{b}")
                with self.rec.lock:
                    self.rec.samples.append((t0, "ingest-zmq", time.monotonic() - t0,
                                             ack is not None))
                if ack is not None and ack.status == 200:
                    self.rec.acked_events(events, [r.status for r in ack.results])
                b += 1
                self.stop.wait(0.5)
        finally:
            p.close()

    def sse(self, c, key):
        while not self.stop.is_set():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", c.ports["http_port"], timeout=5)
                conn.request("GET", "/v1/notifications/stream",
                             headers={"Authorization": f"Bearer {key}",
                                      "Accept": "text/event-stream"})
                resp = conn.getresponse()
                while not self.stop.is_set():
                    line = resp.fp.readline()
                    if not line:
                        break
                    if line.startswith(b"data:"):
                        self.sse_events[0] += 1
                conn.close()
            except (OSError, http.client.HTTPException):
                pass
            self.stop.wait(0.5)

    # -- chaos and sampling ------------------------------------------------------------------
    def processes(self, c):
        procs = [("redis", c.redis), ("gateway", c.gateway)]
        procs += [(name, p) for name, ps in c.daemons.items() for p in ps]
        return [(n, p) for n, p in procs if p and p.alive()]

    def sample_rss(self, c):
        now = time.monotonic()
        for name, p in self.processes(c):
            try:
                with open(f"/proc/{p.proc.pid}/status") as f:
                    kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            except (OSError, StopIteration):
                continue
            self.rss.setdefault((name, p.proc.pid), []).append((now, kb / 1024))

    def kill_one(self, c):
        victim = self.rnd.choice(DAEMONS)
        t0 = time.monotonic()
        if victim == "gateway":
            c.restart_gateway()
        else:
            c.kill(victim)
            c.restart(victim)
        self.kills.append((t0, victim))
        log(f"SIGKILL {victim} (restarted)")

    def chaos(self, c):
        next_kill = time.monotonic() + self.args.kill_every
        while not self.stop.is_set():
            self.sample_rss(c)
            if time.monotonic() >= next_kill:
                self.kill_one(c)
                next_kill += self.args.kill_every
            self.stop.wait(2)

    # -- the run -----------------------------------------------------------------------------
    def run(self):
        #  no circuit breaker here (its own tests cover it): the failing endpoint's deliveries
        #  must go through the whole retry schedule to the dead letters, across kills
        #  streams kept a minute (not a day / a week): their trimming is part of what a soak
        #  must see working, and Redis then holds the entities, not days of stream entries
        with RegistryCluster(env={"OIM_WEBHOOK_RETRY_SCHEDULE": RETRY_SCHEDULE,
                                  "OIM_WEBHOOK_BREAKER_FAILURES": "1000000",
                                  "OIM_EVENT_RETAIN_S": "60", "OIM_CHANGELOG_RETAIN_S": "60",
                                  "OIM_LOG_LEVEL": "warn"}) as c:
            self.setup(c)
            self.t0 = time.monotonic()
            threads = [threading.Thread(target=self.loop, args=(lambda: self.search(c), 0.02)),
                       threading.Thread(target=self.loop, args=(lambda: self.write(c), 0.2)),
                       threading.Thread(target=self.loop, args=(lambda: self.matches(c), 0.5)),
                       threading.Thread(target=self.loop, args=(lambda: self.ingest_http(c), 0.5)),
                       threading.Thread(target=self.ingest_zmq, args=(c,)),
                       threading.Thread(target=self.chaos, args=(c,))]
            threads += [threading.Thread(target=self.sse, args=(c, key), daemon=True)
                        for _, key in self.companies[:2]]
            for t in threads:
                t.start()
            end = self.t0 + self.args.minutes * 60
            while time.monotonic() < end:
                time.sleep(min(10, max(0.1, end - time.monotonic())))
                log(f"{(time.monotonic() - self.t0) / 60:.1f} min: "
                    f"{len(self.rec.samples)} requests, {len(self.kills)} kills")
            self.stop.set()
            for t in threads:
                t.join(timeout=120)
            self.settle(c)
            return self.report(c)

    def settle(self, c):
        """Every daemon up, the change log and events consumed, deliveries finished."""
        self.unregistered = None
        try:
            c.wait_registered({s: 1 for s in oimtest.SERVICES}, timeout=120)
        except AssertionError:
            self.unregistered = c.workers()
            log(f"not every daemon registered after 120 s: {self.unregistered}")

        def deliveries_done():
            return self.delivery_check(c) is None
        try:
            oimtest.wait_for(deliveries_done, max(120, self.args.minutes * 10),
                             "deliveries to finish", interval=2)
        except AssertionError:
            pass

    # -- checks ------------------------------------------------------------------------------
    def pages(self, c, path, key, old_name):
        """Every item of a cursor-paged list (None when it cannot be read)."""
        out, cursor = [], ""
        while True:
            status, body, _ = c.http("GET", f"{path}?limit=100{cursor}", key=key)
            if status != 200:
                return None
            out += items(body, old_name)
            nxt = body.get("next_cursor")
            if not nxt:
                return out
            cursor = f"&cursor={nxt}"

    def delivery_check(self, c):
        """None when every notification of the slow company has a delivery, all delivered, and
        every one of the failing company's a dead one; else what is not so."""
        (slow, skey), (fail, fkey) = self.companies[0], self.companies[1]
        dl = self.pages(c, "/v1/deliveries", skey, "deliveries")
        inbox = self.pages(c, "/v1/notifications", skey, "notifications")
        if dl is None or inbox is None:
            return "deliveries or notifications unreadable"
        late = [d for d in dl if d["status"] != "delivered"]
        if late or len({d["notification_id"] for d in dl}) < len(inbox):
            return f"slow company: {len(late)} of {len(dl)} deliveries not delivered, " \
                   f"{len(inbox)} notifications"
        dl = self.pages(c, "/v1/deliveries", fkey, "deliveries")
        inbox = self.pages(c, "/v1/notifications", fkey, "notifications")
        if dl is None or inbox is None:
            return "deliveries or notifications unreadable"
        states = {}
        for d in dl:
            states[d["status"]] = states.get(d["status"], 0) + 1
        if set(states) - {"dead"} or len({d["notification_id"] for d in dl}) < len(inbox):
            return f"failing company: deliveries by state {states}, {len(inbox)} notifications"
        return None

    def lost(self, c):
        missing = [d for d, key in self.rec.demands
                   if c.http("GET", f"/v1/demands/{d}", key=key)[0] != 200]
        mapping = c.rcmd("HGETALL", "oim:source:soak-oi:demands")
        ids = dict(zip(mapping[0::2], mapping[1::2]))
        missing += [ext for ext in self.rec.external if ext.encode() not in ids]
        dup = len(ids) - len(set(ids.values()))
        return missing, dup

    def memory(self):
        rows, bad = [], []
        window_s = self.args.window
        for (name, pid), series in sorted(self.rss.items()):
            peak = max(m for _, m in series)
            life = series[-1][0] - series[0][0]
            slope = None
            if life >= 3 * min(window_s, 60):
                half = [(t, m) for t, m in series if t >= series[0][0] + life / 2]
                if len(half) >= 3:
                    ts = [t for t, _ in half]
                    ms = [m for _, m in half]
                    tm, mm = statistics.fmean(ts), statistics.fmean(ms)
                    den = sum((t - tm) ** 2 for t in ts) or 1
                    slope = sum((t - tm) * (m - mm) for t, m in half) / den * 60
            rows.append((name, pid, series[0][1], peak, series[-1][1], life, slope))
            if name != "redis" and peak > self.args.max_rss_mib:
                bad.append(f"{name} pid {pid}: RSS {peak:.0f} MiB > {self.args.max_rss_mib}")
            if name != "redis" and slope is not None and slope > self.args.max_growth_mib_per_min:
                bad.append(f"{name} pid {pid}: RSS grows {slope:.2f} MiB/min after warm-up")
        return rows, bad

    def latency_table(self):
        w = self.args.window
        classes = sorted({s[1] for s in self.rec.samples})
        lines = [f"| window | " + " | ".join(f"{k} n / p50 / p99 ms / errors" for k in classes)
                 + " |", "|---" * (len(classes) + 1) + "|"]
        nwin = int((max((s[0] for s in self.rec.samples), default=self.t0) - self.t0) // w) + 1
        for i in range(nwin):
            cells = []
            for k in classes:
                xs = [s for s in self.rec.samples if s[1] == k
                      and self.t0 + i * w <= s[0] < self.t0 + (i + 1) * w]
                lat = sorted(s[2] * 1000 for s in xs)
                if not lat:
                    cells.append("—")
                    continue
                p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
                cells.append(f"{len(lat)} / {p50:.1f} / {p99:.1f} / {sum(not s[3] for s in xs)}")
            lines.append(f"| {i * w / 60:.0f}–{(i + 1) * w / 60:.0f} min | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def report(self, c):
        missing, dup = self.lost(c)
        deliveries = self.delivery_check(c)
        rows, mem_bad = self.memory()
        print("\nlatency per window (errors: no answer or 5xx, expected only around a kill):")
        print(self.latency_table())
        print("\nresident memory per process (MiB): first / peak / last, life, slope of the "
              "second half (MiB/min):")
        print("| process | pid | first | peak | last | lived s | slope |\n|---|---|---|---|---|---|---|")
        for name, pid, first, peak, last, life, slope in rows:
            s = "—" if slope is None else f"{slope:+.2f}"
            print(f"| {name} | {pid} | {first:.1f} | {peak:.1f} | {last:.1f} | {life:.0f} | {s} |")
        info = dict(l.split(":", 1) for l in c.redis_cli("INFO", "memory").splitlines()
                    if ":" in l)
        print(f"\nredis: used_memory {info.get('used_memory_human', '?').strip()}, keys "
              f"{c.redis_cli('DBSIZE')}, oim:changelog {c.redis_cli('XLEN', 'oim:changelog')} "
              f"entries, oim:events {c.redis_cli('XLEN', 'oim:events')} entries")
        kills = ", ".join(v for _, v in self.kills)
        print(f"\nkills: {len(self.kills)} ({kills}); requests: {len(self.rec.samples)}; "
              f"acknowledged demands {len(self.rec.demands)}, external ids "
              f"{len(self.rec.external)}; SSE events received {self.sse_events[0]}")
        print(f"lost (acknowledged, missing): {len(missing)} {missing[:5]}; "
              f"duplicate demands per external id: {dup}")
        print(f"deliveries: {deliveries or 'slow company: every notification delivered; failing company: every one dead-lettered'}")
        for line in mem_bad:
            print("memory:", line)
        if self.unregistered is not None:
            print(f"daemons registered at the end: {self.unregistered} (want one of each)")
        ok = not missing and dup == 0 and deliveries is None and not mem_bad \
            and self.unregistered is None \
            and len(self.kills) >= max(1, int(self.args.minutes * 60 // self.args.kill_every) - 1)
        if self.args.json:
            with open(self.args.json, "w") as f:
                json.dump({"missing": missing, "duplicates": dup, "deliveries": deliveries,
                           "memory": rows, "memory_problems": mem_bad,
                           "kills": self.kills}, f, default=str)
        for r in self.receivers:
            r.stop()
        print("SOAK PASSED" if ok else "SOAK FAILED")
        return 0 if ok else 1


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    return Soak(args).run()


if __name__ == "__main__":
    sys.exit(main())
