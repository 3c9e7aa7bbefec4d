#!/usr/bin/env bash
# Installs every build, run and test dependency of OI Market on Debian 12 with apt-get.
# Idempotent: when every package is already present it returns in well under a second.
# Usage: deploy/install-deps.sh [--runtime]   (--runtime: only what the daemons need to run)
set -euo pipefail

runtime_pkgs=(
  libzmq5 libczmq4 libprotobuf-c1 libhiredis0.14 libmicrohttpd12 libjansson4
  libsodium23 libcurl4 libstemmer0d libutf8proc2 ca-certificates redis-server
  redis-sentinel
)
build_pkgs=(
  build-essential cmake pkg-config git
  libzmq3-dev libczmq-dev libprotobuf-c-dev protobuf-c-compiler libhiredis-dev
  libmicrohttpd-dev libjansson-dev libsodium-dev libcurl4-openssl-dev libstemmer-dev
  libutf8proc-dev libjs-chart.js
)
test_pkgs=(
  redis-tools python3 python3-protobuf python3-zmq protobuf-compiler python3-aiosmtpd
  curl wrk valgrind libsqlite3-dev libxapian-dev
  chromium chromium-driver python3-selenium fonts-noto-cjk
  clang libclang-rt-14-dev
)

case "${1:-}" in
  --runtime) pkgs=("${runtime_pkgs[@]}") ;;
  --build) pkgs=("${runtime_pkgs[@]}" "${build_pkgs[@]}") ;;
  ""|--all) pkgs=("${runtime_pkgs[@]}" "${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "install-deps: unknown option $1 (see --help)" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
