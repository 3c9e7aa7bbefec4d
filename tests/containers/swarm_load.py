# Load for deploy/swarm-test.sh: HTTP writes (POST /v1/orgs) and reads (GET /v1/orgs/{id} of an
# acknowledged one) through the published gateway port until the file <stop> exists; then
# checks that every acknowledged organisation can be read back, and prints one JSON line:
#   python3 swarm_load.py <base url> <agency key> <stop file> [threads]
# Every request counts: no retries (a failure is a failure, whatever its cause).
import json, os, random, sys, threading, time, urllib.request, urllib.error

base, key, stop_file = sys.argv[1], sys.argv[2], sys.argv[3]
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 4
lock = threading.Lock()
acked, fails, reads, codes, fail_times = [], [0], [0], {}, []

def req(method, path, body=None):
    r = urllib.request.Request(base + path, method=method,
                               data=json.dumps(body).encode() if body else None,
                               headers={"Authorization": "Bearer " + key,
                                        "Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=10) as f:
        return f.status, json.loads(f.read() or b"{}")

def failed(e):
    code = str(getattr(e, "code", type(e).__name__))
    with lock:
        fails[0] += 1
        codes[code] = codes.get(code, 0) + 1
        fail_times.append(round(time.time(), 2))

def worker(n):
    i = 0
    while not os.path.exists(stop_file):
        i += 1
        try:
            if i % 2 or not acked:
                _, b = req("POST", "/v1/orgs", {"kind": "company", "name": f"스웜 Co {n}-{i}",
                           "description": "swarm load", "industries": ["C26"], "region": "KR-41",
                           "email": f"sw{n}-{i}@x.example"})
                with lock: acked.append(b["id"])
            else:
                with lock: oid = random.choice(acked)
                _, b = req("GET", "/v1/orgs/" + oid)
                assert b.get("id") == oid, b
                with lock: reads[0] += 1
        except Exception as e:  # noqa: BLE001 -- every failure is counted by kind
            failed(e)
            time.sleep(0.05)

t0 = time.time()
ts = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
secs = time.time() - t0
missing = 0
for oid in acked:
    try:
        req("GET", "/v1/orgs/" + oid)
    except Exception:  # noqa: BLE001
        missing += 1
print(json.dumps({"seconds": round(secs, 1), "writes_acknowledged": len(acked),
                  "reads_ok": reads[0], "failed_requests": fails[0], "failures_by_kind": codes,
                  "lost": missing, "duplicates": len(acked) - len(set(acked)),
                  "first_failure": fail_times[0] if fail_times else None,
                  "last_failure": fail_times[-1] if fail_times else None}))
