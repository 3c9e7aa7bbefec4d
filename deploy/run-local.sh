#!/usr/bin/env bash
# Brings the whole OI Market up on this machine as native processes (for development):
# installs dependencies, builds, starts Redis (AOF on, data in var/), the gateway and the four
# daemons, waits until /readyz says ready and prints the URL.
#   deploy/run-local.sh            start (or restart) everything
#   deploy/run-local.sh stop       stop everything
#   deploy/run-local.sh status     what is running
# Environment: OIM_HTTP_PORT (8080), OIM_INGEST_PORT (5570), OIM_FEED_PORT (5571),
# OIM_BROKER_PORT (5555), OIM_BOOTSTRAP_AGENCY_KEY (generated into var/agency.key if unset),
# OIM_VAR (var/), OIM_SKIP_BUILD=1 (use build/ as it is), and every OIM_* daemon variable (see each binary's --help).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
var=${OIM_VAR:-$root/var}
mkdir -p "$var/log" "$var/run" "$var/redis"
services=(gateway registry search matcher notify)

stop() {
  for name in "${services[@]}" redis; do
    pidfile=$var/run/$name.pid
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      echo "stopped $name ($pid)"
    fi
    rm -f "$pidfile"
  done
}

status() {
  for name in redis "${services[@]}"; do
    pidfile=$var/run/$name.pid
    if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "$name: running (pid $(cat "$pidfile"), log $var/log/$name.log)"
    else
      echo "$name: stopped"
    fi
  done
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  status) status; exit 0 ;;
  start) ;;
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

if [[ ${OIM_SKIP_BUILD:-0} != 1 ]]; then
  deploy/install-deps.sh
  echo "building (build/)..."
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)" >"$var/log/build.log" 2>&1 || { tail -30 "$var/log/build.log"; exit 1; }
fi
stop >/dev/null

http_port=${OIM_HTTP_PORT:-8080}
broker_port=${OIM_BROKER_PORT:-5555}
if [[ -z ${OIM_BOOTSTRAP_AGENCY_KEY:-} ]]; then
  [[ -f $var/agency.key ]] || head -c 32 /dev/urandom | base64 | tr -d '/+=' | sed 's/^/oim_/' >"$var/agency.key"
  OIM_BOOTSTRAP_AGENCY_KEY=$(cat "$var/agency.key")
fi
export OIM_BOOTSTRAP_AGENCY_KEY
export OIM_REDIS_URL="unix://$var/run/redis.sock"
export OIM_BROKER_ENDPOINT="tcp://127.0.0.1:$broker_port"
export OIM_HTTP_PORT=$http_port

start() {  # name, argv...
  local name=$1; shift
  "$@" >>"$var/log/$name.log" 2>&1 &
  echo $! >"$var/run/$name.pid"
}
start redis redis-server --port 0 --unixsocket "$var/run/redis.sock" --unixsocketperm 700 \
  --dir "$var/redis" --appendonly yes --appendfsync everysec --save ""
for _ in $(seq 100); do redis-cli -s "$var/run/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
start gateway build/services/gateway/oim-gateway
for name in registry search matcher notify; do
  bin=build/services/$name/oim-$name
  [[ -x $bin ]] || bin=build/oim-$name
  start "$name" "$bin" --health-file "$var/run/$name.health"
done

url="http://127.0.0.1:$http_port"
printf 'waiting for %s/readyz ' "$url"
for _ in $(seq 300); do
  if curl -fsS "$url/readyz" >/dev/null 2>&1; then
    printf '\nOI Market is up: %s  (agency key: %s)\n' "$url" "$OIM_BOOTSTRAP_AGENCY_KEY"
    echo "logs: $var/log/   stop: deploy/run-local.sh stop"
    exit 0
  fi
  printf '.'
  sleep 0.2
done
echo; echo "not ready after 60 s:"; curl -sS "$url/readyz" || true; status; exit 1
