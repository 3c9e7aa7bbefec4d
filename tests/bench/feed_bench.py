"""The ZeroMQ feed's throughput through a real oim-gateway, CURVE beside plain, in one run.

    /usr/bin/python3 tests/bench/feed_bench.py [--count 300000] [--size 400] [--rounds 3]

Each round starts a throw-away Redis and a gateway with CURVE on (keys from oimctl
curve-keygen, a feed key registered for the topic's organisation as the registry stores one)
and one with OIM_CURVE=off, and runs build/tests/feed_bench against each: a PUB into the
intake (as notify), a SUB on the public feed. The rounds alternate the order. Prints each
run and the ratio of the medians (CURVE / plain). See tests/bench/README.md.
"""
import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import oimtest  # noqa: E402

ORG = "org_000000000000000000B3N"


def run(curve, count, size):
    with oimtest.Cluster(curve=curve) as c:
        c.start_redis()
        c.start_gateway()
        argv = [os.path.join(oimtest.BUILD_DIR, "tests", "feed_bench"), c.ports["feed_intake"],
                c.feed_endpoint(), ORG, str(count), str(size)]
        if curve:
            subprocess.run(["redis-cli", "-s", c.redis_sock, "-x", "SET", f"oim:org:{ORG}"],
                           input=_active_org(), check=True, capture_output=True)
            sub_public, sub_secret = c.register_curve_key("feed", org_id=ORG)
            server, _ = oimtest.load_cert(os.path.join(c.keys_dir, "gateway.cert"))
            pub_public, pub_secret = c.daemon_keypair()
            argv += [k.decode() for k in (server, pub_public, pub_secret, sub_public, sub_secret)]
        out = subprocess.run(argv, capture_output=True, timeout=600, check=True).stdout.decode()
        fields = dict(kv.split("=") for kv in out.split())
        return {k: float(v) for k, v in fields.items()}


def _active_org():
    """An Organization {id, status "active"} in protobuf, written by hand (fields 1 and 14)."""
    from oimtest import _pb_string
    return _pb_string(1, ORG) + _pb_string(14, "active")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=300000)
    ap.add_argument("--size", type=int, default=400, help="notification bytes")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rates = {True: [], False: []}
    for r in range(args.rounds):
        for curve in ((True, False) if r % 2 == 0 else (False, True)):
            m = run(curve, args.count, args.size)
            rates[curve].append(m["rate"])
            print(f"round {r + 1} {'curve' if curve else 'plain'}: {m['rate']:,.0f} msg/s "
                  f"({m['received']:,.0f} of {m['sent']:,.0f} received in {m['seconds']:.2f} s)",
                  flush=True)
    curve, plain = statistics.median(rates[True]), statistics.median(rates[False])
    print(f"median: curve {curve:,.0f} msg/s, plain {plain:,.0f} msg/s, ratio {curve / plain:.2f}")


if __name__ == "__main__":
    main()
