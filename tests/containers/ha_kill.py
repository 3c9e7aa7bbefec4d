# Manual HA check for docker-compose.ha.yml (issue 18 part 4; not yet in compose-test.sh):
#   python3 ha_kill.py http://127.0.0.1:<gateway port> <agency key> <redis service to kill>
# Project name oimha (COMPOSE_PROJECT_NAME=oimha), Redis password in /tmp/oimha/pw.
# Writes organisations in a loop, docker-kills the named Redis container, keeps writing 14 s,
# then checks every acknowledged organisation exists on the new master (via the sentinels).
import json, sys, threading, time, urllib.request, subprocess
base, key = sys.argv[1], sys.argv[2]
acked, fails, stop, codes = [], [0], [False], {}
def req(m, p, body=None):
    r = urllib.request.Request(base + p, method=m, data=json.dumps(body).encode() if body else None,
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=10) as f: return f.status, json.loads(f.read() or b"{}")
kill_t, first_ok_after = [None], [None]
def writer():
    i = 0
    while not stop[0]:
        i += 1; t0 = time.time()
        try:
            st, b = req("POST", "/v1/orgs", {"kind": "company", "name": f"HA Co {i}", "description": "x",
                        "industries": ["C26"], "region": "KR-41", "email": f"ha{i}@x.example"})
            acked.append(b["id"])
            if kill_t[0] and t0 > kill_t[0] + 0.05 and not first_ok_after[0]: first_ok_after[0] = time.time()
        except Exception as e:
            fails[0] += 1; codes[getattr(e, "code", type(e).__name__)] = codes.get(getattr(e, "code", type(e).__name__), 0) + 1
            time.sleep(0.05)
t = threading.Thread(target=writer); t.start()
time.sleep(4)
subprocess.run(["docker", "kill", "oimha_"+sys.argv[3]+"_1"], check=True); kill_t[0] = time.time()
time.sleep(14); stop[0] = True; t.join()
master = subprocess.run(["docker","exec","oimha_sentinel-1_1","redis-cli","-p","26379","sentinel","get-master-addr-by-name","oim"],capture_output=True,text=True).stdout.split()[0]
pw = open("/tmp/oimha/pw").read().strip()
script = "\n".join(f"EXISTS oim:org:{o}" for o in acked)
out = subprocess.run(["docker","exec","-i","-e","REDISCLI_AUTH="+pw,f"oimha_{master}_1","redis-cli"],input=script,capture_output=True,text=True).stdout.split()
missing = sum(1 for x in out if x.strip()=="0")
print("master now", master, "checked", len(out))
print(f"acknowledged {len(acked)} lost {missing} duplicates {len(acked)-len(set(acked))} failed requests {fails[0]} failover {first_ok_after[0]-kill_t[0]:.1f} s; failures by status {codes}")
