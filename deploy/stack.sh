#!/usr/bin/env bash
# The whole OI Market stack on Docker, in one command (no registry, no network beyond Debian's
# package mirror for the first base image):
#   deploy/stack.sh up [compose up args...]  base images if missing, build, start, wait until
#                                            /readyz says ready, print the URL
#                                            e.g. deploy/stack.sh up --scale search=3
#   deploy/stack.sh down [-v]                stop and remove the containers (-v: and the data!)
#   deploy/stack.sh up --ha / down --ha      the same with docker-compose.ha.yml: 3 Redis and
#                                            3 sentinels, writes acknowledged once replicated
#   deploy/stack.sh keys                     only make the CURVE keys (when missing) and print
#                                            the gateway's public key
#   deploy/stack.sh swarm-up                 the same on Docker Swarm (deploy/docker-stack.yml):
#                                            swarm init if this engine is in none, build, the
#                                            image loaded into OIM_SWARM_NODE_HOSTS, secrets,
#                                            docker stack deploy, wait for /readyz
#   deploy/stack.sh swarm-down [-v]          docker stack rm, its secrets; leaves a swarm that
#                                            swarm-up made (-v: and the Redis volume, the data!)
#   deploy/stack.sh ps | logs [-f] | ...     any other docker compose command
# Configuration: .env beside the compose file (see .env.example). Uses `docker compose` v2 when
# installed, else Debian's docker-compose 1.29 (OIM_COMPOSE overrides).
# Secrets made on the first start, never printed, never in an image:
#   .env (mode 0600)   OIM_BOOTSTRAP_AGENCY_KEY (printed once: the agency needs it) and
#                      OIM_REDIS_PASSWORD (not printed; compose puts it in every OIM_REDIS_URL)
#   deploy/keys/       (OIM_KEYS_DIR) the CURVE key pairs, made by `oimctl curve-keygen` in the
#                      image: all/ both pairs (mode 0700), gateway/ only gateway.cert_secret +
#                      daemon.cert, daemon/ only daemon.cert_secret + gateway.cert (owned by the
#                      image's user, secrets 0400), clients/gateway.cert for publishers and
#                      subscribers. compose mounts gateway/ or daemon/ read-only per container.
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
files=(-f "$file")
# --ha (anywhere in the arguments): add docker-compose.ha.yml (3 Redis + 3 sentinels, WAIT 1).
args=()
for a in "$@"; do
  if [[ $a == --ha ]]; then files+=(-f docker-compose.ha.yml); else args+=("$a"); fi
done
set -- "${args[@]}"
dc() { "${compose_cmd[@]}" "${files[@]}" --project-directory "$repo" "$@"; }
# The values compose substitutes: from the environment, else .env, else the defaults.
envval() { local v=${!1:-}; [[ -n $v || ! -f .env ]] || v=$(sed -n "s/^$1=//p" .env | tail -n1); echo "${v:-$2}"; }

