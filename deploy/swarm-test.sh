#!/usr/bin/env bash
# Docker Swarm test (issue 18 parts 5-6, single-node variant): on this machine's engine,
# init a swarm, deploy the stack (deploy/stack.sh swarm-up, deploy/docker-stack.yml), wait
# until every service has all its replicas healthy, then run a load of HTTP writes and reads
# through the published gateway port (tests/containers/swarm_load.py) while rolling updates
# run one after the other: `docker service update --image` of the registry and of the gateway,
# `--force` of search. Counts failed requests (target 0) and checks that every acknowledged
# write can be read back. Removes everything (stack, secrets, volume, the swarm) even on
# failure. Exit 0 pass, 1 fail, 77 not run (no Docker engine, or the engine is already in a
# swarm: the test will not touch someone's swarm).
#   deploy/swarm-test.sh              OIM_SWARM_TEST_UPDATES="registry gateway search"
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log() { echo "swarm-test: $*" >&2; }
if ! docker info >/dev/null 2>&1; then echo "SKIPPED: no Docker engine"; exit 77; fi
if [[ $(docker info --format '{{.Swarm.LocalNodeState}}') != inactive ]]; then
  echo "SKIPPED: this Docker engine is already in a swarm (the test makes and leaves its own)"; exit 77
fi
tmp=$(mktemp -d /tmp/oim-swarm-test.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])'; }
token() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "$1"; }
export OIM_STACK=oimswarm$$ OIM_KEYS_DIR=$tmp/keys OIM_RATE_LIMIT=100000 OIM_RATE_BURST=100000
export OIM_BOOTSTRAP_AGENCY_KEY="oim_agency_$(token 40)" OIM_REDIS_PASSWORD=$(token 40)
export OIM_SWARM_HTTP_PORT=$(free_port) OIM_SWARM_INGEST_PORT=$(free_port) OIM_SWARM_FEED_PORT=$(free_port)
image=${OIM_IMAGE:-oim-market:latest}
roll_image=${image%%:*}:swarm-roll$$
cleanup() {
  local rc=$?
  touch "$tmp/stop"
  [[ -z ${load_pid:-} ]] || wait "$load_pid" 2>/dev/null || true
  log "cleanup: stack, secrets, volume, swarm"
  deploy/stack.sh swarm-down -v >/dev/null 2>&1 || true
  docker rmi "$roll_image" >/dev/null 2>&1 || true
  [[ $(docker info --format '{{.Swarm.LocalNodeState}}') == inactive ]] || docker swarm leave --force >/dev/null 2>&1 || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

t0=$SECONDS
deploy/stack.sh swarm-up >&2
log "up in $((SECONDS - t0)) s"

# Every service: all replicas running and (with a health check) healthy.
converged() {
  local s want run
  for s in $(docker stack services -q "$OIM_STACK"); do
    want=$(docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$s")
    run=$(docker service ps -q --filter desired-state=running "$s" | xargs -r docker inspect -f '{{.Status.State}}' 2>/dev/null | grep -c running || true)
    ((run >= want)) || return 1
  done
  for c in $(docker ps -q --filter "label=com.docker.stack.namespace=$OIM_STACK"); do
    [[ $(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}healthy{{end}}' "$c") == healthy ]] || return 1
  done
}
deadline=$((SECONDS + 180))
until converged; do ((SECONDS < deadline)) || { docker stack ps "$OIM_STACK" >&2; log "FAIL: not converged"; exit 1; }; sleep 2; done
log "all replicas healthy after $((SECONDS - t0)) s:"
docker stack services "$OIM_STACK" --format '  {{.Name}} {{.Replicas}}' >&2

docker tag "$image" "$roll_image"
python3 tests/containers/swarm_load.py "http://127.0.0.1:$OIM_SWARM_HTTP_PORT" "$OIM_BOOTSTRAP_AGENCY_KEY" \
  "$tmp/stop" "${OIM_SWARM_TEST_THREADS:-4}" >"$tmp/load.json" &
load_pid=$!
sleep 5
for s in ${OIM_SWARM_TEST_UPDATES:-registry gateway search}; do
  u0=$SECONDS
  if [[ $s == search ]]; then how=(--force); else how=(--image "$roll_image"); fi
  docker service update -q --detach=false "${how[@]}" "${OIM_STACK}_$s" >/dev/null 2>"$tmp/update.err" \
    || { cat "$tmp/update.err" >&2; log "FAIL: update of $s"; exit 1; }
  log "rolling update of $s (${how[*]}) done in $((SECONDS - u0)) s at $(date +%s)"
  sleep 5
done
touch "$tmp/stop"; wait "$load_pid"; load_pid=
result=$(cat "$tmp/load.json")
log "load: $result"
echo "$result" | python3 -c '
import json, sys
r = json.load(sys.stdin)
ok = r["writes_acknowledged"] > 0 and r["lost"] == 0 and r["duplicates"] == 0 and r["failed_requests"] == 0
print("swarm-test: %s: %d writes acknowledged, %d reads, %d failed requests %s, %d lost, %d duplicates in %.0f s" % (
    "PASS" if ok else "FAIL", r["writes_acknowledged"], r["reads_ok"], r["failed_requests"],
    r["failures_by_kind"], r["lost"], r["duplicates"], r["seconds"]))
sys.exit(0 if ok else 1)'
