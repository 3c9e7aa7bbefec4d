#!/usr/bin/env bash
# Container test of the docker-compose deployment: builds the image offline, brings the stack
# up under a throw-away project name (plus a webhook receiver container, from
# deploy/compose-test.override.yml), checks health/readiness and a round trip, runs the whole
# flow across containers (tests/containers/flow.py: company + startup + webhook + demand →
# match → signed webhook verified in the receiver container), scales search/matcher/notify,
# kills a search replica while searching, `docker kill`s each daemon and Redis in turn during a
# stream of demand events (nothing acknowledged lost, every match's webhook delivered),
# SIGKILLs each daemon inside its container (restart policy), checks that data survives
# `down` + `up`, and tears everything down (no containers, networks or volumes left).
# Deployed as the agency deploys it (issue 13): CURVE on every ZeroMQ port with keys made by
# `deploy/stack.sh keys` (oimctl curve-keygen in the image), Redis with a password; the
# "security" phase checks what is published, what each container holds and that no log shows
# the password, and tests/containers/flow.py curve runs ingest and the feed over CURVE
# through the published ports (registered keys work, no key or an unknown key gets nothing).
# Prints how long each phase took.
#
# Usage: deploy/compose-test.sh            exit 0 pass, 1 fail, 77 no Docker engine (skipped)
# Environment:
#   OIM_COMPOSE_FILE  default docker-compose.yml at the root
#   OIM_COMPOSE       compose command (default `docker compose` when v2 is there, else docker-compose)
#   OIM_KEEP=1        leave the stack running on failure (for debugging)
#   OIM_TEST_IMAGE    test this already built image instead of building oim-market:test
#   OIM_STREAM_ARGS   options for the stream phase (tests/containers/flow.py stream --help)
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
log() { echo "compose-test: $*" >&2; }
t0=$SECONDS t_phase=$SECONDS
phase_done() { log "phase '$1' took $((SECONDS - t_phase)) s"; t_phase=$SECONDS; }
fail() { log "FAIL: $*"; exit 1; }

if ! docker info >/dev/null 2>&1; then
  log "SKIPPED: no usable Docker engine here (docker info failed); the container tests did not run"
  exit 77
fi
if [[ -n ${OIM_COMPOSE:-} ]]; then read -r -a compose_cmd <<<"$OIM_COMPOSE"
elif docker compose version >/dev/null 2>&1; then compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then compose_cmd=(docker-compose)
else log "SKIPPED: neither 'docker compose' nor docker-compose is installed"; exit 77; fi
file=${OIM_COMPOSE_FILE:-}
[[ -n $file ]] || file=docker-compose.yml
override=deploy/compose-test.override.yml # the receiver service

project="oimtest$$"
image=${OIM_TEST_IMAGE:-oim-market:test}
tmp=$(mktemp -d)
# The host side of flow.py curve needs python3-zmq/python3-protobuf: Debian's python3 has them.
py=python3
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import zmq, google.protobuf' 2>/dev/null; then py=$p; break; fi
done
# The agency's key (the registry wants at least 32 characters) and Redis' password, random.
agency_key="compose-test-agency-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)"
redis_pw="rpw$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"
# Test settings in their own env file: a developer's .env does not leak in.
cat >"$tmp/test.env" <<EOF
OIM_IMAGE=$image
OIM_BOOTSTRAP_AGENCY_KEY=$agency_key
OIM_WEBHOOK_ALLOW_PRIVATE=1
OIM_WEBHOOK_RETRY_SCHEDULE=1,1,2
OIM_LOG_LEVEL=info
OIM_TEST_RECEIVER_DIR=$tmp/receiver
OIM_RATE_LIMIT=100000
OIM_RATE_BURST=100000
OIM_REDIS_APPENDFSYNC=always
OIM_PUBLISH_ADDR=127.0.0.1
OIM_PUBLISH_HTTP_PORT=
OIM_PUBLISH_INGEST_PORT=
OIM_PUBLISH_FEED_PORT=
OIM_REDIS_PASSWORD=$redis_pw
OIM_KEYS_DIR=$tmp/keys
EOF
chmod 600 "$tmp/test.env"
dc() { "${compose_cmd[@]}" -p "$project" -f "$file" -f "$override" --project-directory "$repo" --env-file "$tmp/test.env" "$@"; }
log "using ${compose_cmd[*]} ($("${compose_cmd[@]}" version --short 2>/dev/null || echo '?')), $file, project $project"

