#!/usr/bin/env bash
# Builds OI Market's Debian 12 base images from Debian packages only -- no container registry --
# with debootstrap (variant minbase) and `docker import`, when they are not present locally:
#   oim-base:bookworm        runtime libraries + redis-server   (deploy/install-deps.sh --runtime)
#   oim-base:bookworm-build  the above + compilers and -dev pkgs (deploy/install-deps.sh --build)
# Idempotent: returns in about a second when both images exist and were made from the current
# deploy/install-deps.sh (a label records its hash; a changed package list rebuilds them).
#
# Usage: deploy/make-base-image.sh [--force] [--check]
#   --force  rebuild even when the images are present and up to date
#   --check  only report: exit 0 when both images are present and up to date, 1 otherwise
# Environment:
#   OIM_DEBIAN_MIRROR           Debian mirror (default: the one this host's apt uses, else
#                               http://deb.debian.org/debian); air-gapped sites point it at theirs
#   OIM_DEBIAN_SECURITY_MIRROR  security mirror (default: the host's, else
#                               http://deb.debian.org/debian-security; "none" to leave it out)
#   OIM_BASE_IMAGE              runtime image tag (default oim-base:bookworm)
#   OIM_BUILD_BASE_IMAGE        build image tag   (default oim-base:bookworm-build)
#   OIM_CACHE_DIR               cache for the debootstrap rootfs and .debs
#                               (default /var/cache/oim as root, else ~/.cache/oim)
# Needs root (debootstrap, chroot), debootstrap and docker. Prints how long each phase took.
set -euo pipefail

SUITE=bookworm
RECIPE=1 # bump when this script changes what goes into the images
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deps_script="$here/install-deps.sh"
runtime_tag=${OIM_BASE_IMAGE:-oim-base:bookworm}
build_tag=${OIM_BUILD_BASE_IMAGE:-oim-base:bookworm-build}
force=0 check=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    --check) check=1 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-base-image: unknown option $a (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "make-base-image: $*" >&2; }
t_start=$SECONDS t_phase=$SECONDS
phase_done() { log "phase '$1' took $((SECONDS - t_phase)) s"; t_phase=$SECONDS; }

command -v docker >/dev/null || { log "docker not found"; exit 1; }
# The label ties an image to the exact package list it was built from.
deps_hash=$( { echo "recipe=$RECIPE suite=$SUITE"; cat "$deps_script"; } | sha256sum | cut -c1-16)
image_ok() {
  local have
  have=$(docker image inspect -f '{{ index .Config.Labels "org.oimarket.base.deps" }}' "$1" 2>/dev/null) || return 1
  [[ "$have" == "$deps_hash" ]]
}
need_runtime=1 need_build=1
if ((force == 0)); then
  image_ok "$runtime_tag" && need_runtime=0
  image_ok "$build_tag" && need_build=0
fi
if ((need_runtime == 0 && need_build == 0)); then
  log "$runtime_tag and $build_tag present and up to date (deps $deps_hash)"
  exit 0
fi
if ((check)); then
  log "base images missing or out of date (deps $deps_hash)"
  exit 1
fi

