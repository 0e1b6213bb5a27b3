#!/usr/bin/env bash
# usage: bench/run.sh [--quick] [--scenarios a,b,...] [--reps N] [--transfers N] [--no-setup]
#
# One command: installs what is missing (bench/setup.sh), builds cloudkeep and the
# micro-benchmarks in Release, starts its own Ceph RGW and B2 test server in a temporary
# directory, generates the data sets (cached in bench/.data/), runs every scenario for
# cloudkeep, rclone and the AWS CLI, and writes bench/results/<stamp>-<mode>.{md,json}
# and latest.{md,json}. See bench/README.md.
#
# Scenarios: small medium large noop few stats_cold stats_warm memory micro (default: all)
# Environment:
#   CK_BENCH_BUILD_DIR   build directory (default build-release)
#   CK_BENCH_DATA_DIR    data-set cache (default bench/.data)
#   CK_BENCH_RESULTS_DIR where the results go (default bench/results)
#   CK_BENCH_RGW_ENV / CK_BENCH_B2_ENV   use servers that are already running (their env
#                        files) instead of starting new ones; they are then left running
#   CK_BENCH_NO_B2=1     skip the B2 runs
#   CK_BENCH_NO_BUILD=1  do not build; use the binaries already in the build directory
set -Eeuo pipefail
BENCH=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$BENCH/.." && pwd -P)
cd "$ROOT"

QUICK=() SCEN="" REPS=0 TRANSFERS=${CK_BENCH_TRANSFERS:-16} SETUP=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=(--quick) ;;
    --scenarios) SCEN=$2; shift ;;
    --scenarios=*) SCEN=${1#*=} ;;
    --reps) REPS=$2; shift ;;
    --reps=*) REPS=${1#*=} ;;
    --transfers) TRANSFERS=$2; shift ;;
    --transfers=*) TRANSFERS=${1#*=} ;;
    --no-setup) SETUP=0 ;;
    -h|--help) sed -n '2,/^set -Eeuo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[bench] $*" >&2; }

if [ $SETUP = 1 ]; then
  log "checking dependencies (bench/setup.sh)"
  bash "$BENCH/setup.sh"
fi

BUILD=${CK_BENCH_BUILD_DIR:-$ROOT/build-release}
if [ "${CK_BENCH_NO_BUILD:-0}" = 1 ]; then
  log "CK_BENCH_NO_BUILD=1: using the binaries already in $BUILD"
else
  log "building cloudkeep and ck_micro_bench in $BUILD (Release)"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCK_BUILD_BENCH=ON >/dev/null
  if ! ninja -C "$BUILD" cloudkeep ck_micro_bench >"$BUILD/bench-build.log" 2>&1; then
    grep -E 'error|FAILED' "$BUILD/bench-build.log" | head -20 >&2
    log "build failed (full log: $BUILD/bench-build.log)"
    exit 1
  fi
fi

DATA=${CK_BENCH_DATA_DIR:-$BENCH/.data}
mkdir -p "$DATA"
GEN="$DATA/gendata"
if [ ! -x "$GEN" ] || [ "$BENCH/tools/gendata.c" -nt "$GEN" ]; then
  cc -O2 -Wall -o "$GEN" "$BENCH/tools/gendata.c"
fi

# a short path: Ceph's admin sockets (used to read RGW's request counters) need < 108 bytes
WORK=$(mktemp -d /tmp/ckbench.XXXXXX)
cleanup() {
  local rc=$?
  if [ -z "${CK_BENCH_RGW_ENV:-}" ]; then bash "$ROOT/scripts/rgw-down.sh" "$WORK/rgw" --purge >/dev/null 2>&1 || true; fi
  if [ -z "${CK_BENCH_B2_ENV:-}" ]; then bash "$ROOT/scripts/b2server-down.sh" "$WORK/b2" --purge >/dev/null 2>&1 || true; fi
  if [ "${CK_BENCH_KEEP_WORK:-0}" = 1 ]; then log "kept $WORK"; else rm -rf -- "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

RGW_ENV=${CK_BENCH_RGW_ENV:-}
if [ -z "$RGW_ENV" ]; then
  log "starting Ceph RGW in $WORK/rgw"
  CK_WATCH_PID=$$ RGW_STORE_BYTES=${RGW_STORE_BYTES:-6442450944} \
    bash "$ROOT/scripts/rgw-up.sh" "$WORK/rgw" >/dev/null
  RGW_ENV=$WORK/rgw/env
fi
B2_ENV=${CK_BENCH_B2_ENV:-}
if [ "${CK_BENCH_NO_B2:-0}" != 1 ] && [ -z "$B2_ENV" ]; then
  log "starting the B2 test server in $WORK/b2"
  CK_WATCH_PID=$$ bash "$ROOT/scripts/b2server-up.sh" "$WORK/b2" >/dev/null
  B2_ENV=$WORK/b2/env
fi
[ "${CK_BENCH_NO_B2:-0}" != 1 ] || B2_ENV=""

ARGS=(--work "$WORK" --cloudkeep "$BUILD/cloudkeep" --micro "$BUILD/bench/ck_micro_bench"
  --gendata "$GEN" --data-dir "$DATA" --rgw-env "$RGW_ENV" --b2-env "$B2_ENV"
  --transfers "$TRANSFERS" --reps "$REPS" --results-dir "${CK_BENCH_RESULTS_DIR:-$BENCH/results}")
[ -z "$SCEN" ] || ARGS+=(--scenarios "$SCEN")
python3 "$BENCH/bench.py" "${QUICK[@]}" "${ARGS[@]}"
