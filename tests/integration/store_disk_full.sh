#!/bin/sh
# store_disk_full.sh: `agentmon serve` on a file system that fills up
# (issue 10 item 7): the ingest answers 503 (not 200, not a crash), the
# collector logs once that the store cannot write, and once space is freed
# it writes again by itself and says so. The file system is a small tmpfs
# mounted here (needs root, as CI runs; skipped otherwise).
#
#   sh tests/integration/store_disk_full.sh [BUILDDIR]      (from the repo root)
set -u
BUILD=${1:-build}
command -v curl >/dev/null 2>&1 || { echo "store_disk_full: SKIP: curl missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { echo "store_disk_full: FAIL: build"; exit 1; }
fi
AGENTMON=$(cd "$BUILD" && pwd)/agentmon
TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-full.XXXXXX") || exit 1
mkdir -p "$TMP/fs"
if ! mount -t tmpfs -o size=6m tmpfs "$TMP/fs" 2>/dev/null; then
    rmdir "$TMP/fs"; rm -rf "$TMP"
    echo "store_disk_full: SKIP: cannot mount a tmpfs here (not root?)"
    exit 0
fi
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    umount "$TMP/fs" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
fail() { echo "store_disk_full: FAIL: $*"; tail -5 "$TMP/out"; exit 1; }

"$AGENTMON" serve --listen 127.0.0.1:0 --statsd off --system-interval 0 \
    --store "sqlite:$TMP/fs/a.db" >"$TMP/out" 2>&1 &
PID=$!
i=0
until PORT=$(grep -o 'HTTP on 127.0.0.1:[0-9]*' "$TMP/out" | cut -d: -f2) && [ -n "$PORT" ]; do
    i=$((i + 1)); [ $i -gt 100 ] && fail "no start"; sleep 0.1
done
U=http://127.0.0.1:$PORT/api/v1/events
# a batch of 200 events with long texts: fills the file system quickly
/usr/bin/python3 -c '
import json
print(json.dumps([{"event":"task","agent_id":"a","status":"failure","duration":1,
                   "error_type":"x"*2000} for _ in range(200)]))' >"$TMP/batch.json"
post() { curl -s -o "$TMP/answer" -w '%{http_code}' -X POST --data-binary @"$TMP/batch.json" "$U"; }

# leave ~2.5 MB free, then post until the store cannot write
head -c 3500000 /dev/zero >"$TMP/fs/filler" 2>/dev/null
code=200
n=0
while [ "$code" = 200 ] && [ $n -lt 40 ]; do
    code=$(post)
    n=$((n + 1))
done
[ "$code" = 503 ] || fail "posts kept getting $code with the disk full"
grep -q 'full' "$TMP/answer" || fail "the 503 does not say the disk is full: $(cat "$TMP/answer")"
grep -q '"the store cannot write' "$TMP/out" || fail "the outage was not logged"
[ "$(grep -c '"the store cannot write' "$TMP/out")" -le 2 ] || fail "the outage is logged over and over"
kill -0 "$PID" || fail "serve died with the disk full"

# space comes back: the writer recovers by itself
rm -f "$TMP/fs/filler"
i=0
until [ "$(post)" = 200 ]; do
    i=$((i + 1)); [ $i -gt 30 ] && fail "still failing after space was freed"; sleep 0.5
done
grep -q '"the store writes again"' "$TMP/out" || fail "the recovery was not logged"
echo "store_disk_full: ok (full after $n batches, recovered after $i tries)"
