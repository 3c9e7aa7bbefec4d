#!/usr/bin/env bash
# Builds the OI Market image (all daemons, oimctl, Redis) from deploy/Dockerfile, offline:
# first makes the Debian base images when they are missing (deploy/make-base-image.sh), then
# `docker build`. Prints how long each phase took.
#
# Usage: deploy/docker-build.sh [extra docker build args...]
# Environment:
#   OIM_IMAGE             image to tag (default oim-market:latest; the compose file uses it too)
#   OIM_BASE_IMAGE        runtime base (default oim-base:bookworm; debian:bookworm-slim on a
#                         connected site, which skips make-base-image.sh)
#   OIM_BUILD_BASE_IMAGE  build base   (default oim-base:bookworm-build, or OIM_BASE_IMAGE when
#                         that is not an oim-base image)
#   OIM_BINARIES          which executables to build and ship (default: all six; for
#                         trying the image while a daemon is still being written)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=${OIM_IMAGE:-oim-market:latest}
base=${OIM_BASE_IMAGE:-oim-base:bookworm}
if [[ $base == oim-base:* ]]; then build_base=${OIM_BUILD_BASE_IMAGE:-oim-base:bookworm-build}
else build_base=${OIM_BUILD_BASE_IMAGE:-$base}; fi
log() { echo "docker-build: $*" >&2; }
t0=$SECONDS

if [[ $base == oim-base:* || $build_base == oim-base:* ]]; then
  if ! OIM_BASE_IMAGE=$base OIM_BUILD_BASE_IMAGE=$build_base "$repo/deploy/make-base-image.sh" --check 2>/dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
      OIM_BASE_IMAGE=$base OIM_BUILD_BASE_IMAGE=$build_base "$repo/deploy/make-base-image.sh"
    else
      sudo --preserve-env=OIM_DEBIAN_MIRROR,OIM_DEBIAN_SECURITY_MIRROR,OIM_CACHE_DIR \
        OIM_BASE_IMAGE="$base" OIM_BUILD_BASE_IMAGE="$build_base" "$repo/deploy/make-base-image.sh"
    fi
  fi
  log "phase 'base images' took $((SECONDS - t0)) s"
fi

t1=$SECONDS
version=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo dev)
log "building $image (version $version) from $build_base / $base"
args=(--force-rm -f "$repo/deploy/Dockerfile"
      --build-arg BASE_IMAGE="$base" --build-arg BUILD_IMAGE="$build_base"
      --build-arg OIM_VERSION="$version" ${OIM_BINARIES:+--build-arg "OIM_BINARIES=$OIM_BINARIES"})
# The build stage gets a tag of its own (oim-market-build:<tag>): then it is not a dangling
# image, so its compile cache survives the clean-up below. The second build reuses it (~1 s).
docker build "${args[@]}" --target build -t "${image%:*}-build:${image##*:}" "$@" "$repo"
docker build "${args[@]}" -t "$image" "$@" "$repo"
log "phase 'docker build' took $((SECONDS - t1)) s; total $((SECONDS - t0)) s"
# Each build leaves the image it replaced behind, untagged (~600 MB for a build stage). Remove
# those of this project -- only untagged ones, never one a container still uses.
docker image prune -f --filter dangling=true --filter label=org.oimarket.stage >/dev/null || true
