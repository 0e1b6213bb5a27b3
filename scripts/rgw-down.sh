#!/usr/bin/env bash
# usage: scripts/rgw-down.sh DIR [--purge]
#
# Stops the throwaway Ceph cluster that scripts/rgw-up.sh started in DIR: only
# the PIDs recorded in DIR/pids, and each only if that process still is one of
# ours (its command line names DIR/ceph.conf).  Also stops the watchdog that
# rgw-up.sh starts when CK_WATCH_PID is set.
#
# Without --purge: SIGTERM, one daemon at a time (gateway, OSD, monitor),
# SIGKILL for any that is still running after RGW_STOP_GRACE seconds (default
# 10); logs and config stay in DIR for a post-mortem.
# With --purge: SIGKILL at once (the data is thrown away anyway), then remove
# everything rgw-up.sh created in DIR, and DIR itself if that leaves it empty.
#
# Safe to run repeatedly and on a DIR where nothing runs.
set -Eeuo pipefail

LOG_TAG=rgw-down
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
CONF="$D/ceph.conf"
PIDS="$D/pids"
GRACE=${RGW_STOP_GRACE:-10}

# Wait for an rgw-up.sh that is still working on DIR (it may be about to
# record another daemon).
exec 9>>"$D/.lock"
flock -w 120 9 || log "rgw-up.sh still holds $D/.lock after 120 s; stopping anyway"

stop_watchdog "$PIDS/watchdog"

# A clean stop needs all three daemons (radosgw hangs without its OSD, the OSD
# waits for the monitor); if one is gone already, or with --purge, SIGKILL.
sig=TERM
for n in rgw osd mon; do
  [ -n "$(recorded_pid "$PIDS/$n" "* -c $CONF *")" ] || sig=KILL
done
[ $PURGE = 0 ] || sig=KILL

for n in rgw osd mon; do
  [ -e "$PIDS/$n" ] || continue
  p=$(recorded_pid "$PIDS/$n" "* -c $CONF *")
  if [ -n "$p" ]; then
    stop_pid "$p" "$sig" "$GRACE" "$n"
  else
    log "$n (pid $(cat "$PIDS/$n" 2>/dev/null)) was not running"
  fi
  rm -f -- "$PIDS/$n"
done

if [ $PURGE = 1 ]; then
  rm -rf -- "$D/mon" "$D/osd" "$D/run" "$D/log" "$D/rgw" "$PIDS" "$CONF" "$D/monmap" \
    "$D/env" "$D/env.tmp" "$D/zonegroup.json" "$D/watchdog.log" "$D/.lock"
  rmdir -- "$D" 2>/dev/null || true
  log "purged $D"
fi
