#!/bin/bash
# Container health check for the OI Market image (installed as /usr/local/bin/oim-healthcheck;
# the image's HEALTHCHECK runs it). One image runs every daemon, so it looks at which one this
# container runs (or takes the name as $1) and asks it the right way:
#   oim-gateway      GET /healthz on 127.0.0.1:$OIM_HTTP_PORT (bash /dev/tcp: no curl needed)
#   oim-<daemon>     oim-<daemon> --healthcheck (its health file, $OIM_HEALTH_FILE, < 10 s old)
#   redis-server     redis-cli PING (with $OIM_REDIS_PASSWORD when set)
# Exit 0 = healthy, 1 = unhealthy (Docker's convention).
set -u
what=${1:-}
if [[ -z $what ]]; then
  for c in /proc/[0-9]*/comm; do
    read -r n <"$c" 2>/dev/null || continue
    case $n in
      oim-gateway|oim-registry|oim-search|oim-matcher|oim-notify|redis-server) what=$n; break ;;
    esac
  done
fi
case $what in
  oim-gateway|gateway)
    port=${OIM_HTTP_PORT:-8080}
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    IFS= read -r -t 3 status <&3 || exit 1
    [[ $status == HTTP/1.?" 200"* ]] || { echo "gateway: $status"; exit 1; }
    ;;
  oim-registry|oim-search|oim-matcher|oim-notify) exec "$what" --healthcheck ;;
  registry|search|matcher|notify) exec "oim-$what" --healthcheck ;;
  redis-server|redis)
    [[ -z ${OIM_REDIS_PASSWORD:-} ]] || export REDISCLI_AUTH=$OIM_REDIS_PASSWORD
    [[ $(timeout 3 redis-cli -p "${OIM_REDIS_PORT:-6379}" ping 2>&1) == PONG ]] || exit 1
    ;;
  *) echo "oim-healthcheck: no OI Market daemon found in this container"; exit 1 ;;
esac
exit 0
