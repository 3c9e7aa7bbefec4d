#!/usr/bin/env bash
# The whole OI Market stack on Docker, in one command (no registry, no network beyond Debian's
# package mirror for the first base image):
#   deploy/stack.sh up [compose up args...]  base images if missing, build, start, wait until
#                                            /readyz says ready, print the URL
#                                            e.g. deploy/stack.sh up --scale search=3
#   deploy/stack.sh down [-v]                stop and remove the containers (-v: and the data!)
#   deploy/stack.sh ps | logs [-f] | ...     any other docker compose command
# Configuration: .env beside the compose file (see .env.example). Uses `docker compose` v2 when
# installed, else Debian's docker-compose 1.29 (OIM_COMPOSE overrides).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log() { echo "stack: $*" >&2; }
if [[ -n ${OIM_COMPOSE:-} ]]; then read -r -a compose_cmd <<<"$OIM_COMPOSE"
elif docker compose version >/dev/null 2>&1; then compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then compose_cmd=(docker-compose)
else log "neither 'docker compose' nor docker-compose is installed"; exit 1; fi
file=${OIM_COMPOSE_FILE:-}
[[ -n $file ]] || file=docker-compose.yml
dc() { "${compose_cmd[@]}" -f "$file" --project-directory "$repo" "$@"; }
# The values compose substitutes: from the environment, else .env, else the defaults.
envval() { local v=${!1:-}; [[ -n $v || ! -f .env ]] || v=$(sed -n "s/^$1=//p" .env | tail -n1); echo "${v:-$2}"; }

cmd=${1:-up}; shift || true
case $cmd in
  up)
    t0=$SECONDS
    if [[ -z $(envval OIM_BOOTSTRAP_AGENCY_KEY "") ]]; then
      # First start: the registry needs the agency's key. Make one and keep it in .env.
      [[ -f .env ]] || { for ex in .env.example; do [[ -f $ex ]] && { cp "$ex" .env; break; }; done; }
      touch .env && chmod 600 .env
      key="oim_agency_$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
      sed -i '/^OIM_BOOTSTRAP_AGENCY_KEY=/d' .env && echo "OIM_BOOTSTRAP_AGENCY_KEY=$key" >>.env
      log "generated the agency's API key (saved in .env): $key"
    fi
    OIM_BASE_IMAGE=$(envval OIM_BASE_IMAGE oim-base:bookworm) \
    OIM_BUILD_BASE_IMAGE=$(envval OIM_BUILD_BASE_IMAGE oim-base:bookworm-build) \
    OIM_IMAGE=$(envval OIM_IMAGE oim-market:latest) deploy/docker-build.sh -q >/dev/null
    dc up -d --no-build "$@"
    port=$(dc port gateway "$(envval OIM_HTTP_PORT 8080)" | sed 's/.*://')
    url="http://localhost:$port"
    log "waiting for $url/readyz"
    deadline=$((SECONDS + 180))
    until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$url/readyz" || true) == 200 ]]; do
      if ((SECONDS > deadline)); then
        dc ps >&2
        for id in $(dc ps -q); do # show why the containers that are not healthy are not
          [[ $(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id") == healthy ]] && continue
          log "--- $(docker inspect -f '{{.Name}}' "$id"), last log lines:"; docker logs --tail 8 "$id" 2>&1 | sed 's/^/  /' >&2
        done
        log "not ready after 180 s (more: deploy/stack.sh logs)"; exit 1
      fi
      sleep 1
    done
    log "ready in $((SECONDS - t0)) s"
    echo "OI Market is up: $url  (down: deploy/stack.sh down)"
    ;;
  down) dc down "$@" ;;
  *) dc "$cmd" "$@" ;;
esac
