#!/usr/bin/env bash
# usage: scripts/b2server-up.sh DIR [PORT]
#
# Starts the project's local Backblaze B2 server (tools/b2server/b2server.py,
# Python 3 standard library only) on 127.0.0.1 for tests, with its data in
# DIR/data, its log in DIR/log and its PID in DIR/pids/b2server.  One bucket
# is created at start.  Exits 0 once GET /__test/health answers and lists that
# bucket.  PORT (or B2SERVER_PORT) unset or 0: the server binds a free port
# itself and reports it through DIR/port.
#
# Prints (and writes to the sourceable DIR/env):
#   B2_API_URL=http://127.0.0.1:PORT  B2_APPLICATION_KEY_ID=...  B2_APPLICATION_KEY=...
#   B2_TEST_BUCKET=...  B2SERVER_PORT=...  B2SERVER_DIR=DIR
# Load it with:  set -a; . DIR/env; set +a
# Authorize at $B2_API_URL/b2api/v2/b2_authorize_account (Basic auth).  The
# fault switches and transaction counters are at $B2_API_URL/__test/...
# (see tools/b2server/README.md).  Progress messages go to stderr.
#
# Idempotent: when the server recorded in DIR is running and answering (on
# PORT, if one was given) with the same bucket and keys it only prints the
# details again; otherwise it stops the recorded process (by PID, only if it
# still is ours) and starts a fresh one on an empty DIR/data.
#
# Stop it with scripts/b2server-down.sh DIR [--purge].
#
# Settings (environment):
#   B2SERVER_PORT      port when no PORT argument is given (default 0: any free port)
#   B2SERVER_BUCKET    bucket created at start (default cloudkeep-b2-test)
#   B2SERVER_KEY_ID    application key id (default ck-b2-test-key-id)
#   B2SERVER_KEY       application key (default ck-b2-test-application-key)
#   B2SERVER_ARGS      extra b2server.py options, e.g. "--min-part-size 1000 --token-lifetime 30"
#   B2SERVER_VERBOSE=1 log every request to DIR/log/b2server.log (default: errors only)
#   B2SERVER_TIMEOUT   seconds to wait for it to answer (default 30)
#   B2SERVER_FRESH=1   restart even if it is running in DIR
#   CK_WATCH_PID       stop it (b2server-down.sh DIR --purge) once this process
#                      exits, e.g. the test binary that asked for it, even if killed
set -Eeuo pipefail
set +m # no job control: the server stays in our process group until setsid

LOG_TAG=b2server-up
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
flock -w 300 9 || die "another b2server-up.sh still holds $D/.lock"

