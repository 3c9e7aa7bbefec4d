"""Redis Sentinel failover under load (issue 18 part 3): one master, two replicas and three
sentinels (down-after-milliseconds 2000) as real processes, every Redis with appendfsync
always; the gateway and every daemon find the master through the sentinels
(OIM_REDIS_SENTINELS) and acknowledge only what WAIT confirmed on a replica
(OIM_REDIS_WAIT_REPLICAS=1). A publisher streams demand events over ZeroMQ while the master
is SIGKILLed three times at random moments (each killed node restarted as a replica of the
new master). Afterwards: every acknowledged event's demand exists exactly once (one demand
per external id, one ingest entry per demand in the change log), every match was computed
(each demand matched to every startup), every match.created webhook was delivered at least
once with one webhook-id per notification. Prints acknowledged events, lost, duplicates
applied and the failover times (kill -> first acknowledged write sent after the kill).
Then both replicas are frozen (SIGSTOP): writes must be refused (503 replication_timeout over
HTTP, IngestAck 503 over ZeroMQ), and acknowledged once they resume.
A control run with OIM_FAILOVER_WAIT_REPLICAS=0 fails at that frozen-replica check (a 200 with
no replica holding the write); its SIGKILL part lost nothing either (replication on loopback
lags far less than a failover takes), so the frozen check is what proves WAIT here."""
import collections
import http.server
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from publisher import Publisher  # noqa: E402
from test_registry_util import RegistryCluster, oimtest  # noqa: E402
from oimtest import Process, Resp, wait_for  # noqa: E402