[[ $(id -u) -eq 0 ]] || { log "must run as root (debootstrap, chroot); try: sudo $0"; exit 1; }
command -v debootstrap >/dev/null || {
  log "debootstrap not found: installing it from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

# --- Mirror: the one this host's apt already uses (so an air-gapped site's local mirror works
# unchanged), unless OIM_DEBIAN_MIRROR says otherwise.
host_mirror() { # $1 = suite to look for; prints the first URI serving it
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    awk -v s="$1" '$1=="deb" { i=2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++;
                   if ($(i+1)==s) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    awk -v s="$1" 'BEGIN{RS=""; FS="\n"}
      { uri=""; ok=0; deb=0
        for (j=1; j<=NF; j++) {
          if ($j ~ /^Types:/ && $j ~ /[ \t]deb([ \t]|$)/) deb=1
          if ($j ~ /^URIs:/) { split($j, u, /[ \t]+/); uri=u[2] }
          if ($j ~ /^Suites:/) { n=split($j, w, /[ \t]+/); for (k=2; k<=n; k++) if (w[k]==s) ok=1 }
        }
        if (deb && ok && uri != "") { print uri; exit } }' "$f"
  done
}
mirror=${OIM_DEBIAN_MIRROR:-$(host_mirror "$SUITE" | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}
security=${OIM_DEBIAN_SECURITY_MIRROR:-$(host_mirror "$SUITE-security" | head -n1)}
security=${security:-http://deb.debian.org/debian-security}
log "mirror $mirror, security ${security}, deps $deps_hash"

cache=${OIM_CACHE_DIR:-}
if [[ -z $cache ]]; then
  if [[ $(id -u) -eq 0 ]]; then cache=/var/cache/oim; else cache=$HOME/.cache/oim; fi
fi
mkdir -p "$cache/debs"
arch=$(dpkg --print-architecture)
mirror_id=$(echo "$mirror" | sha256sum | cut -c1-8)
rootfs_tar="$cache/debootstrap-$SUITE-minbase-$arch-$mirror_id.tar.gz"

work=$(mktemp -d "$cache/work.XXXXXX")
root="$work/rootfs"
mkdir -p "$root"
unmount_all() {
  local m
  # deepest first
  for m in $(findmnt -rn -o TARGET | grep -F "$root/" | sort -r); do umount -l "$m" || true; done
}
cleanup() {
  unmount_all
  if findmnt -rn -o TARGET | grep -qF "$root"; then
    log "leaving $work in place: something is still mounted under it"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# --- Phase 1: minbase rootfs (debootstrap once, then from the cached tarball).
if [[ -s $rootfs_tar ]]; then
  tar -C "$root" --numeric-owner -xzpf "$rootfs_tar"
  phase_done "rootfs from cache ($rootfs_tar)"
else
  log "debootstrap --variant=minbase $SUITE (first run; cached afterwards)"
  debootstrap --variant=minbase --arch="$arch" --cache-dir="$cache/debs" \
    "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; log "debootstrap failed"; exit 1; }
  rm -f "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" --numeric-owner -czpf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  phase_done "debootstrap"
fi

# --- Phase 2: configure the chroot the way Debian's own slim images are configured.
{
  echo "deb $mirror $SUITE main"
  echo "deb $mirror $SUITE-updates main"
  [[ $security == none ]] || echo "deb $security $SUITE-security main"
} >"$root/etc/apt/sources.list"
cat >"$root/etc/dpkg/dpkg.cfg.d/01-oim-slim" <<'EOF'
# OI Market base image: no documentation or translations (as in debian:*-slim)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
cat >"$root/etc/apt/apt.conf.d/01-oim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" # never start services in a build
chmod 755 "$root/usr/sbin/policy-rc.d"
find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
rm -rf "$root"/usr/share/{man,info,locale,lintian}/* 2>/dev/null || true
mkdir -p "$root/var/cache/apt/archives" "$root/tmp/oim"
cp "$deps_script" "$root/tmp/oim/install-deps.sh"

mount_all() {
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  mount --bind /dev/pts "$root/dev/pts"
  mount --bind "$cache/debs" "$root/var/cache/apt/archives" # .debs survive between builds
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
}
in_chroot() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
export_image() { # $1 = tag, $2 = flavour
  unmount_all
  in_chroot apt-get clean
  : >"$root/etc/resolv.conf"
  rm -rf "$root"/var/log/apt/* "$root"/var/log/dpkg.log "$root"/var/cache/debconf/*-old
  tar -C "$root" --numeric-owner --xattrs -cf - \
      --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' --exclude='./tmp/*' \
      --exclude='./var/lib/apt/lists/*' --exclude='./var/cache/apt/*' . \
    | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change "LABEL org.oimarket.base.deps=$deps_hash org.oimarket.base.flavour=$2 org.oimarket.base.mirror=$mirror" \
        --change 'CMD ["/bin/bash"]' \
        --message "OI Market $2 base: debootstrap $SUITE minbase + install-deps.sh --$2" \
        - "$1" >/dev/null
  log "imported $1 ($(docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# --- Phase 3: runtime packages -> oim-base:bookworm
mount_all
in_chroot bash /tmp/oim/install-deps.sh --runtime
phase_done "install runtime packages"
if ((need_runtime)); then
  export_image "$runtime_tag" runtime
  phase_done "import $runtime_tag"
fi

# --- Phase 4: build packages on top -> oim-base:bookworm-build
if ((need_build)); then
  mount_all
  in_chroot bash /tmp/oim/install-deps.sh --build
  phase_done "install build packages"
  export_image "$build_tag" build
  phase_done "import $build_tag"
fi
log "done in $((SECONDS - t_start)) s"