WANT_PORT=${2:-${B2SERVER_PORT:-0}}
BUCKET=${B2SERVER_BUCKET:-cloudkeep-b2-test}
KEY_ID=${B2SERVER_KEY_ID:-ck-b2-test-key-id}
KEY=${B2SERVER_KEY:-ck-b2-test-application-key}
TIMEOUT=${B2SERVER_TIMEOUT:-30}
PIDS="$D/pids"
ENVF="$D/env"
PY="$TOOLS/b2server/b2server.py"
[[ "$WANT_PORT" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$WANT_PORT'"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "B2SERVER_TIMEOUT must be a number, got '$TIMEOUT'"
[[ "$BUCKET" =~ ^[A-Za-z0-9-]{6,63}$ ]] || die "invalid bucket name '$BUCKET' (6-63 letters, digits, '-')"
[[ "$KEY_ID:$KEY" =~ ^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$ ]] || die "keys may only use [A-Za-z0-9_.-]"
read -r -a EXTRA <<<"${B2SERVER_ARGS:-}"

server_pid() { recorded_pid "$PIDS/b2server" "*/b2server.py --data-dir $D/data *"; }

print_env() {
  write_env "$ENVF" \
    "B2_API_URL=$ENDPOINT" \
    "B2_APPLICATION_KEY_ID=$KEY_ID" \
    "B2_APPLICATION_KEY=$KEY" \
    "B2_TEST_BUCKET=$BUCKET" \
    "B2SERVER_PORT=$PORT" \
    "B2SERVER_DIR=$D"
  grep -v '^#' "$ENVF"
}

# answers: the health endpoint gets 200 and lists our bucket.
answers() {
  local body
  body=$(curl -s --connect-timeout 2 --max-time 5 "$ENDPOINT/__test/health" 2>/dev/null) || return 1
  grep -q "\"$BUCKET\"" <<<"$body"
}

# ---------------------------------------------------------------- already up?
p=$(server_pid)
if [ "${B2SERVER_FRESH:-0}" != 1 ] && [ -n "$p" ] && [ -s "$ENVF" ]; then
  PORT=$(env_value "$ENVF" B2SERVER_PORT)
  ENDPOINT="http://127.0.0.1:$PORT"
  if { [ "$WANT_PORT" = 0 ] || [ "$WANT_PORT" = "$PORT" ]; } &&
    [ "$BUCKET" = "$(env_value "$ENVF" B2_TEST_BUCKET)" ] &&
    [ "$KEY_ID" = "$(env_value "$ENVF" B2_APPLICATION_KEY_ID)" ] &&
    [ "$KEY" = "$(env_value "$ENVF" B2_APPLICATION_KEY)" ] && answers; then
    log "b2server in $D is already running on $ENDPOINT (pid $p)"
    if [ -n "${CK_WATCH_PID:-}" ]; then
      stop_watchdog "$PIDS/watchdog"
      start_watchdog "$D" "$PIDS/watchdog" "$CK_WATCH_PID" "$SCRIPTS/b2server-down.sh"
    fi
    print_env
    exit 0
  fi
  log "b2server in $D runs with other settings or does not answer; restarting it"
fi

# ---------------------------------------------------------------- start
command -v python3 >/dev/null 2>&1 || die "python3 is missing; run scripts/install-deps.sh"
command -v curl >/dev/null 2>&1 || die "curl is missing; run scripts/install-deps.sh"
[ -f "$PY" ] || die "$PY is missing"

T0=$(now)
stop_watchdog "$PIDS/watchdog"
p=$(server_pid)
[ -z "$p" ] || stop_pid "$p" TERM 5 "old b2server"
rm -rf -- "$D/data" "$D/log" "$PIDS" "$ENVF" "$D/port" "$D/watchdog.log"
mkdir -p "$D/data" "$D/log" "$PIDS"

if [ "$WANT_PORT" != 0 ] && port_in_use "$WANT_PORT"; then
  die "127.0.0.1:$WANT_PORT is already in use; pick another PORT or use 0"
fi
verbose=()
[ "${B2SERVER_VERBOSE:-0}" != 1 ] || verbose=(--verbose)

OUT="$D/log/b2server.log"
# --data-dir first: server_pid() recognises the process by it.
setsid python3 "$PY" --data-dir "$D/data" --port "$WANT_PORT" --port-file "$D/port" \
  --key-id "$KEY_ID" --key "$KEY" --bucket "$BUCKET" "${verbose[@]}" "${EXTRA[@]}" \
  </dev/null >>"$OUT" 2>&1 9>&- &
p=$!
disown "$p"
echo "$p" >"$PIDS/b2server"

on_exit() {
  local rc=$? q
  if [ $rc -ne 0 ]; then
    log "start failed; last lines of $OUT:"
    tail -n 20 "$OUT" >&2 || true
    q=$(server_pid)
    [ -z "$q" ] || stop_pid "$q" KILL 5 b2server
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

PORT=""
t0=$SECONDS
until [ -n "$PORT" ]; do
  [ ! -s "$D/port" ] || PORT=$(tr -dc 0-9 <"$D/port")
  [ -n "$PORT" ] && break
  proc_running "$p" || die "b2server exited; see $OUT"
  ((SECONDS - t0 < TIMEOUT)) || die "b2server did not start listening within ${TIMEOUT}s"
  sleep 0.05
done
ENDPOINT="http://127.0.0.1:$PORT"
until answers; do
  proc_running "$p" || die "b2server exited; see $OUT"
  ((SECONDS - t0 < TIMEOUT)) || die "b2server on $ENDPOINT does not answer as expected"
  sleep 0.05
done
trap - EXIT
log "started b2server (pid $p) on $ENDPOINT with bucket $BUCKET in $(elapsed "$T0")s"

if [ -n "${CK_WATCH_PID:-}" ]; then
  start_watchdog "$D" "$PIDS/watchdog" "$CK_WATCH_PID" "$SCRIPTS/b2server-down.sh"
fi
print_env