KILLS = int(os.environ.get("OIM_FAILOVER_KILLS", "3"))
STARTUPS = 3
EVENTS_PER_BATCH = 4
BATCH_PERIOD_S = 0.15           # a new batch this often while streaming
FAILOVER_TARGET_S = 10.0
MASTER = "oim"
WORDS = "lithium battery cathode recycling hydrometallurgy black mass recovery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpResp(Resp):
    """oimtest.Resp over TCP (the sentinel cluster's nodes listen on 127.0.0.1)."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")


def ask(port, *args, timeout=2.0):
    """One command to 127.0.0.1:port; the reply, or None when it cannot be reached."""
    try:
        r = TcpResp(port, timeout)
    except OSError:
        return None
    try:
        return r.pipeline(args)[0]
    except OSError:
        return None
    finally:
        r.close()


class SentinelCluster(RegistryCluster):
    """Three Redis nodes and three sentinels instead of the one unix-socket Redis."""

    def start_redis(self, *extra):
        self.node_ports = [free_port() for _ in range(3)]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.redis_url = f"redis://127.0.0.1:{self.node_ports[0]}/0"
        self.extra_env.update({
            "OIM_REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports),
            "OIM_REDIS_MASTER_NAME": MASTER,
            # a control run can turn WAIT off (then the frozen-replica check must fail)
            "OIM_REDIS_WAIT_REPLICAS": os.environ.get("OIM_FAILOVER_WAIT_REPLICAS", "1"),
            "OIM_REDIS_WAIT_MSEC": "500",      # well below 3 heartbeats: a WAIT blocks the loop
        })
        self.nodes = [self._node(i, None if i == 0 else self.node_ports[0]) for i in range(3)]
        for port in self.node_ports:
            wait_for(lambda: ask(port, "PING") == "PONG", 10, f"redis :{port}")
        for i, port in enumerate(self.sentinel_ports):
            conf = os.path.join(self.dir, f"sentinel-{i}.conf")
            with open(conf, "w") as f:
                f.write(f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                        f"sentinel monitor {MASTER} 127.0.0.1 {self.node_ports[0]} 2\n"
                        f"sentinel down-after-milliseconds {MASTER} 2000\n"
                        f"sentinel failover-timeout {MASTER} 10000\n"
                        f"sentinel parallel-syncs {MASTER} 1\n")
            proc = Process(f"sentinel-{i}", [self._sentinel_binary(), conf], os.environ.copy(),
                           os.path.join(self.dir, f"sentinel-{i}.log")).start()
            self.daemons.setdefault("sentinel", []).append(proc)
        self.wait_sentinels()
        wait_for(lambda: self.replicas_in_sync(self.node_ports[0]), 30, "2 replicas in sync")
        return self.nodes[0]

    @staticmethod
    def _sentinel_binary():
        return "/usr/bin/redis-sentinel" if os.path.exists("/usr/bin/redis-sentinel") \
            else "redis-sentinel"

    def _node(self, i, master_port):
        """Starts (or restarts) node i, as a replica of master_port when given."""
        node_dir = os.path.join(self.dir, f"node-{i}")
        os.makedirs(node_dir, exist_ok=True)
        argv = ["redis-server", "--port", str(self.node_ports[i]), "--bind", "127.0.0.1",
                "--dir", node_dir, "--save", "", "--appendonly", "yes",
                "--appendfsync", "always", "--repl-diskless-sync-delay", "0"]
        if master_port:
            argv += ["--replicaof", "127.0.0.1", str(master_port)]
        proc = Process(f"redis-{i}", argv, os.environ.copy(),
                       os.path.join(self.dir, f"redis-{i}.log")).start()
        replicas = self.daemons.setdefault("redis", [])
        if len(replicas) > i:
            replicas[i] = proc
        else:
            replicas.append(proc)
        return proc

    def master_port(self):
        """The master's port as the sentinels (any that answers) name it."""
        for port in self.sentinel_ports:
            reply = ask(port, "SENTINEL", "get-master-addr-by-name", MASTER)
            if isinstance(reply, list) and len(reply) == 2:
                return int(reply[1])
        return None

    def wait_sentinels(self, timeout=30):
        """Until every sentinel knows the master, two replicas and the two other sentinels."""
        def ready():
            for port in self.sentinel_ports:
                info = ask(port, "SENTINEL", "master", MASTER)
                if not isinstance(info, list):
                    return False
                fields = dict(zip(info[0::2], info[1::2]))
                if int(fields[b"num-slaves"]) < 2 or int(fields[b"num-other-sentinels"]) < 2:
                    return False
                replicas = ask(port, "SENTINEL", "replicas", MASTER) or []
                flags = [dict(zip(r[0::2], r[1::2]))[b"flags"] for r in replicas]
                if sum(1 for f in flags if f == b"slave") < 2:
                    return False
            return True
        wait_for(ready, timeout, "the sentinels to know the master, 2 replicas, each other",
                 interval=0.2)

    def replicas_in_sync(self, master):
        info = ask(master, "INFO", "replication")
        if not isinstance(info, bytes):
            return False
        online = [l for l in info.decode().splitlines()
                  if l.startswith("slave") and "state=online" in l]
        return len(online) >= 2

    def redis_cli(self, *args):
        port = self.master_port() or self.node_ports[0]
        reply = ask(port, *args)
        return reply.decode() if isinstance(reply, bytes) else reply

    def rcmd(self, *args):
        reply = ask(self.master_port(), *args, timeout=10)
        if isinstance(reply, oimtest.RedisError):
            raise reply
        return reply


