#!/usr/bin/env bash
# usage: scripts/rgw-up.sh DIR
#
# Starts a throwaway single-node Ceph cluster on 127.0.0.1 for tests: one
# monitor, one OSD on memstore (object data is kept in RAM) and one RADOS
# Gateway (radosgw, beast frontend) serving S3, with everything -- config,
# monitor store, logs, PIDs -- under DIR.  Creates one S3 user with a known
# key pair and exits 0 only once a SigV4 request signed with the right secret
# gets 200 and one signed with a wrong secret gets 403 SignatureDoesNotMatch.
#
# Prints (and writes to the sourceable DIR/env):
#   S3_KIND=rgw  RGW_ENDPOINT=http://127.0.0.1:PORT  S3_ENDPOINT=...  AWS_ENDPOINT_URL=...
#   AWS_ACCESS_KEY_ID=...  AWS_SECRET_ACCESS_KEY=...  AWS_DEFAULT_REGION=...  AWS_REGION=...
#   RGW_PORT=...  RGW_MON_PORT=...  RGW_DIR=DIR  CEPH_CONF=DIR/ceph.conf
# Load it with:  set -a; . DIR/env; set +a
# Progress messages go to stderr.
#
# Idempotent: when the cluster recorded in DIR is running and answering (on
# the requested ports, if any were given) it only prints the details again.
# Otherwise it first kills whatever daemons it recorded in DIR (by PID, and
# only if they still are ours), then builds a fresh cluster.
#
# Stop it with scripts/rgw-down.sh DIR [--purge].
#
# Settings (environment):
#   RGW_PORT         S3 port on 127.0.0.1; unset or 0: pick a free port
#   RGW_MON_PORT     monitor (msgr2) port on 127.0.0.1; unset or 0: pick a free port
#   RGW_ACCESS_KEY   access key of the S3 user  (default CKRGWTESTACCESSKEY01)
#   RGW_SECRET_KEY   secret key of the S3 user  (default ckrgwtestsecretkey000000000000000000000001)
#   RGW_REGION       region clients should sign with (default us-east-1).  Any
#                    region signs fine, but CreateBucket with a LocationConstraint
#                    other than the zonegroup's api_name is refused; RGW_SET_API_NAME=1
#                    renames the api_name to RGW_REGION so that such requests work.
#   RGW_DNS_NAME     also serve virtual-hosted-style requests for BUCKET.$RGW_DNS_NAME
#                    (the client must resolve that name itself); path style always works
#   RGW_STORE_BYTES  memstore capacity in bytes, taken from RAM as data is written
#                    (default 4294967296 = 4 GiB; when full, writes hang instead of failing)
#   RGW_TIMEOUT      seconds to wait for each daemon (default 120)
#   RGW_FRESH=1      build a fresh cluster even if one is running in DIR
#   RGW_NO_INSTALL=1 never run apt-get (fail if the Ceph binaries are missing)
#   CK_WATCH_PID     stop the cluster (rgw-down.sh DIR --purge) once this process
#                    exits, e.g. the test binary that asked for it, even if killed
set -Eeuo pipefail
set +m # no job control: background daemons stay in our process group until setsid

LOG_TAG=rgw-up
SCRIPTS=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=local-s3-lib.sh
. "$SCRIPTS/local-s3-lib.sh"

