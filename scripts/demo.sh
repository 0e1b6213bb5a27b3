#!/usr/bin/env bash
# The main job on an embedded default, from a fresh Debian 12 machine:
# installs what is needed, builds cloudkeep, starts a local Ceph RGW S3 server
# (data in RAM) and the project's local B2 server (loopback only), generates a
# sample folder, writes a config with both destinations, runs `cloudkeep sync`
# and `cloudkeep status` against them, then leaves `cloudkeep serve` running:
# the dashboard at http://127.0.0.1:8080/ (the token is printed).
#
#   scripts/demo.sh            run (again: only changes are uploaded)
#   scripts/demo.sh --stop     stop the dashboard and the demo's S3 and B2 servers
#   scripts/demo.sh --clean    stop it and delete .demo/
#   CK_DEMO_PORT=9090 scripts/demo.sh   another port for the dashboard
#
# Everything lives in .demo/ at the repository root.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=$ROOT/.demo

PORT=${CK_DEMO_PORT:-8080}

# Stops the demo's `cloudkeep serve` (by its PID file) if it runs.
stop_serve() {
  local pidf=$DEMO/serve.pid
  [ -f "$pidf" ] || return 0
  local pid; pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null && grep -q cloudkeep "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidf"
}

case "${1:-}" in
  --stop) stop_serve; bash scripts/rgw-down.sh "$DEMO/rgw"; bash scripts/b2server-down.sh "$DEMO/b2"; exit 0 ;;
  --clean)
    stop_serve
    bash scripts/rgw-down.sh "$DEMO/rgw" --purge >/dev/null 2>&1 || true
    bash scripts/b2server-down.sh "$DEMO/b2" --purge >/dev/null 2>&1 || true
    rm -rf "$DEMO"; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--stop|--clean]" >&2; exit 2 ;;
esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "dependencies"
bash scripts/install-deps.sh

say "build"
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build-release cloudkeep
CK=$ROOT/build-release/cloudkeep

say "local S3 server (Ceph RGW, loopback)"
mkdir -p "$DEMO"
bash scripts/rgw-up.sh "$DEMO/rgw" >/dev/null
set -a; . "$DEMO/rgw/env"; set +a
export AWS_CA_BUNDLE="" AWS_PAGER=""
BUCKET=cloudkeep-demo
if ! aws --endpoint-url "$RGW_ENDPOINT" s3api head-bucket --bucket "$BUCKET" >/dev/null 2>&1; then
  aws --endpoint-url "$RGW_ENDPOINT" s3api create-bucket --bucket "$BUCKET" >/dev/null
  # Fresh servers (their data lives in RAM / a temp dir): a state DB from an
  # earlier demo would say "synced" for objects that are gone. Start over.
  rm -f "$DEMO"/cloudkeep.db "$DEMO"/cloudkeep.db-wal "$DEMO"/cloudkeep.db-shm
fi
echo "endpoint $RGW_ENDPOINT, bucket $BUCKET"

say "local B2 server (the project's, loopback)"
bash scripts/b2server-up.sh "$DEMO/b2" >/dev/null
set -a; . "$DEMO/b2/env"; set +a
echo "api $B2_API_URL, bucket $B2_TEST_BUCKET"

say "sample folder"
SAMPLE=$DEMO/sample
if [ ! -d "$SAMPLE" ]; then
  python3 - "$SAMPLE" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(42)
def write(rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
for i in range(300):
    write(f"documents/year{2020 + i % 5}/note-{i:03d}.txt", (f"note {i}\n" * rnd.randint(1, 400)).encode())
for i in range(40):
    write(f"photos/IMG_{1000 + i}.jpg", rnd.randbytes(rnd.randint(50_000, 900_000)))
for name in ["with space.txt", "ünïcödé 日本語.txt", "plus+and&amp=ok.txt", "100% done!.txt",
             "quote'\"semi;comma,.txt", "br[ack]{et}~@.txt", "emoji 🎉.txt"]:
    write("awkward names/" + name, f"the file called {name}\n".encode())
write("empty/nothing.txt", b"")
write("videos/holiday.mp4", rnd.randbytes(80 * 1024 * 1024))  # multipart upload
PY
fi
# A name that is not valid UTF-8 cannot be an object key: it fails on purpose
# and shows in `cloudkeep failed` and the dashboard's failed-files table.
[ -e "$SAMPLE/awkward names/latin1-caf"$'\xe9'".txt" ] ||
  printf 'named in Latin-1\n' > "$SAMPLE/awkward names/latin1-caf"$'\xe9'".txt"
echo "$(find "$SAMPLE" -type f | wc -l) files, $(du -sh "$SAMPLE" | cut -f1) in $SAMPLE"

say "configuration"
CFG=$DEMO/cloudkeep.toml
cat > "$CFG" <<TOML
# Written by scripts/demo.sh: a local RGW stands in for AWS S3, the project's
# local B2 server for Backblaze B2.
[state]
database = "cloudkeep.db"

[sync]
transfers = 8

[[sources]]
path = "sample"
exclude = ["*.tmp"]

[destinations.aws-s3]
type = "s3"
bucket = "$BUCKET"
prefix = "demo-host/"
region = "us-east-1"
endpoint = "$RGW_ENDPOINT"
path_style = true
# credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY

[destinations.backblaze-b2]
type = "b2"
bucket = "$B2_TEST_BUCKET"
prefix = "demo-host/"
api_url = "$B2_API_URL"
# credentials come from B2_APPLICATION_KEY_ID / B2_APPLICATION_KEY
TOML
"$CK" --config "$CFG" config check

stop_serve  # the dashboard of an earlier run holds the state DB open; it restarts below

say "cloudkeep sync"
set +e
"$CK" --config "$CFG" sync
rc=$?
set -e
echo "(exit code $rc)"

say "cloudkeep status"
"$CK" --config "$CFG" status || true

say "what the bucket holds (AWS CLI)"
{ aws --endpoint-url "$RGW_ENDPOINT" s3 ls "s3://$BUCKET/demo-host/" --recursive --summarize || true; } | tail -2

say "dashboard: cloudkeep serve"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "port $PORT is taken; run again with CK_DEMO_PORT=<free port>" >&2
  exit 1
fi
cat >> "$CFG" <<TOML

[server]
listen = "127.0.0.1:$PORT"
scan_interval = 300        # a sync pass every 5 minutes, and on "Sync now"
reconcile_interval = 300   # re-list the buckets every 5 minutes
TOML
setsid nohup "$CK" --config "$CFG" serve > "$DEMO/serve.log" 2>&1 < /dev/null &
echo $! > "$DEMO/serve.pid"
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null || { cat "$DEMO/serve.log" >&2; exit 1; }
TOKEN=$(cat "$DEMO/cloudkeep.token")

cat <<EOF2

The sync above exits $rc: one file ("awkward names/latin1-caf?.txt") fails on purpose, because
its name is not valid UTF-8 and so cannot be an object key.

Dashboard:  http://127.0.0.1:$PORT/    token: $TOKEN
            (the token is in $DEMO/cloudkeep.token; serve's log is $DEMO/serve.log)
Try:  echo changed >> "$SAMPLE/documents/year2020/note-000.txt", then "Sync now" on the
      dashboard (only the changed file is uploaded)
      $CK --config $CFG status --json
      curl -H "Authorization: Bearer \$(cat $DEMO/cloudkeep.token)" http://127.0.0.1:$PORT/api/status
Stop: scripts/demo.sh --stop      Remove everything: scripts/demo.sh --clean
EOF2