class Hooks:
    """A webhook receiver keeping (webhook-id, notification type, data) of each POST."""

    def __init__(self):
        received = self.received = []
        lock = self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with lock:
                    received.append((self.headers.get("webhook-id"), body.get("type"),
                                     body.get("data") or {}))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def snapshot(self):
        with self.lock:
            return list(self.received)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Stream:
    """Publishes a new batch of demand events every BATCH_PERIOD_S until stopped, resending
    what gets no 200 ack (503, or no ack within the publisher's timeout). Records the send
    and ack times, and every 200 ack's results."""

    def __init__(self, pub, company_id):
        self.pub, self.company_id = pub, company_id
        self.stop = threading.Event()
        self.acked = {}             # batch_id -> (ack time, IngestAck)
        self.sent_at = {}           # batch_id -> last send time
        self.refused = collections.Counter()
        self.thread = threading.Thread(target=self.run)

    def batch(self, k):
        events = [{"external_id": f"fo-{k:05d}-{j}", "sequence": 1, "op": "upsert",
                   "org_ref": self.company_id,
                   "demand": {"title": f"{WORDS} pilot {k}-{j}",
                              "description": f"Recovery of lithium from battery cathode scrap, "
                                             f"{WORDS}, batch {k}", "tags": ["battery", "recycling"]}}
                  for j in range(EVENTS_PER_BATCH)]
        return self.pub.batch(f"b{k:05d}", events)

    def run(self):
        sock, pending, in_flight, made = self.pub.sock, [], {}, 0
        next_new = time.monotonic()
        while not (self.stop.is_set() and not pending and not in_flight):
            now = time.monotonic()
            if not self.stop.is_set() and now >= next_new and len(pending) + len(in_flight) < 8:
                pending.append(self.batch(made))
                made += 1
                next_new = now + BATCH_PERIOD_S
            for bid, (sent, b) in list(in_flight.items()):
                if now - sent > self.pub.timeout:
                    del in_flight[bid]
                    pending.append(b)
                    self.refused["timeout"] += 1
            while pending and len(in_flight) < self.pub.window:
                b = pending.pop(0)
                sock.send(b.SerializeToString())
                in_flight[b.batch_id] = (time.monotonic(), b)
                self.sent_at[b.batch_id] = in_flight[b.batch_id][0]
            if sock.poll(50):
                ack = self.pub.pb["ingest"].IngestAck()
                ack.ParseFromString(sock.recv())
                if ack.batch_id not in in_flight:
                    continue
                _, b = in_flight.pop(ack.batch_id)
                if ack.status == 200:
                    self.acked[ack.batch_id] = (time.monotonic(), ack)
                else:
                    self.refused[ack.error.split(":")[0] or str(ack.status)] += 1
                    pending.append(b)
                    time.sleep(0.05)

    def first_ack_after(self, t):
        """Seconds from t to the first 200 ack of a batch sent at or after t, or None."""
        times = [at for bid, (at, _) in self.acked.items() if self.sent_at[bid] >= t]
        return min(times) - t if times else None


