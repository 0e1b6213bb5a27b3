#!/usr/bin/env bash
# Installs what bench/run.sh needs on Debian 12: the project's dependencies
# (build tools, Ceph RGW, rclone, awscli, Google Benchmark, ...) plus the
# benchmark's own tools, through scripts/install-deps.sh. Idempotent.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh wrk time strace openssl python3 curl gcc libbenchmark-dev
