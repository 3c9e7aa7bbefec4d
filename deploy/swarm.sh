# Docker Swarm for deploy/stack.sh (sourced by it: uses its log, envval, OIM_KEYS_DIR).
#   swarm_up     after make_env_secrets, build_image, make_keys: joins nothing, but inits a
#                single-node swarm when this engine is in none (labelled oim.swarm-init, so
#                swarm_down leaves only a swarm it made), labels this node oim.redis (where the
#                Redis volume lives) unless a node has the label, loads the image into
#                OIM_SWARM_NODE_HOSTS, creates the secrets, docker stack deploy, waits /readyz
#   swarm_down   docker stack rm, waits until its tasks and network are gone, removes its
#                secrets; -v also its volumes; leaves the swarm when swarm_up made it
# Settings: OIM_STACK (oim), OIM_IMAGE, OIM_SWARM_HTTP_PORT (8080), OIM_SWARM_ADVERTISE_ADDR
# (default: this host's source address towards other hosts), OIM_SWARM_NODE_HOSTS (DOCKER_HOST
# values of the other nodes, e.g. "ssh://root@node2 ssh://root@node3"; default none).

swarm_stack() { echo "${OIM_STACK:-oim}"; }
swarm_secret_names=(oim_agency_key oim_redis_password oim_gateway_cert_secret oim_gateway_cert
                    oim_daemon_cert_secret oim_daemon_cert)

swarm_init() {
  [[ $(docker info --format '{{.Swarm.LocalNodeState}}') == active ]] && return 0
  local addr=${OIM_SWARM_ADVERTISE_ADDR:-}
  [[ -n $addr ]] || addr=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  docker swarm init ${addr:+--advertise-addr "$addr"} >/dev/null
  docker node update --label-add oim.swarm-init=true "$(docker info -f "{{.Swarm.NodeID}}")" >/dev/null
  log "initialised a single-node swarm (advertise address ${addr:-auto}); add nodes with: docker swarm join-token worker"
}

# Redis' volume is local to a node: its service is pinned to the node labelled oim.redis.
swarm_label_redis_node() {
  local n
  for n in $(docker node ls -q); do
    [[ $(docker node inspect -f '{{index .Spec.Labels "oim.redis"}}' "$n") == true ]] && return 0
  done
  docker node update --label-add oim.redis=true "$(docker info -f "{{.Swarm.NodeID}}")" >/dev/null
}

# No registry: every node gets the image by docker save | docker load (deploy/README.md says why).
swarm_load_image() {
  local image=$1 h
  for h in ${OIM_SWARM_NODE_HOSTS:-}; do
    log "loading $image into $h"
    docker save "$image" | docker -H "$h" load -q >/dev/null
  done
}

# Secrets cannot change in place: an existing one is kept (remove the stack and it to rotate).
swarm_secret() {
  local name=$1 src=$2
  docker secret inspect "$name" >/dev/null 2>&1 && return 0
  docker secret create --label oim.stack="$(swarm_stack)" "$name" "$src" >/dev/null
}
swarm_secrets() {
  local k=$OIM_KEYS_DIR
  printf '%s' "$(envval OIM_BOOTSTRAP_AGENCY_KEY "")" | swarm_secret oim_agency_key -
  printf '%s' "$(envval OIM_REDIS_PASSWORD "")" | swarm_secret oim_redis_password -
  swarm_secret oim_gateway_cert_secret "$k/all/gateway.cert_secret"
  swarm_secret oim_gateway_cert "$k/all/gateway.cert"
  swarm_secret oim_daemon_cert_secret "$k/all/daemon.cert_secret"
  swarm_secret oim_daemon_cert "$k/all/daemon.cert"
}

swarm_wait_ready() {
  local url=$1 deadline=$((SECONDS + ${2:-240}))
  log "waiting for $url/readyz"
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$url/readyz" || true) == 200 ]]; do
    if ((SECONDS > deadline)); then
      docker stack ps --no-trunc "$(swarm_stack)" >&2
      log "not ready (more: docker service logs $(swarm_stack)_<service>)"; return 1
    fi
    sleep 1
  done
}

swarm_up() {
  local t0=$SECONDS image port
  image=$(envval OIM_IMAGE oim-market:latest)
  port=$(envval OIM_SWARM_HTTP_PORT 8080)
  swarm_init
  swarm_label_redis_node
  swarm_load_image "$image"
  swarm_secrets
  OIM_IMAGE=$image OIM_SWARM_HTTP_PORT=$port \
    docker stack deploy --resolve-image never --prune -c deploy/docker-stack.yml "$(swarm_stack)" >&2
  swarm_wait_ready "http://127.0.0.1:$port"
  log "ready in $((SECONDS - t0)) s"
  echo "OI Market is up on Docker Swarm: http://127.0.0.1:$port (any node's address works)  (down: deploy/stack.sh swarm-down)"
}

swarm_down() {
  local stack deadline
  stack=$(swarm_stack)
  [[ $(docker info --format '{{.Swarm.ControlAvailable}}') == true ]] || { log "not a swarm manager: nothing to remove"; return 0; }
  docker stack rm "$stack" >&2 || true
  deadline=$((SECONDS + 90)) # stack rm returns at once; secrets and volumes are busy until the tasks are gone
  while [[ -n $(docker ps -aq --filter "label=com.docker.stack.namespace=$stack") \
           || -n $(docker network ls -q --filter "label=com.docker.stack.namespace=$stack") ]] && ((SECONDS < deadline)); do
    sleep 1
  done
  docker secret rm "${swarm_secret_names[@]}" >/dev/null 2>&1 || true
  if [[ ${1:-} == -v ]]; then
    docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm >/dev/null || true
  fi
  if [[ $(docker node inspect -f '{{index .Spec.Labels "oim.swarm-init"}}' self 2>/dev/null) == true ]]; then
    docker swarm leave --force >/dev/null && log "left the swarm swarm-up had made"
  fi
}
