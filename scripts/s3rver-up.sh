#!/usr/bin/env bash
# usage: scripts/s3rver-up.sh DIR [PORT]
#
# Starts s3rver (the npm fake S3 server pinned in tools/package.json) on
# 127.0.0.1 for tests, with its data in DIR/data, output in DIR/log and its PID
# in DIR/pids/s3rver.  One bucket is created at start (--configure-bucket).
# Exits 0 once a SigV4-signed ListBuckets gets 200 and lists that bucket.
# PORT (or S3RVER_PORT) unset or 0: s3rver binds a free port itself.
#
# Prints (and writes to the sourceable DIR/env):
#   S3_KIND=s3rver  S3RVER_ENDPOINT=http://127.0.0.1:PORT  S3_ENDPOINT=...  AWS_ENDPOINT_URL=...
#   AWS_ACCESS_KEY_ID=S3RVER  AWS_SECRET_ACCESS_KEY=S3RVER  AWS_DEFAULT_REGION=us-east-1
#   AWS_REGION=us-east-1  S3RVER_PORT=...  S3RVER_BUCKET=...  S3RVER_DIR=DIR
# Load it with:  set -a; . DIR/env; set +a
# Progress messages go to stderr.
#
# Idempotent: when the s3rver recorded in DIR is running and answering (on
# PORT, if one was given) it only prints the details again; otherwise it
# stops the recorded process (by PID, only if it still is ours) and starts a
# fresh one on an empty DIR/data.
#
# Node 20 needs NODE_OPTIONS=--openssl-legacy-provider for s3rver's
# ListObjectsV2 pagination (continuation tokens); this script adds it.
# When tools/node_modules is missing it runs 'npm ci' in tools/ first.
#
# Stop it with scripts/s3rver-down.sh DIR [--purge].
#
# Settings (environment):
#   S3RVER_PORT       port when no PORT argument is given (default 0: any free port)
#   S3RVER_BUCKET     bucket created at start (default cloudkeep-test)
#   S3RVER_VERBOSE=1  log every request to DIR/log/s3rver.out
#   S3RVER_TIMEOUT    seconds to wait for it to answer (default 60)
#   S3RVER_FRESH=1    restart even if it is running in DIR
#   S3RVER_NO_INSTALL=1  never run npm ci (fail if tools/node_modules is missing)
#   CK_WATCH_PID      stop it (s3rver-down.sh DIR --purge) once this process
#                     exits, e.g. the test binary that asked for it, even if killed
set -Eeuo pipefail
set +m # no job control: the server stays in our process group until setsid

LOG_TAG=s3rver-up
SCRIPTS=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=local-s3-lib.sh
. "$SCRIPTS/local-s3-lib.sh"
TOOLS=$(cd -- "$SCRIPTS/../tools" && pwd -P)

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
mkdir -p -- "$1"
D=$(cd -- "$1" && pwd -P)

exec 9>"$D/.lock"
flock -w 300 9 || die "another s3rver-up.sh still holds $D/.lock"

