#!/bin/sh
# Starts Redis for OI Market (installed in the image as /usr/local/bin/oim-redis):
#   redis-server /etc/oim/redis.conf, plus what comes from the environment:
#   OIM_REDIS_APPENDFSYNC  always | everysec (default) | no
#   OIM_REDIS_PASSWORD     when set, clients must AUTH (OIM_REDIS_URL=redis://:<password>@redis:6379/0)
#   OIM_REDIS_MAXMEMORY    e.g. 2gb (default: no limit; the policy is noeviction either way)
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
fi
[ -z "${OIM_REDIS_MAXMEMORY:-}" ] || set -- --maxmemory "$OIM_REDIS_MAXMEMORY" "$@"
exec redis-server "$conf" --appendfsync "${OIM_REDIS_APPENDFSYNC:-everysec}" "$@"
