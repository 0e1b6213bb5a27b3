#!/usr/bin/env bash
# usage: [CK_CLI=path/to/cloudkeep] bash tests/browser/run.sh [test files...]
#
# The dashboard's tests: unit tests of web/format.js and the real-browser
# tests (playwright-core, pinned in package-lock.json, driving Debian's
# /usr/bin/chromium headless) against `cloudkeep serve` with its own s3rver
# and local B2 server. Screenshots go to tests/browser/artifacts/.
#
# Settings (environment):
#   CK_CLI        the cloudkeep binary (default build/cloudkeep)
#   CK_CHROMIUM   the browser (default /usr/bin/chromium)
#   CK_KEEP_TMP=1 keep the temp directory (config, serve.log, data)
# Exits non-zero when anything fails. Needs only node, npm (registry) and chromium:
# no browser is ever downloaded.
set -Eeuo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$HERE/../.." && pwd -P)
export CK_CLI=${CK_CLI:-$REPO/build/cloudkeep}
case $CK_CLI in /*) ;; *) CK_CLI=$REPO/$CK_CLI ;; esac
CHROMIUM=${CK_CHROMIUM:-/usr/bin/chromium}

die() { echo "browser tests: $*" >&2; exit 1; }
command -v node >/dev/null 2>&1 || die "node is missing; run scripts/install-deps.sh"
command -v npm >/dev/null 2>&1 || die "npm is missing; run scripts/install-deps.sh"
(($(node -p 'process.versions.node.split(".")[0]') >= 20)) || die "playwright-core needs Node.js >= 20, found $(node --version)"
[ -x "$CHROMIUM" ] || die "$CHROMIUM is missing; install Debian's chromium (apt-get install chromium, see scripts/install-deps.sh)"
[ -x "$CK_CLI" ] || die "cloudkeep binary not found at $CK_CLI; build it or set CK_CLI"

# npm ci when node_modules is missing or older than the lock file.
cd -- "$HERE"
stamp=node_modules/.package-lock.json
if [ ! -f node_modules/playwright-core/package.json ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "browser tests: npm ci in $HERE" >&2
  exec 8>"${TMPDIR:-/tmp}/cloudkeep-browser-npm-ci.lock"
  flock -w 600 8 || die "timed out waiting for another npm ci"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2 || die "npm ci failed"
  exec 8>&-
fi

flags=()
# web/*.js are ES modules without a package.json beside them: Node >= 20.19
# detects that by itself, older Node 20/21 needs the flag.
if node --experimental-detect-module -e 0 >/dev/null 2>&1; then flags+=(--experimental-detect-module); fi

if [ $# -gt 0 ]; then
  files=("$@")
else
  files=(unit/format.test.mjs dashboard.test.mjs)
fi
mkdir -p artifacts
t0=$SECONDS
rc=0
node "${flags[@]}" --test --test-reporter=spec "${files[@]}" || rc=$?
echo "browser tests: $([ $rc = 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s (screenshots in $HERE/artifacts)" >&2
exit $rc
