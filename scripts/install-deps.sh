#!/usr/bin/env bash
# Installs everything cloudkeep needs to build, test and demo on Debian 12.
# Idempotent: skips apt when every package is already present.
#   scripts/install-deps.sh [EXTRA-PACKAGE...]   also installs these (bench/setup.sh)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  # build
  build-essential cmake ninja-build pkg-config clang-format
  # libraries
  libcurl4-openssl-dev libssl-dev libsqlite3-dev libpugixml-dev nlohmann-json3-dev
  libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # local S3 servers and peers for cross-checks
  ceph-mon ceph-osd radosgw ceph-common curl util-linux
  rclone awscli s3cmd sqlite3 python3
  # the dashboard's browser tests (driven by playwright-core from npm)
  chromium
)
PKGS+=("$@")

# Node.js: this machine kind ships its own node+npm; only fall back to Debian's when absent
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install-deps] installing: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages (s3rver; playwright-core for the browser tests), pinned by package-lock.json
for d in tools tests/browser; do
  if [ -f $d/package.json ]; then
    if [ ! -d $d/node_modules ] || [ $d/package-lock.json -nt $d/node_modules/.package-lock.json ]; then
      (cd $d && npm ci --no-audit --no-fund --loglevel=error)
    fi
  fi
done