if [ $# -ne 1 ] || [ -z "$1" ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
mkdir -p -- "$1"
D=$(cd -- "$1" && pwd -P)

# One rgw-up at a time per DIR.  fd 9 is closed for every daemon.
exec 9>"$D/.lock"
flock -w 600 9 || die "another rgw-up.sh still holds $D/.lock"

WANT_PORT=${RGW_PORT:-0}
WANT_MON_PORT=${RGW_MON_PORT:-0}
AK=${RGW_ACCESS_KEY:-CKRGWTESTACCESSKEY01}
SK=${RGW_SECRET_KEY:-ckrgwtestsecretkey000000000000000000000001}
REGION=${RGW_REGION:-us-east-1}
STORE_BYTES=${RGW_STORE_BYTES:-4294967296}
TIMEOUT=${RGW_TIMEOUT:-120}
CONF="$D/ceph.conf"
PIDS="$D/pids"
ENVF="$D/env"
for v in RGW_PORT RGW_MON_PORT RGW_STORE_BYTES RGW_TIMEOUT; do
  [[ "${!v:-0}" =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[[ "$AK" =~ ^[A-Za-z0-9]+$ && "$SK" =~ ^[A-Za-z0-9/+=]+$ ]] ||
  die "RGW_ACCESS_KEY must be alphanumeric and RGW_SECRET_KEY base64-like"

# PID of our daemon NAME (mon, osd or rgw) if it is alive, else nothing.
daemon_pid() { recorded_pid "$PIDS/$1" "* -c $CONF *"; }

# Kill (SIGKILL) the daemons recorded in DIR: only used before wiping DIR's
# cluster or after a failed start, when nothing in it needs a clean shutdown.
kill_recorded() {
  local n p
  stop_watchdog "$PIDS/watchdog"
  for n in rgw osd mon; do
    p=$(daemon_pid "$n")
    [ -z "$p" ] || stop_pid "$p" KILL 5 "$n"
    rm -f -- "$PIDS/$n"
  done
}

print_env() {
  write_env "$ENVF" \
    S3_KIND=rgw \
    "RGW_ENDPOINT=$ENDPOINT" \
    "S3_ENDPOINT=$ENDPOINT" \
    "AWS_ENDPOINT_URL=$ENDPOINT" \
    "AWS_ACCESS_KEY_ID=$AK" \
    "AWS_SECRET_ACCESS_KEY=$SK" \
    "AWS_DEFAULT_REGION=$REGION" \
    "AWS_REGION=$REGION" \
    "RGW_PORT=$PORT" \
    "RGW_MON_PORT=$MON_PORT" \
    "RGW_DIR=$D" \
    "CEPH_CONF=$CONF"
  grep -v '^#' "$ENVF"
}

# verify_auth: right secret -> 200, wrong secret -> 403 SignatureDoesNotMatch.
verify_auth() {
  local good bad
  good=$(s3_probe "$ENDPOINT/" "$AK" "$SK" "$REGION")
  bad=$(s3_probe "$ENDPOINT/" "$AK" "wrong$SK" "$REGION")
  if [ "${good%% *}" != 200 ]; then
    [ "${1:-}" = quiet ] || log "request signed with the right secret got: $good"
    return 1
  fi
  if [ "$bad" != "403 SignatureDoesNotMatch" ]; then
    [ "${1:-}" = quiet ] || log "request signed with a wrong secret got: $bad"
    return 1
  fi
  [ "${1:-}" = quiet ] || log "auth check ok: right secret -> 200, wrong secret -> $bad"
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 3 "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------- already up?
if [ "${RGW_FRESH:-0}" != 1 ] && [ -s "$ENVF" ] && [ -n "$(daemon_pid mon)" ] &&
  [ -n "$(daemon_pid osd)" ] && [ -n "$(daemon_pid rgw)" ]; then
  PORT=$(env_value "$ENVF" RGW_PORT)
  MON_PORT=$(env_value "$ENVF" RGW_MON_PORT)
  ENDPOINT="http://127.0.0.1:$PORT"
  if { [ "$WANT_PORT" = 0 ] || [ "$WANT_PORT" = "$PORT" ]; } &&
    { [ "$WANT_MON_PORT" = 0 ] || [ "$WANT_MON_PORT" = "$MON_PORT" ]; } &&
    [ "$AK" = "$(env_value "$ENVF" AWS_ACCESS_KEY_ID)" ] &&
    [ "$SK" = "$(env_value "$ENVF" AWS_SECRET_ACCESS_KEY)" ] &&
    [ "$REGION" = "$(env_value "$ENVF" AWS_REGION)" ] && verify_auth quiet; then
    log "cluster in $D is already running on $ENDPOINT"
    if [ -n "${CK_WATCH_PID:-}" ]; then
      stop_watchdog "$PIDS/watchdog"
      start_watchdog "$D" "$PIDS/watchdog" "$CK_WATCH_PID" "$SCRIPTS/rgw-down.sh"
    fi
    print_env
    exit 0
  fi
  log "cluster in $D is running with other settings or does not answer; rebuilding"
fi

# ---------------------------------------------------------------- packages
missing=()
for bp in ceph-mon:ceph-mon ceph-osd:ceph-osd radosgw:radosgw radosgw-admin:ceph-common \
  ceph:ceph-common monmaptool:ceph-base curl:curl setsid:util-linux flock:util-linux; do
  command -v "${bp%%:*}" >/dev/null 2>&1 || missing+=("${bp#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  [ "${RGW_NO_INSTALL:-0}" != 1 ] || die "missing packages ${missing[*]} (RGW_NO_INSTALL=1)"
  [ "$(id -u)" = 0 ] || die "missing packages; run scripts/install-deps.sh or, as root:" \
    "apt-get install --no-install-recommends ${missing[*]}"
  log "installing ${missing[*]} with apt-get (about 30 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# ---------------------------------------------------------------- fresh cluster
write_conf() {
  local asok="admin socket = $D/run/\$name.asok"
  # unix socket paths are limited to 107 bytes; without one, 'ceph daemon' is unavailable
  [ ${#D} -le 80 ] || asok="admin socket ="
  cat >"$CONF" <<EOF
# Generated by cloudkeep scripts/rgw-up.sh: a throwaway single-node test cluster.
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind msgr1 = false
# Fail fast when a port was taken after all (rgw-up.sh then retries with others).
ms bind retry count = 2
ms bind retry delay = 1
# No cephx between the daemons; radosgw still verifies S3 signatures itself.
auth cluster required = none
auth service required = none
auth client required = none
# radosgw asks for a 'secure' monitor connection by default, which auth 'none'
# cannot provide: without this it never starts listening.
ms mon client mode = crc secure
run dir = $D/run
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
# A nearly full /tmp must not stop the monitor.
mon data avail crit = 0
mon data avail warn = 0
[mon]
# Commit map changes quickly: start-up takes ~2 s instead of ~13 s.
paxos propose interval = 0.05
paxos min wait = 0.01
mon data = $D/mon/\$cluster-\$id
$asok
[osd]
osd data = $D/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $STORE_BYTES
$asok
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $D/rgw
$asok
${RGW_DNS_NAME:+rgw dns name = $RGW_DNS_NAME}
EOF
}

# start_daemon NAME CMD...: CMD -c CONF -f in its own session (so it outlives
# the caller's process group and terminal), output to DIR/log/NAME.out.
start_daemon() {
  local name=$1 i
  shift
  setsid "$@" -c "$CONF" -f </dev/null >>"$D/log/$name.out" 2>&1 9>&- &
  local p=$!
  disown "$p" # no "Killed" notices from bash when a daemon is stopped
  echo "$p" >"$PIDS/$name"
  # with job control off the child is no process group leader, so setsid
  # exec's the daemon in place: $! is the daemon's own PID
  for ((i = 0; i < 100; i++)); do
    [ -z "$(daemon_pid "$name")" ] || break
    proc_running "$p" || die "$name exited at once; see $D/log/$name.out"
    sleep 0.02
  done
  [ -n "$(daemon_pid "$name")" ] || die "$name did not start; see $D/log/$name.out"
  log "started $name (pid $p)"
}

# wait_for WHAT DAEMON COMMAND...: retry COMMAND until it succeeds, as long as
# DAEMON lives, for at most RGW_TIMEOUT seconds.
wait_for() {
  local what=$1 name=$2 t0=$SECONDS
  shift 2
  until "$@"; do
    [ -n "$(daemon_pid "$name")" ] || die "$name exited while waiting for $what; see $D/log/"
    ((SECONDS - t0 < TIMEOUT)) || die "timed out after ${TIMEOUT}s waiting for $what; see $D/log/"
    sleep 0.1
  done
}

ceph_() { timeout 30 ceph -c "$CONF" --connect-timeout 20 "$@"; }
# The ports were free when picked, but another server may have taken one since:
# make sure that it is our daemon that listens before talking to the port.
mon_ready() { pid_listens "$(daemon_pid mon)" "$MON_PORT" && ceph_ mon stat >/dev/null 2>&1; }
osd_up() { ceph_ osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'; }
rgw_listening() {
  pid_listens "$(daemon_pid rgw)" "$PORT" && [ "$(http_code "$ENDPOINT/")" = 200 ]
}
rgw_radosgw() { radosgw-admin -c "$CONF" "$@"; }

# build_cluster: one attempt at a fresh cluster (runs in a subshell; exits
# non-zero on failure after killing what it started).
build_cluster() {
  trap 'exit 130' INT TERM HUP
  trap 'rc=$?; if [ $rc -ne 0 ]; then
          if [ $rc -eq 130 ]; then log "interrupted"; else
            log "start failed; last log lines:"
            tail -n 15 "$D"/log/*.log "$D"/log/*.out >&2 2>/dev/null || true
          fi
          kill_recorded
        fi' EXIT
  local t0 t_mon t_osd t_user t_rgw fsid_osd osd_id
  t0=$(now)
  FSID=$(</proc/sys/kernel/random/uuid)
  write_conf

  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$D/monmap" >>"$D/log/mkfs.out" 2>&1 ||
    die "ceph-mon --mkfs failed; see $D/log/mkfs.out"
  start_daemon mon ceph-mon -i a
  wait_for "the monitor" mon mon_ready
  t_mon=$(now)

  fsid_osd=$(</proc/sys/kernel/random/uuid)
  osd_id=$(ceph_ osd new "$fsid_osd")
  [ "$osd_id" = 0 ] || die "unexpected OSD id '$osd_id'"
  mkdir -p "$D/osd/ceph-0"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$fsid_osd" >>"$D/log/mkfs.out" 2>&1 ||
    die "ceph-osd --mkfs failed; see $D/log/mkfs.out"
  start_daemon osd ceph-osd -i 0
  wait_for "osd.0 up" osd osd_up
  t_osd=$(now)

  # The first radosgw-admin call creates the gateway's pools and its default
  # zonegroup and zone.
  rgw_radosgw user create --uid=tester --display-name="cloudkeep test user" \
    --access-key="$AK" --secret-key="$SK" >"$D/log/user-create.out" 2>&1 ||
    die "radosgw-admin user create failed; see $D/log/user-create.out"
  t_user=$(now)
  if [ "${RGW_SET_API_NAME:-0}" = 1 ]; then
    # Make CreateBucket accept LocationConstraint=$REGION: rename the default
    # zonegroup's api_name before the gateway first reads it.
    rgw_radosgw zonegroup get --rgw-zonegroup=default >"$D/zonegroup.json" 2>>"$D/log/admin.out" ||
      die "radosgw-admin zonegroup get failed; see $D/log/admin.out"
    sed -i "s/\"api_name\": \"[^\"]*\"/\"api_name\": \"$REGION\"/" "$D/zonegroup.json"
    rgw_radosgw zonegroup set --rgw-zonegroup=default --infile "$D/zonegroup.json" \
      >/dev/null 2>>"$D/log/admin.out" || die "radosgw-admin zonegroup set failed; see $D/log/admin.out"
  fi

  start_daemon rgw radosgw -n client.rgw.a
  wait_for "radosgw on $ENDPOINT" rgw rgw_listening
  t_rgw=$(now)

  local t_auth=$SECONDS
  until verify_auth quiet; do
    if ((SECONDS - t_auth >= 30)); then
      verify_auth || true
      die "the gateway does not authenticate as expected"
    fi
    sleep 0.1
  done
  verify_auth
  log "cluster up in $(elapsed "$t0")s (mon $(elapsed "$t0" "$t_mon")s, osd" \
    "+$(elapsed "$t_mon" "$t_osd")s, pools and user +$(elapsed "$t_osd" "$t_user")s, rgw" \
    "+$(elapsed "$t_user" "$t_rgw")s, auth checks +$(elapsed "$t_rgw")s)"
  trap - EXIT
}

T0=$(now)
kill_recorded
for attempt in 1 2 3; do
  rm -rf -- "$D/mon" "$D/osd" "$D/run" "$D/log" "$D/rgw" "$PIDS" "$CONF" "$D/monmap" \
    "$ENVF" "$D/zonegroup.json" "$D/watchdog.log"
  mkdir -p "$D/mon/ceph-a" "$D/osd" "$D/run" "$D/log" "$D/rgw" "$PIDS"

  MON_PORT=$WANT_MON_PORT
  PORT=$WANT_PORT
  [ "$MON_PORT" != 0 ] || MON_PORT=$(pick_free_port "$PORT")
  [ "$PORT" != 0 ] || PORT=$(pick_free_port "$MON_PORT")
  if [ -z "$PORT" ] || [ -z "$MON_PORT" ]; then die "could not pick free ports"; fi
  [ "$PORT" != "$MON_PORT" ] || die "RGW_PORT and RGW_MON_PORT are both $PORT"
  port_in_use "$MON_PORT" && die "127.0.0.1:$MON_PORT (monitor) is already in use; set RGW_MON_PORT"
  port_in_use "$PORT" && die "127.0.0.1:$PORT (S3) is already in use; set RGW_PORT"
  ENDPOINT="http://127.0.0.1:$PORT"
  log "building a cluster in $D (monitor port $MON_PORT, S3 on $ENDPOINT)"

  # In a subshell, so that a failed attempt can be retried; a signal to this
  # script is passed on to it, and it cleans up after itself.
  set +e
  (
    set -e
    build_cluster
  ) &
  sub=$!
  trap 'kill -TERM "$sub" 2>/dev/null; wait "$sub"; exit 130' INT TERM HUP
  wait "$sub"
  rc=$?
  trap - INT TERM HUP
  set -e
  [ $rc -ne 0 ] || break
  [ $rc -ne 130 ] || exit 130
  # Someone took an automatically picked port between our check and the
  # daemon's bind: try again with other ports.
  if [ "$attempt" -lt 3 ] && { [ "$WANT_PORT" = 0 ] || [ "$WANT_MON_PORT" = 0 ]; } &&
    grep -qsiE 'address already in use|unable to bind|failed to bind' "$D"/log/*; then
    log "a port was taken meanwhile; retrying with other ports"
    continue
  fi
  exit $rc
done

if [ -n "${CK_WATCH_PID:-}" ]; then
  start_watchdog "$D" "$PIDS/watchdog" "$CK_WATCH_PID" "$SCRIPTS/rgw-down.sh"
fi
log "ready in $(elapsed "$T0")s"
print_env
