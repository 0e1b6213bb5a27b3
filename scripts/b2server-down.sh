#!/usr/bin/env bash
# usage: scripts/b2server-down.sh DIR [--purge]
#
# Stops the local B2 server that scripts/b2server-up.sh started in DIR: only
# the PID recorded in DIR/pids/b2server, and only if that process still is
# ours (its command line names DIR/data), plus the watchdog b2server-up.sh
# starts when CK_WATCH_PID is set.  SIGTERM (the server finishes the requests
# in flight), then SIGKILL after 5 s.
# With --purge it also removes everything b2server-up.sh created in DIR (the
# stored files and logs too), and DIR itself if that leaves it empty.
#
# Safe to run repeatedly and on a DIR where nothing runs.
set -Eeuo pipefail

LOG_TAG=b2server-down
SCRIPTS=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=local-s3-lib.sh
. "$SCRIPTS/local-s3-lib.sh"

PURGE=0
if [ $# -eq 2 ] && [ "$2" = --purge ]; then
  PURGE=1
elif [ $# -ne 1 ] || [ -z "$1" ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
if [ ! -d "$1" ]; then
  log "$1: no such directory; nothing to stop"
  exit 0
fi
D=$(cd -- "$1" && pwd -P)
PIDS="$D/pids"

# Wait for a b2server-up.sh that is still working on DIR.
exec 9>>"$D/.lock"
flock -w 120 9 || log "b2server-up.sh still holds $D/.lock after 120 s; stopping anyway"

stop_watchdog "$PIDS/watchdog"
if [ -e "$PIDS/b2server" ]; then
  p=$(recorded_pid "$PIDS/b2server" "*/b2server.py --data-dir $D/data *")
  if [ -n "$p" ]; then
    stop_pid "$p" TERM 5 b2server
  else
    log "b2server (pid $(cat "$PIDS/b2server" 2>/dev/null)) was not running"
  fi
  rm -f -- "$PIDS/b2server"
fi

if [ $PURGE = 1 ]; then
  rm -rf -- "$D/data" "$D/log" "$PIDS" "$D/env" "$D/env.tmp" "$D/port" "$D/watchdog.log" "$D/.lock"
  rmdir -- "$D" 2>/dev/null || true
  log "purged $D"
fi
