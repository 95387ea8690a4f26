#!/usr/bin/env bash
# Makes sure the Redis image the container tests ask for exists locally. No image registry is
# reachable from these machines, so when it is missing, build it from the machine's own
# redis-server (Debian's package): the binary plus the shared libraries ldd lists, imported as a
# one-layer image (about 18 MB) and tagged with the name asked for, so that testcontainers finds
# it and never pulls. Like the official image, it starts with `redis-server <args>` as its command
# (no entrypoint), which is the form startRedisNodes uses, so tests can run on either image.
# Usage: tools/redis-image.sh [IMAGE]   (default: $REDLOCK_TEST_REDIS_IMAGE, else nestjs-redlock-test/redis:7)
set -euo pipefail

image="${1:-${REDLOCK_TEST_REDIS_IMAGE:-nestjs-redlock-test/redis:7}}"
exists() { docker image inspect "$image" >/dev/null 2>&1; }
exists && exit 0

server="$(command -v redis-server || true)"
if [ -z "$server" ]; then
  echo "redis-image: $image is missing and there is no redis-server to build it from (apt-get install -y redis-server)" >&2
  exit 1
fi

# Two test runs may both find it missing: build it once.
exec 9>/tmp/nestjs-redlock-redis-image.lock
flock 9
exists && exit 0

# The binary and every library the loader needs, as paths relative to / for tar.
files="$(
  {
    echo "$server"
    ldd "$server" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
  } | sed 's|^/||' | sort -u
)"
echo "redis-image: building $image from $server ($(redis-server --version | awk '{ print $3 }'))" >&2
# -h stores what symlinks point to (Debian's redis-server is a link to redis-check-rdb; redis
# picks its mode from the name it runs as, which stays redis-server).
# shellcheck disable=SC2086
tar -C / -chf - $files \
  | docker import \
      -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
      -c 'CMD ["redis-server"]' \
      -c 'EXPOSE 6379' \
      -m "redis-server from $(dpkg-query -W -f '${Package} ${Version}' redis-server 2>/dev/null || echo "$server")" \
      - "$image" >/dev/null
exists
