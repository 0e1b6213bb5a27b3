#!/usr/bin/env bash
# Installs what bench/run.sh needs on Debian 12: the project's dependencies
# (scripts/install-deps.sh: build tools, Ceph RGW, rclone, awscli, Google Benchmark, ...)
# plus the benchmark's own tools. Idempotent.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
PKGS=(wrk time strace openssl python3 curl gcc libbenchmark-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[bench/setup] installing: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
