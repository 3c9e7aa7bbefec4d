"""Gateway round-trip benchmark (issue 2): requests/s and p50/p99 latency of
GET /v1/status/registry — HTTP -> gateway -> broker -> oim-registry -> Redis PING -> back —
under wrk with 64 concurrent connections, beside the same load on a trivial libmicrohttpd
server with the same threading model (tests/bench/direct_server.c), measured in the same run.
Targets: the round trip keeps >= 50% of the direct server's throughput, p99 <= 5 ms.

    /usr/bin/python3 tests/bench/gateway_bench.py [--seconds 10] [--connections 64]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import BUILD_DIR, Cluster, wait_for  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(url, seconds, connections, pids):
    """wrk plus the CPU the given processes spent per request (robust to a busy machine)."""
    before = sum(cpu_seconds(p) for p in pids)
    result = wrk(url, seconds, connections)
    requests = result["rps"] * seconds
    result["cpu_us"] = (sum(cpu_seconds(p) for p in pids) - before) / max(requests, 1) * 1e6
    return result


def wrk(url, seconds, connections, threads=2):
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                          "--latency", url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": pct(50), "p99": pct(99),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(1) if errors else "none"}


def start_direct(tmp, name, extra):
    port_file = os.path.join(tmp, name.replace(" ", "_").replace("/", "_").replace(",", ""))
    proc = subprocess.Popen([os.path.join(BUILD_DIR, "tests", "direct_server"), port_file] + extra)
    wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(), 5, "direct server")
    return f"http://127.0.0.1:{open(port_file).read().strip()}/v1/status/registry", proc


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    with Cluster(env={"OIM_LOG_LEVEL": "warn"}) as c, tempfile.TemporaryDirectory() as tmp:
        c.start_redis()
        c.start_gateway()
        c.start("registry")
        c.wait_registered({"registry": 1})
        refs = {}
        try:
            for name, extra in (("direct MHD, thread/conn", []), ("direct MHD, epoll", ["--epoll"])):
                refs[name] = start_direct(tmp, name, extra)
            gateway_url = f"http://127.0.0.1:{c.ports['http_port']}/v1/status/registry"
            for url in [u for u, _ in refs.values()] + [gateway_url]:
                wrk(url, 1, args.connections)          # warm up
            results = {name: measured(url, args.seconds, args.connections, [proc.pid])
                       for name, (url, proc) in refs.items()}
            pids = [c.gateway.proc.pid, c.daemons["registry"][0].proc.pid, c.redis.proc.pid]
            g = measured(gateway_url, args.seconds, args.connections, pids)
        finally:
            for _, proc in refs.values():
                proc.terminate()
                proc.wait()
    print(f"gateway round trip vs direct libmicrohttpd, {args.connections} connections, "
          f"{args.seconds}s each (wrk)")
    print(f"{'':28}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'CPU us/req':>12}  errors")
    for name, d in results.items():
        print(f"{name:28}{d['rps']:>12.0f}{d['p50']:>10.2f}{d['p99']:>10.2f}{d['cpu_us']:>12.1f}  {d['errors']}")
    print(f"{'HTTP→broker→daemon→Redis':28}{g['rps']:>12.0f}{g['p50']:>10.2f}{g['p99']:>10.2f}{g['cpu_us']:>12.1f}  "
          f"{g['errors']}, non-2xx {g['non2xx']}")
    d = results["direct MHD, thread/conn"]
    ratio = g["rps"] / d["rps"]
    print("CPU us/req: CPU time of the serving processes (gateway + registry + redis for the round trip) "
          "per request; unlike req/s it hardly depends on what else the machine runs")
    print(f"ratio vs direct epoll: {g['rps'] / results['direct MHD, epoll']['rps']:.2f}")
    print(f"ratio (round trip / direct, same threading): {ratio:.2f}   target >= 0.50 -> "
          f"{'MET' if ratio >= 0.5 else 'NOT MET'};  p99 {g['p99']:.2f} ms, target <= 5 ms -> "
          f"{'MET' if g['p99'] <= 5 else 'NOT MET'}")


if __name__ == "__main__":
    main()
