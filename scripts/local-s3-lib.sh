# shellcheck shell=bash
# local-s3-lib.sh -- helpers shared by rgw-up.sh, rgw-down.sh, s3rver-up.sh and
# s3rver-down.sh.  Not meant to be run; the scripts source it:
#
#   . "$(dirname -- "${BASH_SOURCE[0]}")/local-s3-lib.sh"
#
# The sourcing script sets LOG_TAG (prefix of progress messages) first.
# Everything here works on processes by PID only, and only on PIDs that a
# script recorded itself.

# ---------------------------------------------------------------- messages
log() { printf '[%s %(%H:%M:%S)T] %s\n' "${LOG_TAG:-local-s3}" -1 "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# Seconds since the epoch with a fraction, for timings.
now() { printf '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
# elapsed START [END]: seconds between two now() stamps, one decimal.
elapsed() { awk -v s="$1" -v e="${2:-$(now)}" 'BEGIN { printf "%.1f", e - s }'; }

# ---------------------------------------------------------------- processes
# True while process $1 exists and is not a zombie (an orphaned daemon's zombie
# can linger until init reaps it).
proc_running() {
  [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*[ZX]' "/proc/$1/status" 2>/dev/null
}

# Command line of process $1 with NULs turned into spaces (empty if gone).
proc_cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null || true; }

# proc_field PID N: field N of /proc/PID/stat (5: process group, 22: start
# time in clock ticks since boot), or nothing if the process is gone.
proc_field() {
  local stat fields
  stat=$({ cat "/proc/$1/stat"; } 2>/dev/null) || return 0
  stat=${stat##*) } # the command name may contain spaces and parentheses
  read -r -a fields <<<"$stat"
  (($2 >= 3)) && printf '%s' "${fields[$2 - 3]-}"
  return 0
}

# Start time of process $1: with the PID it identifies a process even after
# the PID has been reused.
proc_starttime() { proc_field "$1" 22; }

# recorded_pid PIDFILE PATTERN: the PID stored in PIDFILE if that process is
# alive and its command line matches the glob PATTERN (so a recycled PID that
# now belongs to someone else is never touched), else nothing.
recorded_pid() {
  local p
  [ -s "$1" ] || return 0
  p=$(<"$1")
  [[ "$p" =~ ^[0-9]+$ ]] || return 0
  proc_running "$p" || return 0
  # shellcheck disable=SC2053
  [[ "$(proc_cmdline "$p")" == $2 ]] && printf '%s' "$p"
  return 0
}

# stop_pid PID SIGNAL GRACE_SECONDS NAME: send SIGNAL, wait up to GRACE for the
# process to go away, then SIGKILL it.
stop_pid() {
  local p=$1 sig=$2 grace=$3 name=$4 i
  kill "-$sig" "$p" 2>/dev/null || true
  for ((i = 0; i < grace * 20; i++)); do
    proc_running "$p" || break
    sleep 0.05
  done
  if proc_running "$p"; then
    [ "$sig" = KILL ] || log "$name (pid $p) still running ${grace}s after SIG$sig; sending SIGKILL"
    kill -KILL "$p" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      proc_running "$p" || break
      sleep 0.05
    done
  fi
  log "stopped $name (pid $p, SIG$sig)"
}

# ---------------------------------------------------------------- ports
# tcp_sockets: "PORT STATE INODE" for every local TCP socket (IPv4 and IPv6),
# from /proc/net/tcp{,6} (the port and state there are in hex).
tcp_sockets() {
  local sl local_addr st inode rest
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r sl local_addr _ st _ _ _ _ _ inode rest; do
      [ "$sl" != sl ] || continue
      printf '%d %s %s\n' "$((16#${local_addr##*:}))" "$st" "$inode"
    done
}

# Local TCP ports in use on this machine (listening or connected), one a line.
ports_in_use() { tcp_sockets | cut -d' ' -f1 | sort -un; }

port_in_use() { ports_in_use | grep -qx "$1"; }

# pid_listens PID PORT: true if process PID itself holds a listening TCP socket
# on PORT (and so not some other server that happens to have that port).
pid_listens() {
  local inodes fd target
  inodes=$(tcp_sockets | awk -v port="$2" '$1 == port && $2 == "0A" { print $3 }')
  [ -n "$inodes" ] || return 1
  for fd in /proc/"$1"/fd/*; do
    target=$(readlink "$fd" 2>/dev/null) || continue
    case "$target" in
      socket:\[*\])
        target=${target#socket:[}
        grep -qx "${target%]}" <<<"$inodes" && return 0
        ;;
    esac
  done
  return 1
}

# pick_free_port [EXCLUDED...]: a TCP port that nothing on this machine uses,
# below the kernel's ephemeral range (so outgoing connections cannot take it
# before the server binds it) and not one of EXCLUDED.  Random, so parallel
# runs rarely pick the same port; the callers retry if a bind still fails.
pick_free_port() {
  local lo hi base span used p i
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  if ((lo > 12000)); then
    base=10000 span=$((lo - 10000))
  else
    base=$((hi + 1)) span=$((65536 - hi - 1))
    ((span > 1000)) || die "no port range outside the ephemeral range ($lo-$hi)"
  fi
  used=" $(ports_in_use | tr '\n' ' ') $* "
  for ((i = 0; i < 200; i++)); do
    p=$((base + ((RANDOM << 15 | RANDOM) % span)))
    [[ "$used" == *" $p "* ]] || {
      printf '%s' "$p"
      return 0
    }
  done
  die "could not find a free TCP port"
}

# ---------------------------------------------------------------- env files
# write_env FILE KEY=VALUE...: a sourceable env file (plain KEY=VALUE lines;
# values are shell-quoted only when they need it).  Written atomically.
write_env() {
  local f=$1 kv
  shift
  {
    echo "# written by $(basename -- "$0") at $(date -u +%Y-%m-%dT%H:%M:%SZ); load with: set -a; . $f; set +a"
    for kv in "$@"; do printf '%s=%q\n' "${kv%%=*}" "${kv#*=}"; done
  } >"$f.tmp"
  mv -f -- "$f.tmp" "$f"
}

# env_value FILE KEY: the value of KEY in an env file written by write_env.
env_value() {
  [ -r "$1" ] || return 0
  (
    set +u
    # shellcheck disable=SC1090
    . "$1" >/dev/null 2>&1
    eval "printf '%s' \"\${$2:-}\""
  )
}

# ---------------------------------------------------------------- S3 checks
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# s3_probe URL ACCESS SECRET REGION [BODYFILE]: a SigV4-signed GET (curl's
# --aws-sigv4; the x-amz-content-sha256 header must be sent explicitly for
# radosgw).  Prints "<http code> <S3 error code or ->".
s3_probe() {
  local url=$1 ak=$2 sk=$3 region=$4 out=${5:-} body code err
  body=$(mktemp)
  code=$(curl -s -o "$body" -w '%{http_code}' --connect-timeout 2 --max-time 5 \
    --aws-sigv4 "aws:amz:$region:s3" --user "$ak:$sk" \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "$url" 2>/dev/null) || code=${code:-000}
  err=$(grep -o '<Code>[^<]*</Code>' "$body" | head -n 1 | sed 's/<[^>]*>//g' || true)
  [ -z "$out" ] || cp -f -- "$body" "$out"
  rm -f -- "$body"
  printf '%s %s\n' "${code:-000}" "${err:--}"
}

# ---------------------------------------------------------------- watchdog
# start_watchdog DIR PIDFILE OWNER_PID DOWN_SCRIPT: starts a small background
# process that stops the servers in DIR (DOWN_SCRIPT DIR --purge) as soon as
# process OWNER_PID exits -- e.g. a test binary that was killed before it could
# stop them itself.  Its PID goes to PIDFILE; the down scripts stop it first.
start_watchdog() {
  local dir=$1 pidfile=$2 owner=$3 down=$4 st
  [[ "$owner" =~ ^[0-9]+$ ]] || die "CK_WATCH_PID must be a PID, got '$owner'"
  st=$(proc_starttime "$owner")
  [ -n "$st" ] || die "CK_WATCH_PID=$owner: no such process"
  # shellcheck disable=SC2016
  setsid bash -c '
    owner=$1 st=$2 dir=$3 pidfile=$4 down=$5
    alive() {
      local s
      s=$({ cat "/proc/$owner/stat"; } 2>/dev/null) || return 1
      s=${s##*) }
      set -- $s
      [ "$1" != Z ] && [ "${20}" = "$st" ]
    }
    while alive; do sleep 1; done
    rm -f -- "$pidfile"
    echo "[watchdog] owner $owner exited; stopping the servers in $dir" >&2
    exec "$down" "$dir" --purge
  ' ck-local-s3-watchdog "$owner" "$st" "$dir" "$pidfile" "$down" \
    </dev/null >>"$dir/watchdog.log" 2>&1 9>&- &
  echo "$!" >"$pidfile"
  log "watchdog (pid $!) will stop everything here when pid $owner exits"
}

# stop_watchdog PIDFILE
stop_watchdog() {
  local p
  p=$(recorded_pid "$1" '*ck-local-s3-watchdog*')
  if [ -n "$p" ]; then
    # it leads its own process group (setsid): take its 'sleep' along
    if [ "$(proc_field "$p" 5)" = "$p" ]; then
      kill -TERM -- "-$p" 2>/dev/null || true
    else
      kill -TERM "$p" 2>/dev/null || true
    fi
    log "stopped watchdog (pid $p)"
  fi
  rm -f -- "$1"
}
