#!/usr/bin/env bash
# Runs the public HTTP cache test suite (npm http-cache-tests, pinned in
# package.json) against caching-proxy and compares with passing.txt.
#
#   bash internal/conformance/run.sh            # from the repo root (make conformance)
#   bash internal/conformance/run.sh TEST_ID    # one test, with requests and responses
#   PROXY_BIN=/path/to/proxy bash .../run.sh    # test another binary, skip go build
#
# Env: PROXY_ARGS (extra flags for start, e.g. --stale-if-error=60s; the baseline is
# measured without), PROXY_BIN, RUN_TIMEOUT (whole suite, seconds, default 600),
#      REQUEST_TIMEOUT_MS (one request, default 30000), STARTUP_TIMEOUT (s, default 20).
# Everything listens on 127.0.0.1 only. Output: results/results.json (raw),
# results/passing.txt, results/{origin,proxy,client}.log.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RESULTS="$HERE/results"
PKG="$HERE/node_modules/http-cache-tests"
RUN_TIMEOUT="${RUN_TIMEOUT:-600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-20}"

log() { echo "conformance: $*" >&2; }

pids=()
cleanup() {
  # Stop only what this script started (the client too, if interrupted).
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
# Make INT/TERM run the EXIT trap (bash skips it on a plain TERM).
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. Suite dependencies: npm ci when node_modules is missing or older than
# package.json / the lock (npm writes node_modules/.package-lock.json last).
cd "$HERE"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ||
      package.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

# 2. The proxy.
if [[ -z "${PROXY_BIN:-}" ]]; then
  log "go build ./cmd/caching-proxy"
  (cd "$ROOT" && go build -o bin/caching-proxy ./cmd/caching-proxy)
  PROXY_BIN="$ROOT/bin/caching-proxy"
fi

rm -rf "$RESULTS"
mkdir -p "$RESULTS"

# 3. Three free loopback ports (held open together so they are distinct).
read -r ORIGIN_PORT PROXY_PORT ADMIN_PORT < <(node -e '
  const net = require("net")
  const servers = [0, 1, 2].map(() => net.createServer())
  Promise.all(servers.map(s => new Promise(r => s.listen(0, "127.0.0.1", r)))).then(() => {
    console.log(servers.map(s => s.address().port).join(" "))
    servers.forEach(s => s.close())
  })')

# wait_for_port PORT PID NAME LOG: until PORT accepts connections, bounded.
wait_for_port() {
  local deadline=$((SECONDS + STARTUP_TIMEOUT))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    if ! kill -0 "$2" 2>/dev/null; then
      log "$3 exited during startup; last lines of $4:"; tail -n 20 "$4" >&2; exit 1
    fi
    if ((SECONDS >= deadline)); then
      log "$3 not listening on 127.0.0.1:$1 after ${STARTUP_TIMEOUT}s; last lines of $4:"; tail -n 20 "$4" >&2; exit 1
    fi
    sleep 0.1
  done
}

# 4. The suite's origin server. Run from the package dir like `npm run server`
# (it serves static files from its cwd); config comes from npm_config_* vars.
(cd "$PKG" && exec env npm_config_protocol=http npm_config_port="$ORIGIN_PORT" \
  npm_config_pidfile="$RESULTS/origin.pid" node "$HERE/origin.mjs") >"$RESULTS/origin.log" 2>&1 &
pids+=($!)
wait_for_port "$ORIGIN_PORT" "$!" origin "$RESULTS/origin.log"

# 5. The proxy in front of it.
"$PROXY_BIN" start --host 127.0.0.1 --port "$PROXY_PORT" --admin-addr "127.0.0.1:$ADMIN_PORT" \
  --origin "http://127.0.0.1:$ORIGIN_PORT" ${PROXY_ARGS:-} >"$RESULTS/proxy.log" 2>&1 &
pids+=($!)
wait_for_port "$PROXY_PORT" "$!" proxy "$RESULTS/proxy.log"

# One test in detail: the suite's own cli with --id dumps the client's
# requests and responses; the origin's view is in origin.log.
if [[ -n "${1:-}" ]]; then
  rc=0
  (cd "$PKG" && npm_config_base="http://127.0.0.1:$PROXY_PORT" npm_config_id="$1" \
    timeout "$RUN_TIMEOUT" node --no-warnings cli.mjs) || rc=$?
  echo "=== origin log"; cat "$RESULTS/origin.log"
  exit "$rc"
fi

# 6. The suite client. In the background + wait, so that INT/TERM interrupt
# the wait and the trap stops it; timeout is the backstop for a stuck run.
log "running the suite against 127.0.0.1:$PROXY_PORT (origin :$ORIGIN_PORT), takes about 15s"
start=$SECONDS
BASE_URL="http://127.0.0.1:$PROXY_PORT" timeout "$RUN_TIMEOUT" node --no-warnings "$HERE/client.mjs" \
  >"$RESULTS/results.raw" 2>"$RESULTS/client.log" &
pids+=($!)
rc=0
wait "$!" || rc=$?
if ((rc == 124)); then
  log "suite did not finish within ${RUN_TIMEOUT}s (RUN_TIMEOUT)"; exit 1
elif ((rc != 0)); then
  log "suite client failed (exit $rc); last lines of client.log:"; tail -n 20 "$RESULTS/client.log" >&2; exit 1
fi
# An empty or non-JSON result is a failed run, never an empty pass.
if ! node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
    if (r === null || typeof r !== "object" || Object.keys(r).length === 0) process.exit(1)' \
    "$RESULTS/results.raw" 2>/dev/null; then
  log "suite client produced no parsable results; see $RESULTS/results.raw and client.log"; exit 1
fi
mv "$RESULTS/results.raw" "$RESULTS/results.json"
log "suite finished in $((SECONDS - start))s"

# 7. Summary and comparison with the baseline decide the exit status.
cleanup
trap - EXIT
node "$HERE/summarize.mjs"
