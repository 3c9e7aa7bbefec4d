"""replication_bench — demand-event ingest over ZeroMQ (batches of 100, acknowledged) with
"acknowledged means replicated" on (OIM_REDIS_WAIT_REPLICAS=1: every batch's transaction is
followed by WAIT 1) beside off (0), in the same run: a Redis master and one replica on
loopback TCP (both appendonly, appendfsync as given), the gateway and the registry, a fresh
cluster per measurement, the two modes alternating round by round; prints each round, the
medians, their ratio WAIT 1 / off and the median of the paired ratios (issue 18).

    /usr/bin/python3 tests/bench/replication_bench.py [--batches 200] [--window 8] [--rounds 3]
        [--appendfsync everysec]

Needs a build (OIM_BUILD_DIR, default ./build) with oim-gateway and oim-registry.
"""
import argparse
import os
import statistics
import sys

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from registry_ingest_bench import BATCH, zmq_run  # noqa: E402
from test_failover import TcpResp, ask, free_port  # noqa: E402
from test_registry_util import RegistryCluster, business_number  # noqa: E402
import oimtest  # noqa: E402


class ReplicatedCluster(RegistryCluster):
    """A master and one replica on TCP instead of the one unix-socket Redis."""

    def start_redis(self, *extra):
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            node_dir = os.path.join(self.dir, f"node-{i}")
            os.makedirs(node_dir)
            argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", node_dir,
                    "--save", "", "--appendonly", "yes", "--repl-diskless-sync-delay", "0"]
            argv += list(extra) + (["--replicaof", "127.0.0.1", str(ports[0])] if i else [])
            proc = oimtest.Process(f"redis-{i}", argv, os.environ.copy(),
                                   os.path.join(self.dir, f"redis-{i}.log")).start()
            self.daemons.setdefault("redis", []).append(proc)
        self.master = ports[0]
        self.redis_url = f"redis://127.0.0.1:{ports[0]}/0"

        def synced():
            info = ask(ports[0], "INFO", "replication")
            return isinstance(info, bytes) and b"state=online" in info
        oimtest.wait_for(synced, 30, "the replica in sync")

    def rcmd(self, *args):
        r = TcpResp(self.master, 10)
        try:
            return r.cmd(*args)
        finally:
            r.close()


def run(wait, args):
    env = {"OIM_LOG_LEVEL": "warn", "OIM_REDIS_WAIT_REPLICAS": str(wait),
           "OIM_REDIS_WAIT_MSEC": "1000"}
    with ReplicatedCluster(env=env, curve=False) as c:
        c.up("--appendfsync", args.appendfsync)
        bn = business_number()
        c.org("company", business_number=bn)
        keypair = zmq.curve_keypair()
        status, pub, _ = c.http("POST", "/v1/publishers", {
            "source_system": f"bench-wait{wait}", "name": "bench",
            "curve_public_key": keypair[0].decode()}, key=oimtest.AGENCY_KEY)
        assert status == 201, pub
        return zmq_run(c, pub["api_key"], bn, args.batches, args.window)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--window", type=int, default=8, help="ZeroMQ batches in flight")
    parser.add_argument("--rounds", type=int, default=3, help="off / WAIT 1 pairs")
    parser.add_argument("--appendfsync", default="everysec", choices=("everysec", "always", "no"))
    args = parser.parse_args()
    print(f"batches of {BATCH}, {args.batches} batches, window {args.window}, {args.rounds} rounds, "
          f"appendfsync {args.appendfsync}, plain ZeroMQ; load avg {os.getloadavg()[0]:.1f}")
    off, on = [], []
    for r in range(args.rounds):
        off.append(run(0, args))
        on.append(run(1, args))
        print(f"  round {r + 1}: WAIT off {off[-1]:,.0f} ev/s, WAIT 1 {on[-1]:,.0f} ev/s "
              f"({on[-1] / off[-1]:.2f})", flush=True)
    a, b = statistics.median(off), statistics.median(on)
    paired = statistics.median(y / x for x, y in zip(off, on))
    print(f"| appendfsync | WAIT off ev/s | WAIT 1 ev/s | WAIT 1 / off (medians) | "
          f"median of the {args.rounds} paired ratios | load avg |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.appendfsync} | {a:,.0f} | {b:,.0f} | {b / a:.2f} | {paired:.2f} | "
          f"{os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
