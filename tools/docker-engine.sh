#!/usr/bin/env bash
# Makes sure a Docker engine answers, for the tests that run Redis nodes in containers
# (nestjs-redlock/testing's startRedisNodes). Nothing starts it on these machines (no systemd), so
# when the local socket does not answer, dockerd is installed and we are root, start it in the
# background and wait for it. --iptables=false: this kind of machine cannot load the iptables
# rules; the default bridge and -p port mappings still work through docker-proxy.
# Exit status 0 = an engine answers. Usage: tools/docker-engine.sh [--quiet]
set -euo pipefail

quiet=false
[ "${1:-}" = "--quiet" ] && quiet=true
say() { $quiet || printf '%s\n' "$*" >&2; }

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! command -v docker >/dev/null 2>&1; then
  say "docker: no docker command (Debian/Ubuntu: apt-get install -y docker.io)"
  exit 1
fi
answers && exit 0

# Only the local default engine is ours to start; a DOCKER_HOST elsewhere is someone else's.
case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
  unix:///var/run/docker.sock) ;;
  *) say "docker: the engine at DOCKER_HOST=${DOCKER_HOST} does not answer"; exit 1 ;;
esac
if ! command -v dockerd >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  say "docker: no engine answers on /var/run/docker.sock, and this script can only start one as root with dockerd installed (apt-get install -y docker.io)"
  exit 1
fi

# Several test runs may get here at once: one of them starts the engine, the others wait for it.
exec 9>/tmp/nestjs-redlock-dockerd.lock
flock 9
if ! answers; then
  log=/tmp/nestjs-redlock-dockerd.log
  say "docker: starting dockerd --iptables=false (log: $log)"
  # setsid: the engine outlives this script and the test run that asked for it.
  setsid dockerd --iptables=false >"$log" 2>&1 < /dev/null 9>&- &
  for _ in $(seq 1 300); do
    answers && break
    sleep 0.1
  done
fi
if ! answers; then
  say "docker: dockerd did not answer within 30 s; last lines of its log:"
  tail -n 20 /tmp/nestjs-redlock-dockerd.log >&2 || true
  exit 1
fi
