#!/usr/bin/env bash
# Builds cloudkeep and runs every test: unit tests, engine tests, the local B2
# server's own tests, integration tests against real local servers (Ceph RGW,
# s3rver and the project's B2 server, started once here on free loopback ports
# and shared by every test process), the dashboard's browser tests (tests/browser),
# then the unit tests again under ASan + UBSan.
#
#   scripts/test.sh            everything (what CI runs)
#   CK_SKIP_ASAN=1 scripts/test.sh      skip the sanitizer pass
#   CK_TEST_FILTER=regex scripts/test.sh   only tests whose name matches (ctest -R)
#
# Exits non-zero when any build step or test fails.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/install-deps.sh

JOBS=${CK_JOBS:-$(nproc)}
log() { printf '\n=== %s\n' "$*"; }

log "format check (clang-format)"
mapfile -t SRCS < <(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 2>/dev/null || find src tests -name '*.cc' -o -name '*.h')
if [ ${#SRCS[@]} -gt 0 ]; then
  clang-format --dry-run --Werror "${SRCS[@]}"
fi

log "build (warnings are errors)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCK_WERROR=ON >/dev/null
ninja -C build -j"$JOBS"

log "local S3 servers (shared by every test process of this run)"
SERVERS=$(mktemp -d "${TMPDIR:-/tmp}/ck-test-servers.XXXXXX")
cleanup() {
  bash scripts/rgw-down.sh "$SERVERS/rgw" --purge >/dev/null 2>&1 || true
  bash scripts/s3rver-down.sh "$SERVERS/s3rver" --purge >/dev/null 2>&1 || true
  bash scripts/b2server-down.sh "$SERVERS/b2" --purge >/dev/null 2>&1 || true
  rm -rf "$SERVERS"
}
trap cleanup EXIT
CK_WATCH_PID=$$ bash scripts/rgw-up.sh "$SERVERS/rgw" >/dev/null
CK_WATCH_PID=$$ bash scripts/s3rver-up.sh "$SERVERS/s3rver" >/dev/null
CK_WATCH_PID=$$ bash scripts/b2server-up.sh "$SERVERS/b2" >/dev/null
export CK_RGW_ENV="$SERVERS/rgw/env" CK_S3RVER_ENV="$SERVERS/s3rver/env" CK_B2_ENV="$SERVERS/b2/env"

log "tests"
FILTER=()
[ -n "${CK_TEST_FILTER:-}" ] && FILTER=(-R "$CK_TEST_FILTER")
# Servers are shared by the tests of one binary; run binaries one at a time so
# two RGW clusters don't compete for the 2 cores.
ctest --test-dir build --output-on-failure --timeout 900 "${FILTER[@]}"

if [ -z "${CK_TEST_FILTER:-}" ] || [[ browser =~ ${CK_TEST_FILTER} ]]; then
  log "dashboard in a real browser (Playwright + Debian chromium)"
  CK_CLI="$ROOT/build/cloudkeep" bash tests/browser/run.sh
fi

if [ "${CK_SKIP_ASAN:-0}" != 1 ]; then
  log "unit and engine tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCK_WERROR=ON -DCK_SANITIZE=ON >/dev/null
  ninja -C build-asan -j"$JOBS"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure --timeout 900 -L unit "${FILTER[@]}"
fi
log "all tests passed"