WANT_PORT=${2:-${S3RVER_PORT:-0}}
BUCKET=${S3RVER_BUCKET:-cloudkeep-test}
TIMEOUT=${S3RVER_TIMEOUT:-60}
AK=S3RVER
SK=S3RVER
REGION=us-east-1
PIDS="$D/pids"
ENVF="$D/env"
JS="$TOOLS/node_modules/s3rver/bin/s3rver.js"
[[ "$WANT_PORT" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$WANT_PORT'"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "S3RVER_TIMEOUT must be a number, got '$TIMEOUT'"
[[ "$BUCKET" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "invalid bucket name '$BUCKET'"

server_pid() { recorded_pid "$PIDS/s3rver" "*/s3rver.js -d $D/data *"; }

print_env() {
  write_env "$ENVF" \
    S3_KIND=s3rver \
    "S3RVER_ENDPOINT=$ENDPOINT" \
    "S3_ENDPOINT=$ENDPOINT" \
    "AWS_ENDPOINT_URL=$ENDPOINT" \
    "AWS_ACCESS_KEY_ID=$AK" \
    "AWS_SECRET_ACCESS_KEY=$SK" \
    "AWS_DEFAULT_REGION=$REGION" \
    "AWS_REGION=$REGION" \
    "S3RVER_PORT=$PORT" \
    "S3RVER_BUCKET=$BUCKET" \
    "S3RVER_DIR=$D"
  grep -v '^#' "$ENVF"
}

# answers: a signed ListBuckets gets 200 and lists our bucket.
answers() {
  local body r
  body=$(mktemp)
  r=$(s3_probe "$ENDPOINT/" "$AK" "$SK" "$REGION" "$body")
  if [ "${r%% *}" = 200 ] && grep -q "<Name>$BUCKET</Name>" "$body"; then
    rm -f -- "$body"
    return 0
  fi
  rm -f -- "$body"
  return 1
}

# ---------------------------------------------------------------- already up?
p=$(server_pid)
if [ "${S3RVER_FRESH:-0}" != 1 ] && [ -n "$p" ] && [ -s "$ENVF" ]; then
  PORT=$(env_value "$ENVF" S3RVER_PORT)
  ENDPOINT="http://127.0.0.1:$PORT"
  if { [ "$WANT_PORT" = 0 ] || [ "$WANT_PORT" = "$PORT" ]; } &&
    [ "$BUCKET" = "$(env_value "$ENVF" S3RVER_BUCKET)" ] && answers; then
    log "s3rver in $D is already running on $ENDPOINT (pid $p)"
    if [ -n "${CK_WATCH_PID:-}" ]; then
      stop_watchdog "$PIDS/watchdog"
      start_watchdog "$D" "$PIDS/watchdog" "$CK_WATCH_PID" "$SCRIPTS/s3rver-down.sh"
    fi
    print_env
    exit 0
  fi
  log "s3rver in $D runs with other settings or does not answer; restarting it"
fi

# ---------------------------------------------------------------- install
command -v node >/dev/null 2>&1 || die "node is missing; run scripts/install-deps.sh"
command -v curl >/dev/null 2>&1 || die "curl is missing; run scripts/install-deps.sh"
if [ ! -f "$JS" ]; then
  [ "${S3RVER_NO_INSTALL:-0}" != 1 ] || die "$JS is missing (S3RVER_NO_INSTALL=1); run: (cd tools && npm ci)"
  command -v npm >/dev/null 2>&1 || die "npm is missing; run scripts/install-deps.sh"
  # several test processes may get here at once: one npm ci at a time
  exec 8>"${TMPDIR:-/tmp}/cloudkeep-tools-npm-ci.lock"
  flock -w 600 8 || die "timed out waiting for another npm ci in $TOOLS"
  if [ ! -f "$JS" ]; then
    log "installing s3rver: npm ci in $TOOLS"
    (cd -- "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
      die "npm ci in $TOOLS failed"
  fi
  exec 8>&-
fi

# ---------------------------------------------------------------- start
T0=$(now)
stop_watchdog "$PIDS/watchdog"
p=$(server_pid)
[ -z "$p" ] || stop_pid "$p" KILL 5 "old s3rver"
rm -rf -- "$D/data" "$D/log" "$PIDS" "$ENVF" "$D/watchdog.log"
mkdir -p "$D/data" "$D/log" "$PIDS"

if [ "$WANT_PORT" != 0 ] && port_in_use "$WANT_PORT"; then
  die "127.0.0.1:$WANT_PORT is already in use; pick another PORT or use 0"
fi

node_options=${NODE_OPTIONS:-}
# Node >= 17 (OpenSSL 3) refuses MD4, which s3rver's continuation tokens use.
if (($(node -p 'process.versions.node.split(".")[0]') >= 17)) &&
  [[ " $node_options " != *" --openssl-legacy-provider "* ]]; then
  node_options="--openssl-legacy-provider${node_options:+ $node_options}"
fi
silent=(--silent)
[ "${S3RVER_VERBOSE:-0}" != 1 ] || silent=()

OUT="$D/log/s3rver.out"
NODE_OPTIONS=$node_options setsid node "$JS" -d "$D/data" -a 127.0.0.1 -p "$WANT_PORT" \
  "${silent[@]}" --configure-bucket "$BUCKET" </dev/null >>"$OUT" 2>&1 9>&- &
p=$!
disown "$p"
echo "$p" >"$PIDS/s3rver"

on_exit() {
  local rc=$? q
  if [ $rc -ne 0 ]; then
    log "start failed; last lines of $OUT:"
    tail -n 20 "$OUT" >&2 || true
    q=$(server_pid)
    [ -z "$q" ] || stop_pid "$q" KILL 5 s3rver
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

# s3rver prints "S3rver listening on 127.0.0.1:PORT" once it is bound.
PORT=""
t0=$SECONDS
until [ -n "$PORT" ]; do
  PORT=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$OUT" | tail -n 1)
  [ -n "$PORT" ] && break
  proc_running "$p" || die "s3rver exited; see $OUT"
  ((SECONDS - t0 < TIMEOUT)) || die "s3rver did not start listening within ${TIMEOUT}s"
  sleep 0.05
done
ENDPOINT="http://127.0.0.1:$PORT"
until answers; do
  proc_running "$p" || die "s3rver exited; see $OUT"
  ((SECONDS - t0 < TIMEOUT)) || die "s3rver on $ENDPOINT does not answer as expected"
  sleep 0.05
done
trap - EXIT
log "started s3rver (pid $p) on $ENDPOINT with bucket $BUCKET in $(elapsed "$T0")s"

if [ -n "${CK_WATCH_PID:-}" ]; then
  start_watchdog "$D" "$PIDS/watchdog" "$CK_WATCH_PID" "$SCRIPTS/s3rver-down.sh"
fi
print_env