# A random value of n letters and digits (safe in a URL: the Redis URL is not percent-decoded).
random_token() { local t=""; while ((${#t} < $1)); do t+=$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9'); done; echo "${t:0:$1}"; }
# Keeps name=value in .env (mode 0600), replacing an earlier line.
env_set() {
  [[ -f .env ]] || { [[ -f .env.example ]] && cp .env.example .env; }
  touch .env && chmod 600 .env
  sed -i "/^$1=/d" .env && echo "$1=$2" >>.env
}

# The CURVE keys (DESIGN: OIM_CURVE_DIR), made once by `oimctl curve-keygen` inside the image,
# split per role. Runs as root in a throw-away container without network: the per-role files
# must belong to the image's user (uid of `oim`), which this host's user may not be able to
# chown to. Prints the public keys only.
make_keys() {
  local dir=$OIM_KEYS_DIR image
  image=$(envval OIM_IMAGE oim-market:latest)
  if [[ -f $dir/gateway/gateway.cert_secret && -f $dir/gateway/daemon.cert
     && -f $dir/daemon/daemon.cert_secret && -f $dir/daemon/gateway.cert ]]; then
    return 0
  fi
  mkdir -p "$dir" && chmod 700 "$dir"
  docker run --rm --network none --user 0:0 -v "$dir:/keys" "$image" bash -c '
    set -euo pipefail; umask 077
    oimctl curve-keygen /keys/all
    chown -R "$1:$2" /keys/all && chmod 700 /keys/all
    u=$(id -u oim); g=$(id -g oim)
    install -d -m 0711 -o "$1" -g "$2" /keys/gateway /keys/daemon /keys/clients
    install -m 0400 -o "$u" -g "$g" /keys/all/gateway.cert_secret /keys/gateway/
    install -m 0444 -o "$u" -g "$g" /keys/all/daemon.cert /keys/gateway/
    install -m 0400 -o "$u" -g "$g" /keys/all/daemon.cert_secret /keys/daemon/
    install -m 0444 -o "$u" -g "$g" /keys/all/gateway.cert /keys/daemon/
    install -m 0444 -o "$1" -g "$2" /keys/all/gateway.cert /keys/clients/' keygen "$(id -u)" "$(id -g)" >&2 \
    || { log "could not make the CURVE keys in $dir"; return 1; }
  log "CURVE keys made in $dir (secrets never leave it; see deploy/README.md)"
}
gateway_public_key() {
  local dir=$OIM_KEYS_DIR
  sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$dir/clients/gateway.cert"
}
# The agency's key and the Redis password, made on the first start and kept in .env.
make_env_secrets() {
  if [[ -z $(envval OIM_BOOTSTRAP_AGENCY_KEY "") ]]; then
    # First start: the registry needs the agency's key. Make one and keep it in .env.
    key="oim_agency_$(random_token 40)"
    env_set OIM_BOOTSTRAP_AGENCY_KEY "$key"
    log "generated the agency's API key (saved in .env): $key"
  fi
  if [[ -z $(envval OIM_REDIS_PASSWORD "") ]]; then
    # First start: Redis runs with a password (compose puts it in every OIM_REDIS_URL).
    env_set OIM_REDIS_PASSWORD "$(random_token 48)"
    log "generated the Redis password (saved in .env, not shown)"
  fi
  [[ ! -f .env ]] || chmod 600 .env
}
build_image() {
  OIM_BASE_IMAGE=$(envval OIM_BASE_IMAGE oim-base:bookworm) \
  OIM_BUILD_BASE_IMAGE=$(envval OIM_BUILD_BASE_IMAGE oim-base:bookworm-build) \
  OIM_IMAGE=$(envval OIM_IMAGE oim-market:latest) deploy/docker-build.sh -q >/dev/null
}

# Docker Swarm (deploy/docker-stack.yml; deploy/README.md "Docker Swarm"): deploy/swarm.sh.
. "$repo/deploy/swarm.sh"

# compose reads the key directory as a bind-mount source: it must be absolute (or ./...).
keys_dir=$(envval OIM_KEYS_DIR ./deploy/keys); [[ $keys_dir == /* ]] || keys_dir="$repo/${keys_dir#./}"
export OIM_KEYS_DIR=$keys_dir

cmd=${1:-up}; shift || true
case $cmd in
  keys)
    docker image inspect "$(envval OIM_IMAGE oim-market:latest)" >/dev/null 2>&1 || build_image
    make_keys
    echo "gateway public key (publishers and feed subscribers): $(gateway_public_key)"
    ;;
  swarm-up) make_env_secrets; build_image; make_keys; swarm_up ;;
  swarm-down) swarm_down "$@" ;;
  up)
    t0=$SECONDS
    make_env_secrets
    build_image
    make_keys
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
    echo "ZeroMQ (CURVE) ingest $(dc port gateway "$(envval OIM_INGEST_PORT 5570)"), feed $(dc port gateway "$(envval OIM_FEED_PORT 5571)"); gateway public key: $(gateway_public_key) (also in $OIM_KEYS_DIR/clients/gateway.cert)"
    ;;
  down) dc down "$@" ;;
  *) dc "$cmd" "$@" ;;
esac
