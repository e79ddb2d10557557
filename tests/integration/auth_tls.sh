#!/bin/sh
# auth_tls.sh: `agentmon serve` and `agentmon demo` with TLS and separate
# read and write credentials (issue 10 item 6), checked with curl:
#   - who may read and who may write, for each way of configuring them
#     (read and write tokens, Basic, write only, read only);
#   - HTTPS with a certificate made here by openssl; plain HTTP is refused;
#   - an empty secret file is refused at start, naming the option;
#   - listening beyond loopback with nothing configured warns.
# Loopback only (the "beyond loopback" run binds 0.0.0.0 and is only asked
# on 127.0.0.1).
#
#   sh tests/integration/auth_tls.sh [BUILDDIR]      (from the repo root)
set -u
BUILD=${1:-build}
command -v curl >/dev/null 2>&1 || { echo "auth_tls: SKIP: curl missing"; exit 0; }
command -v openssl >/dev/null 2>&1 || { echo "auth_tls: SKIP: openssl missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { echo "auth_tls: FAIL: build"; exit 1; }
fi
AGENTMON=$(cd "$BUILD" && pwd)/agentmon
TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-auth.XXXXXX") || exit 1
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
fail() { echo "auth_tls: FAIL: $*"; [ -f "$TMP/out" ] && tail -5 "$TMP/out"; exit 1; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
    >/dev/null 2>&1 || fail "openssl could not make a certificate"
printf 'r3ad-t0ken\n' >"$TMP/read"
printf 'wr1te-t0ken\n' >"$TMP/write"
printf 's3cret\n' >"$TMP/pw"
: >"$TMP/empty"
EVENT='{"event":"task","agent_id":"a","status":"success","duration":1}'

# start WHAT ARGS...: run it on a free port; sets PORT and PID
start() {
    what=$1
    shift
    rm -rf "$TMP/data"
    : >"$TMP/out" # not left to the child's redirection (lib.inc says why)
    if [ "$what" = serve ]; then
        "$AGENTMON" serve --statsd off --system-interval 0 --store "sqlite:$TMP/data/a.db" \
            "$@" >"$TMP/out" 2>&1 &
    else
        "$AGENTMON" demo --quiet --log "$TMP/demo.log" "$@" >"$TMP/out" 2>&1 &
    fi
    PID=$!
    i=0
    until PORT=$(grep -oE '(HTTPS? on |metrics at https?://)[0-9.]+:[0-9]+' "$TMP/out" |
        grep -oE '[0-9]+$') && [ -n "$PORT" ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && fail "$what did not start: $*"
        sleep 0.1
    done
}
stop() { kill "$PID" && wait "$PID" 2>/dev/null; PID=; }

# expect CODE METHOD URL [curl args...]
expect() {
    want=$1 method=$2 url=$3
    shift 3
    got=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" --cacert "$TMP/cert.pem" "$@" "$url")
    [ "$got" = "$want" ] || fail "$method $url $*: $got, expected $want"
}

R="Authorization: Bearer r3ad-t0ken"
W="Authorization: Bearer wr1te-t0ken"

# 1. read and write tokens, over TLS
start serve --listen 127.0.0.1:0 --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
    --read-token-file "$TMP/read" --write-token-file "$TMP/write"
grep -q 'HTTPS on' "$TMP/out" || fail "serve does not say it serves HTTPS"
U=https://127.0.0.1:$PORT
expect 401 GET "$U/metrics"
expect 200 GET "$U/metrics" -H "$R"
expect 200 GET "$U/metrics" -H "$W"
expect 401 GET "$U/metrics" -H "Authorization: Bearer r3ad-t0ke"
expect 401 GET "$U/metrics" -H "Authorization: Bearer "
expect 200 GET "$U/api/v1/metrics/task?limit=1" -H "$R"
expect 401 GET "$U/api/v1/metrics/task?limit=1"
expect 401 POST "$U/api/v1/events" -d "$EVENT"
expect 401 POST "$U/api/v1/events" -d "$EVENT" -H "$R"
expect 200 POST "$U/api/v1/events" -d "$EVENT" -H "$W"
curl -s -o /dev/null "http://127.0.0.1:$PORT/metrics" && fail "plain HTTP was answered on the TLS port"
stop

# 2. Basic for reads, a token for writes
start serve --listen 127.0.0.1:0 --read-user prom --read-password-file "$TMP/pw" \
    --write-token-file "$TMP/write"
U=http://127.0.0.1:$PORT
expect 200 GET "$U/metrics" -u prom:s3cret
expect 401 GET "$U/metrics" -u prom:wrong
expect 401 GET "$U/metrics" -u other:s3cret
expect 401 POST "$U/api/v1/events" -d "$EVENT" -u prom:s3cret
expect 200 POST "$U/api/v1/events" -d "$EVENT" -H "$W"
stop

# 3. write credentials only: Prometheus scrapes without a secret
start serve --listen 127.0.0.1:0 --write-token-file "$TMP/write"
U=http://127.0.0.1:$PORT
expect 200 GET "$U/metrics"
expect 401 POST "$U/api/v1/events" -d "$EVENT"
expect 200 POST "$U/api/v1/events" -d "$EVENT" -H "$W"
stop

# 4. read credentials only: they guard everything
start serve --listen 127.0.0.1:0 --read-token-file "$TMP/read"
U=http://127.0.0.1:$PORT
expect 401 GET "$U/metrics"
expect 401 POST "$U/api/v1/events" -d "$EVENT"
expect 200 POST "$U/api/v1/events" -d "$EVENT" -H "$R"
stop

# 5. the demo: the same options
start demo --listen 127.0.0.1:0 --read-token-file "$TMP/read" --tls-cert "$TMP/cert.pem" \
    --tls-key "$TMP/key.pem"
U=https://127.0.0.1:$PORT
expect 401 GET "$U/metrics"
expect 200 GET "$U/metrics" -H "$R"
expect 401 GET "$U/coordinator"
expect 200 GET "$U/coordinator" -H "$R"
stop

# 6. refused at start: an empty secret, half a pair
for args in "--write-token-file $TMP/empty" "--read-user prom" \
    "--read-user prom --read-password-file $TMP/empty" "--tls-cert $TMP/cert.pem" \
    "--read-token-file $TMP/missing"; do
    # shellcheck disable=SC2086
    if "$AGENTMON" serve --listen 127.0.0.1:0 --statsd off --store "sqlite:$TMP/x/a.db" $args \
        >"$TMP/out" 2>&1; then
        fail "serve started with $args"
    fi
    grep -qE 'empty|go together|No such file' "$TMP/out" || fail "no reason given for $args"
done
# shellcheck disable=SC2086
"$AGENTMON" demo --duration 1 --quiet --write-token-file "$TMP/empty" >"$TMP/out" 2>&1 &&
    fail "demo started with an empty token file"
grep -q 'empty' "$TMP/out" || fail "demo gave no reason for an empty token file"

# 7. beyond loopback with nothing configured: a warning
start serve --listen 0.0.0.0:0
grep -q 'WARNING: listening beyond loopback with no credentials' "$TMP/out" ||
    fail "no warning when listening on 0.0.0.0 without credentials"
stop
start serve --listen 127.0.0.1:0
grep -q WARNING "$TMP/out" && fail "a warning on loopback"
stop
echo "auth_tls: ok"
