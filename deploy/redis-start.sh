#!/bin/sh
# Starts Redis for OI Market (installed in the image as /usr/local/bin/oim-redis):
#   redis-server /etc/oim/redis.conf, plus what comes from the environment:
#   OIM_REDIS_APPENDFSYNC  always | everysec (default) | no
#   OIM_REDIS_PASSWORD     clients must AUTH with it (OIM_REDIS_URL=redis://:<password>@redis:6379/0);
#                          deploy/stack.sh generates one on the first start. Without one Redis
#                          still starts, but protected-mode (redis.conf) answers loopback only.
#   OIM_REDIS_MAXMEMORY    e.g. 2gb, 512mb; 0 = no limit; empty or "auto" (default) = half the
#                          memory this container may use (cgroup limit, else the host's RAM);
#                          the policy is noeviction either way (see redis.conf for why half)
# Extra arguments are passed to redis-server (they override the file).
set -eu
conf=${OIM_REDIS_CONF:-/etc/oim/redis.conf}
if [ -n "${OIM_REDIS_PASSWORD:-}" ]; then
  # On the command line the password would show in `ps`; an included file keeps it private.
  umask 077
  pwconf=$(mktemp /tmp/oim-redis-auth.XXXXXX)
  pw=$(printf '%s' "$OIM_REDIS_PASSWORD" | sed 's/[\\"]/\\&/g')
  printf 'requirepass "%s"\n' "$pw" >"$pwconf"
  set -- --include "$pwconf" "$@"
else
  echo "oim-redis: WARNING: no OIM_REDIS_PASSWORD: protected mode, loopback clients only" >&2
fi
# The memory this container may use: cgroup v2, cgroup v1, else the host's RAM (bytes).
memory_limit() {
  lim=""
  [ -r /sys/fs/cgroup/memory.max ] && lim=$(cat /sys/fs/cgroup/memory.max)
  [ -z "$lim" ] && [ -r /sys/fs/cgroup/memory/memory.limit_in_bytes ] &&
    lim=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
  ram=$(awk '/^MemTotal:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo)
  case $lim in ''|max|*[!0-9]*) lim=$ram ;; esac
  # v1 reports "no limit" as a huge number
  [ "$lim" -gt "$ram" ] && lim=$ram
  echo "$lim"
}
maxmemory=${OIM_REDIS_MAXMEMORY:-auto}
if [ "$maxmemory" = auto ]; then
  maxmemory=$(( $(memory_limit) / 2 ))
  echo "oim-redis: maxmemory $maxmemory bytes (half of this container's memory; OIM_REDIS_MAXMEMORY overrides)" >&2
fi
exec redis-server "$conf" --appendfsync "${OIM_REDIS_APPENDFSYNC:-everysec}" --maxmemory "$maxmemory" "$@"