teardown() {
  local rc=$?
  if [[ ${OIM_KEEP:-0} == 1 && $rc -ne 0 ]]; then
    # Its env file (Redis password) and keys stay too: compose needs them to take it down.
    log "OIM_KEEP=1: stack $project left running; remove with: ${compose_cmd[*]} -p $project -f $file -f $override --env-file $tmp/test.env down -v && rm -rf $tmp"
    log "total $((SECONDS - t0)) s; FAIL"
    exit "$rc"
  else
    dc down -v --remove-orphans -t 10 >/dev/null 2>&1
    local left
    left=$(docker ps -aq --filter "label=com.docker.compose.project=$project"
           docker network ls -q --filter "label=com.docker.compose.project=$project"
           docker volume ls -q --filter "label=com.docker.compose.project=$project")
    [[ -z $left ]] || { log "FAIL: left behind after down -v: $left"; rc=1; }
  fi
  rm -rf "$tmp"
  log "total $((SECONDS - t0)) s; $([[ $rc -eq 0 ]] && echo PASS || echo FAIL)"
  exit "$rc"
}
trap teardown EXIT

# Waits until every container of the project is running and healthy (deadline $1 s).
wait_healthy() {
  local deadline=$((SECONDS + $1)) ids st bad
  while :; do
    ids=$(dc ps -q)
    bad=""
    for id in $ids; do
      st=$(docker inspect -f '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
      [[ $st == running/healthy ]] || bad+=" $(docker inspect -f '{{.Name}}' "$id"):$st"
    done
    [[ -n $ids && -z $bad ]] && return 0
    if ((SECONDS > deadline)); then
      log "not healthy after $1 s:$bad"; dc ps >&2; dc logs --tail 20 >&2; return 1
    fi
    sleep 1
  done
}
http() { curl -s -o "$tmp/body" -w '%{http_code}' --max-time 5 "$@" 2>/dev/null; return 0; }
wait_ready() { # GET /readyz until 200 (deadline $1 s)
  local deadline=$((SECONDS + $1)) code
  while :; do
    code=$(http "$base/readyz"); [[ $code == 200 ]] && return 0
    ((SECONDS > deadline)) && { log "/readyz: $code $(head -c 300 "$tmp/body")"; return 1; }
    sleep 0.5
  done
}

# --- build (offline): base images when missing, then the image
if [[ -n ${OIM_TEST_IMAGE:-} ]]; then
  docker image inspect "$image" >/dev/null 2>&1 || fail "OIM_TEST_IMAGE=$image does not exist"
  log "using the existing image $image (OIM_TEST_IMAGE)"
else
  OIM_IMAGE=$image deploy/docker-build.sh -q >/dev/null || fail "image build"
fi
# The webhook receiver (tests/containers/receiver.c), compiled in the build base image and
# mounted into a container of the runtime image: no image here has python3 and nothing can be
# pulled, so services/notify/tests/receiver.py cannot run in a container (see receiver.c).
mkdir -p "$tmp/receiver"
docker run --rm --network none --user "$(id -u):$(id -g)" -v "$repo/tests/containers:/src:ro" \
  -v "$tmp/receiver:/out" "${OIM_BUILD_BASE_IMAGE:-oim-base:bookworm-build}" \
  gcc -std=gnu11 -O2 -Wall -Werror -o /out/oim-test-receiver /src/receiver.c -lmicrohttpd -lpthread \
  || fail "compiling the webhook receiver"
# The CURVE keys, made as `deploy/stack.sh up` makes them on a first start.
OIM_KEYS_DIR="$tmp/keys" OIM_IMAGE="$image" deploy/stack.sh keys || fail "making the CURVE keys"
phase_done "build"

# --- up
dc up -d --no-build || fail "up"
wait_healthy 120 || fail "stack not healthy"
phase_done "up (all healthy)"
port=$(dc port gateway "${OIM_HTTP_PORT:-8080}" | sed 's/.*://')
base="http://127.0.0.1:$port"
log "gateway at $base"
[[ $(http "$base/healthz") == 200 ]] || fail "/healthz"
wait_ready 60 || fail "/readyz never ready"
phase_done "ready"
code=$(http -H "Authorization: Bearer $agency_key" "$base/v1/status")
[[ $code == 200 ]] || fail "/v1/status: $code $(head -c 300 "$tmp/body")"
for s in registry search matcher notify; do
  grep -q "$s" "$tmp/body" || fail "/v1/status does not mention $s: $(head -c 300 "$tmp/body")"
done
log "/v1/status round trip through every daemon: ok"
# The web app comes with the image (index.html, modules, Chart.js from libjs-chart.js), with its CSP.
curl -s -D "$tmp/headers" -o "$tmp/body" --max-time 5 "$base/" >/dev/null
grep -qi "^content-security-policy: .*script-src 'self'" "$tmp/headers" || fail "/ without its CSP"
grep -q "OI 마켓" "$tmp/body" || fail "/ is not the web app: $(head -c 200 "$tmp/body")"
for f in app/js/main.js app/app.css app/vendor/chart.min.js; do
  [[ $(http "$base/$f") == 200 ]] || fail "the image lacks the web app's $f"
done
log "web app served from the image: ok"

# --- the whole flow, across containers
flow() { "$py" "$repo/tests/containers/flow.py" "$1" --project "$project" \
           --key "$agency_key" --state "$tmp/flow.json" --keys "$tmp/keys" "${@:2}"; }
flow flow || fail "flow: company + startup + webhook + demand -> match -> signed webhook"
phase_done "flow (match + signed webhook in the receiver container)"

# --- security: published ports, keys per container, Redis' password
# redis-cli with the container's own OIM_REDIS_PASSWORD (not on any command line)
rcli() { dc exec -T redis sh -c 'REDISCLI_AUTH=$OIM_REDIS_PASSWORD exec redis-cli "$@"' rcli "$@" | tr -d '\r'; }
gw=$(dc ps -q gateway)
published=$(docker port "$gw" | sed 's|/tcp.*||' | sort -un | tr '\n' ' ')
[[ $published == "5570 5571 8080 " ]] || fail "gateway publishes '$published', want exactly 5570 5571 8080"
for svc in redis registry search matcher notify; do
  for id in $(dc ps -q "$svc"); do
    [[ -z $(docker port "$id") ]] || fail "$svc publishes $(docker port "$id")"
  done
done
log "published: gateway $published only (5555 broker, 5572 feed intake, 6379 Redis: not)"
# (the key directory is 0711: files are opened by name, not listed)
keys_in() { docker exec "$1" sh -c 'for f in daemon.cert daemon.cert_secret gateway.cert gateway.cert_secret; do
                                       [ -e "/run/oim/keys/$f" ] && printf "%s " "$f"; done; true'; }
[[ $(keys_in "$gw") == "daemon.cert gateway.cert_secret " ]] || fail "gateway holds keys: $(keys_in "$gw")"
for svc in registry search matcher notify; do
  id=$(dc ps -q "$svc" | head -n1)
  [[ $(keys_in "$id") == "daemon.cert_secret gateway.cert " ]] || fail "$svc holds keys: $(keys_in "$id")"
  docker exec "$id" sh -c 'echo x >/run/oim/keys/x' 2>/dev/null && fail "$svc can write its key directory"
done
[[ -z $(docker run --rm --network none "$image" sh -c 'find / -xdev \( -name "*.cert_secret" -o -name "*.cert" \) 2>/dev/null') ]] \
  || fail "the image holds key files"
log "keys: the gateway holds gateway.cert_secret + daemon.cert, each daemon daemon.cert_secret + gateway.cert (read-only); the image none"
[[ $(dc exec -T redis redis-cli ping | tr -d '\r') == *NOAUTH* ]] || fail "Redis answers without the password"
[[ $(rcli CONFIG GET protected-mode | tail -n1) == yes ]] || fail "Redis protected-mode is not yes"
maxmem=$(rcli CONFIG GET maxmemory | tail -n1)
[[ $maxmem =~ ^[0-9]+$ && $maxmem -gt 0 ]] || fail "Redis maxmemory is '$maxmem' (want the auto default)"
dc logs --no-color >"$tmp/all.log" 2>&1
grep -qF "$redis_pw" "$tmp/all.log" && fail "the Redis password appears in a container's log"
"$py" - "$base" <<'PY' || fail "oim_redis_memory_used_percent not in /metrics"
import sys, time, urllib.request
deadline = time.time() + 20
while time.time() < deadline:      # each daemon reads INFO memory every 10 s
    text = urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=5).read().decode()
    if "oim_redis_memory_used_percent" in text:
        sys.exit(0)
    time.sleep(1)
sys.exit(1)
PY
log "Redis: NOAUTH without the password, protected-mode yes, maxmemory $maxmem bytes, password in no log, memory gauge in /metrics"
phase_done "security (ports, keys, Redis)"

# --- ingest and the feed over CURVE, through the published ports
flow curve || fail "CURVE: registered publisher and feed keys work, no key / unknown keys get nothing"
phase_done "curve (ingest + feed with registered keys; intruders get nothing)"

# --- scale, then kill one search replica while searching
dc up -d --no-build --no-recreate --scale search=3 --scale matcher=2 --scale notify=2 || fail "scale"
wait_healthy 120 || fail "scaled stack not healthy"
n=$(dc ps -q search | wc -l)
[[ $n -eq 3 ]] || fail "expected 3 search replicas, have $n"
phase_done "scale to search=3 matcher=2 notify=2"
search_url="$base/v1/search?type=demand&q=compose"
code=$(http "$search_url")
if [[ $code == 404 || $code == 501 ]]; then
  log "search endpoint not there yet ($code): killing a replica and checking /v1/status instead"
  search_url="$base/v1/status"
fi
victim=$(dc ps -q search | head -n1)
docker kill "$victim" >/dev/null || fail "docker kill"
failed=0
for _ in $(seq 1 40); do
  code=$(http -H "Authorization: Bearer $agency_key" "$search_url")
  [[ $code == 200 ]] || failed=$((failed + 1))
  sleep 0.25
done
log "after killing one search replica: $failed of 40 requests failed"
((failed <= 1)) || fail "search did not keep answering with a replica down"
sleep 2
log "killed replica: $(docker inspect -f '{{.State.Status}} (restart count {{.RestartCount}})' "$victim") -- \
docker does not restart a container stopped by 'docker kill' (counts as a manual stop)"
dc up -d --no-build --scale search=3 --scale matcher=2 --scale notify=2 >/dev/null 2>&1
wait_healthy 120 || fail "stack not healthy again after restarting the killed replica"
phase_done "kill a search replica"

# --- `docker kill` each daemon and Redis in turn during a stream of demand events. `docker
# kill` SIGKILLs the container's init and with it the daemon; Docker records it as a manual
# stop, so the restart policy does not apply: flow.py brings it back with `docker start` (the
# same container, as an operator would). The next phase covers the restart policy.
flow stream ${OIM_STREAM_ARGS:-} || fail "stream with docker kill of each daemon"
phase_done "docker kill each daemon during a demand stream"

# --- SIGKILL the process inside each service's container: the restart policy brings it back
# (`docker kill` would not: Docker counts it as a manual stop), it turns healthy again and the
# stack is ready again without anything else being restarted.
kill_inside() { # $1 service, $2 process name
  local id before deadline
  id=$(dc ps -q "$1" | head -n1)
  before=$(docker inspect -f '{{.RestartCount}}' "$id")
  docker exec "$id" bash -c 'for p in /proc/[0-9]*; do [[ $(cat $p/comm 2>/dev/null) == '"$2"' ]] && kill -KILL ${p#/proc/}; done; true'
  deadline=$((SECONDS + 60))
  until [[ $(docker inspect -f '{{.RestartCount}} {{.State.Health.Status}}' "$id") == "$((before + 1)) healthy" ]]; do
    ((SECONDS > deadline)) && { log "$1 not restarted and healthy 60 s after SIGKILL"; return 1; }
    sleep 0.5
  done
}
for svc in registry search matcher notify gateway redis; do
  t_kill=$SECONDS
  proc="oim-$svc"; [[ $svc == redis ]] && proc=redis-server
  kill_inside "$svc" "$proc" || fail "SIGKILL $svc"
  port=$(dc port gateway "${OIM_HTTP_PORT:-8080}" | sed 's/.*://'); base="http://127.0.0.1:$port"
  wait_ready 60 || fail "not ready again after SIGKILL of $svc"
  log "SIGKILL $proc: restarted, healthy and ready again in $((SECONDS - t_kill)) s"
done
phase_done "SIGKILL each daemon"

# --- persistence: down (keeping volumes), up, data still there
marker="m$$-$RANDOM"
rcli SET oim:compose-test:marker "$marker" >/dev/null || fail "redis SET"
org=""
code=$(http -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $agency_key" \
  -d '{"kind":"company","name":"Compose Test Co"}' "$base/v1/orgs")
if [[ $code == 201 || $code == 200 ]]; then
  org=$(sed -n 's/.*"id" *: *"\(org_[^"]*\)".*/\1/p' "$tmp/body")
fi
dc down -t 10 || fail "down"
[[ -n $(docker volume ls -q --filter "label=com.docker.compose.project=$project") ]] || fail "volume gone after down"
dc up -d --no-build || fail "up again"
wait_healthy 120 || fail "not healthy after down/up"
port=$(dc port gateway "${OIM_HTTP_PORT:-8080}" | sed 's/.*://'); base="http://127.0.0.1:$port"
wait_ready 60 || fail "not ready after down/up"
got=$(rcli GET oim:compose-test:marker)
[[ $got == "$marker" ]] || fail "Redis data lost across down/up (got '$got')"
if [[ -n $org ]]; then
  code=$(http -H "Authorization: Bearer $agency_key" "$base/v1/orgs/$org")
  [[ $code == 200 ]] || fail "organization $org lost across down/up ($code)"
  log "organization $org survived down/up"
  flow persisted || fail "the flow's data lost across down/up"
else
  log "POST /v1/orgs not available yet: persistence checked with a Redis key only"
fi
phase_done "down/up keeps data"