class FailoverTest(unittest.TestCase):
    def test_master_killed_three_times_under_load(self):
        hooks = Hooks()
        env = {"OIM_WEBHOOK_RETRY_SCHEDULE": "0.2,0.5,1,2", "OIM_EVENT_CLAIM_IDLE_MS": "2000",
               "OIM_MATCH_CLAIM_IDLE_MS": "2000"}
        try:
            with SentinelCluster(env=env, heartbeat_ms=1000) as c:
                self.run_failovers(c, hooks)
        finally:
            hooks.close()

    def setup_parties(self, c, hooks):
        company, _ = c.org("company", name="Cathode Korea", industries=["C"], region="KR-11")
        startups = []
        for i in range(STARTUPS):
            org, key = c.org("startup", name=f"Reclaim Labs {i}", description=WORDS,
                             tags=["battery", "recycling"], industries=["C"], region="KR-11",
                             stage="seed")
            status, body, _ = c.http("PUT", f"/v1/orgs/{org['id']}/webhook", {"url": hooks.url},
                                     key=key)
            self.assertEqual(status, 200, body)
            startups.append(org["id"])
            self.startup_key = key
        return company, startups

    def run_failovers(self, c, hooks):
        c.up()
        for service in ("search", "matcher", "notify"):
            c.start(service)
        c.wait_registered({"registry": 1, "search": 1, "matcher": 1, "notify": 1})
        company, startups = self.setup_parties(c, hooks)
        pubinfo = c.publisher("failover-oi")
        pub = Publisher(f"tcp://127.0.0.1:{c.ports['ingest_port']}", pubinfo["api_key"], c.pb,
                        window=2, timeout=4.0, curve=pubinfo.get("curve"))
        stream = Stream(pub, company["id"])
        stream.thread.start()
        rnd = random.Random()
        kills = []
        try:
            for _ in range(KILLS):
                time.sleep(rnd.uniform(1.0, 4.0))
                kills.append(self.kill_master(c, stream))
            time.sleep(2.0)
        finally:
            stream.stop.set()
            stream.thread.join(120)
            pub.close()
        self.check(c, stream, startups, hooks, kills)
        self.check_replication_timeout(c, pubinfo, company["id"], startups[-1], hooks)

    def check_replication_timeout(self, c, pubinfo, company_id, startup_id, hooks):
        """With both replicas frozen (SIGSTOP) a write cannot be confirmed: HTTP 503
        replication_timeout (a registry transaction, and a single HSET of notify's), and an
        IngestAck 503, never a 200; once they run again the same events are acknowledged (as
        duplicates where the master had applied them)."""
        master = c.master_port()
        frozen = [c.daemons["redis"][i] for i, p in enumerate(c.node_ports) if p != master]
        events = [{"external_id": "frozen-http", "sequence": 1, "op": "upsert",
                   "org_ref": company_id, "demand": {"title": f"{WORDS} frozen"}}]
        pub = Publisher(f"tcp://127.0.0.1:{c.ports['ingest_port']}", pubinfo["api_key"], c.pb,
                        curve=pubinfo.get("curve"))
        batch = pub.batch("frozen-zmq", [dict(events[0], external_id="frozen-zmq")])
        for proc in frozen:
            proc.signal(signal.SIGSTOP)
        try:
            status, body, _ = c.http("POST", "/v1/events/demands", events, key=pubinfo["api_key"])
            ack = pub.send_raw(batch.SerializeToString())
            hook = c.http("PUT", f"/v1/orgs/{startup_id}/webhook", {"url": hooks.url},
                          key=self.startup_key)
        finally:
            for proc in frozen:
                proc.signal(signal.SIGCONT)
        self.assertEqual((status, body["error"]["code"]), (503, "replication_timeout"), body)
        self.assertEqual(ack.status, 503, ack)
        self.assertEqual((hook[0], hook[1]["error"]["code"]), (503, "replication_timeout"), hook)
        wait_for(lambda: c.replicas_in_sync(master), 30, "the replicas back")
        # (a daemon whose WAIT fell short waits 2 x OIM_REDIS_WAIT_MSEC before the next one)
        status, body, _ = wait_for(lambda: (r := c.http("POST", "/v1/events/demands", events,
                                                       key=pubinfo["api_key"]))[0] != 503 and r,
                                   10, "the write acknowledged once the replicas resumed")
        self.assertEqual((status, body["results"][0]["status"]), (200, "duplicate"), body)
        acked = pub.publish([batch], deadline=30)
        self.assertEqual(acked["frozen-zmq"].results[0].status, "duplicate")
        pub.close()
        print(f"replication timeout: HTTP 503 replication_timeout (registry, notify), IngestAck {ack.status} "
              f"\"{ack.error[:40]}\"; after the replicas resumed: duplicate", file=sys.stderr)

    def kill_master(self, c, stream):
        """SIGKILLs the master, waits for the new one, restarts the old as its replica.
        Returns (kill time, old port, new port)."""
        old = c.master_port()
        index = c.node_ports.index(old)
        t = time.monotonic()
        c.daemons["redis"][index].signal(signal.SIGKILL)
        c.daemons["redis"][index].wait()
        new = wait_for(lambda: (p := c.master_port()) != old and p, 30, "a new master",
                       interval=0.05)
        c._node(index, new)
        wait_for(lambda: c.replicas_in_sync(new), 30, "the killed master back as a replica",
                 interval=0.1)
        wait_for(lambda: stream.first_ack_after(t) is not None, 30,
                 "a write acknowledged after the failover", interval=0.05)
        print(f"kill: master :{old} -> :{new}, first acknowledged write after "
              f"{stream.first_ack_after(t):.2f} s", file=sys.stderr)
        return t, old, new

    def check(self, c, stream, startups, hooks, kills):
        acked = {}                  # external id -> demand id
        for _, ack in stream.acked.values():
            for r in ack.results:
                self.assertIn(r.status, ("created", "duplicate"), r)
                acked[r.external_id] = r.demand_id
        sources = c.rcmd("HGETALL", "oim:source:failover-oi:demands")
        stored = {sources[i].decode(): sources[i + 1].decode() for i in range(0, len(sources), 2)}
        lost = [e for e, d in acked.items() if stored.get(e) != d
                or c.rcmd("EXISTS", f"oim:demand:{d}") != 1]
        live = set(x.decode() for x in c.rcmd("ZRANGE", "oim:demands", 0, -1))
        lost += [e for e, d in acked.items() if d not in live and e not in lost]
        creates = collections.Counter(e.entity_id for e in c.changelog()
                                      if e.action == "demand.ingest.upsert")
        duplicates = sum(n - 1 for n in creates.values() if n > 1)
        extra = len(live) - len(set(stored.values()))

        def matched():
            missing = 0
            for d in acked.values():
                got = set(x.decode() for x in c.rcmd("HKEYS", f"oim:demand:{d}:matches") or [])
                missing += len(set(startups) - got)
            return missing == 0 or missing
        missing_matches = wait_for(lambda: matched() is True, 90, "every match computed",
                                   interval=1.0) and 0

        def delivered():
            pairs = {(h[2].get("demand_id"), h[2].get("startup_id"))
                     for h in hooks.snapshot() if h[1] == "match.created"}
            return all((d, s) in pairs for d in acked.values() for s in startups)
        wait_for(delivered, 90, "every match.created webhook", interval=1.0)
        ids_by_pair = collections.defaultdict(set)
        pairs_by_id = collections.defaultdict(set)
        for hook_id, type_, data in hooks.snapshot():
            if type_ == "match.created":
                pair = (data.get("demand_id"), data.get("startup_id"))
                ids_by_pair[pair].add(hook_id)
                pairs_by_id[hook_id].add(pair)
        many_ids = {p: i for p, i in ids_by_pair.items() if len(i) > 1}
        times = [stream.first_ack_after(t) for t, _, _ in kills]
        self.figures = (f"failover: {len(kills)} SIGKILLs of the master; acknowledged events "
              f"{len(acked)}; lost {len(lost)}; duplicates applied {duplicates}; extra demands "
              f"{extra}; matches {len(acked) * len(startups)} (missing {missing_matches}); "
              f"webhooks received {len(hooks.snapshot())} for {len(ids_by_pair)} matches; "
              f"failover time (kill -> first acknowledged write) "
              f"{', '.join(f'{x:.2f}' for x in times)} s (max {max(times):.2f}, target <= "
              f"{FAILOVER_TARGET_S:.0f}); refusals {dict(stream.refused)}")
        print("\n" + self.figures, file=sys.stderr)
        figures_dir = os.path.join(oimtest.BUILD_DIR, "figures")
        os.makedirs(figures_dir, exist_ok=True)
        with open(os.path.join(figures_dir, "failover.txt"), "w") as f:
            f.write(self.figures + "\n")
        self.assertGreaterEqual(len(kills), KILLS)
        self.assertGreater(len(acked), 50)
        self.assertEqual(lost, [], "acknowledged events lost")
        self.assertEqual(duplicates, 0, "an event applied twice")
        self.assertEqual(extra, 0, "demands without their source mapping")
        self.assertEqual(many_ids, {}, "a match delivered under several webhook-ids")
        self.assertEqual([i for i, p in pairs_by_id.items() if len(p) > 1], [],
                         "a webhook-id used for two matches")
        self.assertLessEqual(max(times), FAILOVER_TARGET_S)


if __name__ == "__main__":
    unittest.main(verbosity=2)
