#!/bin/sh
# logs.sh: JSON log lines from many threads, read by Python's json module.
#
#   sh tests/integration/logs.sh [BUILDDIR]        (from the repo root)
#
# log_writer (tests/integration/log_writer.c) writes hostile lines from
# several threads; then:
#   - the plain check the issue names: every line of its output goes
#     through  /usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'
#   - a strict check of each run (check_log below): the output is UTF-8;
#     every line is one JSON object with no duplicate key and no NaN or
#     Infinity; it starts timestamp (RFC 3339 UTC, milliseconds), level,
#     component, message; trace_id/span_id are there exactly for the
#     threads that set a context; each thread's lines come complete and in
#     order (so none was torn or interleaved); the hostile text decodes to
#     its bytes with one U+FFFD per invalid byte; a key that collides with
#     "level" comes out as "_level"; debug lines appear only at debug.
# Runs: stdout to a file, stdout through a pipe, a file appended to by two
# processes at once, AGENTMON_LOG_LEVEL=debug/error/bogus, and a reader
# that goes away (the writer must see errors, not die of SIGPIPE).
#
# Skips (exit 0, saying so) when /usr/bin/python3 is missing.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case $B in
/*) ;;
*) B=$ROOT/$B ;;
esac
PY=/usr/bin/python3
W=$B/tests/log_writer
THREADS=${AM_LOGS_THREADS:-8}
LINES=${AM_LOGS_LINES:-3000}

say() { printf 'logs: %s\n' "$*"; }

if [ ! -x "$PY" ]; then
    say "SKIP: $PY is not installed"
    exit 0
fi
if [ -f "$B/CMakeCache.txt" ]; then
    log=${TMPDIR:-/tmp}/am-logs-build.$$
    if ! cmake --build "$B" --target log_writer >"$log" 2>&1; then
        tail -30 "$log"
        rm -f "$log"
        say "FAIL: building log_writer in $B failed"
        exit 1
    fi
    rm -f "$log"
fi
if [ ! -x "$W" ]; then
    say "FAIL: $W is missing; build first (cmake -S . -B build && cmake --build build)"
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-logs.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

fail() {
    say "FAIL $1"
    [ -n "${2:-}" ] && [ -s "$2" ] && head -c 3000 "$2" | sed 's/^/    /'
    exit 1
}

# check_log FILE LEVEL PROCESSES THREADS LINES: the strict check (LEVEL: debug
# or info; PROCESSES x THREADS streams of LINES lines).
check_log() {
    "$PY" - "$@" <<'EOF'
import codecs, json, re, sys

path, level, procs, threads, lines = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5])
codecs.register_error("perbyte", lambda e: ("\ufffd", e.start + 1))
TS = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
HEX32 = re.compile(r"\A[0-9a-f]{32}\Z")
HEX16 = re.compile(r"\A[0-9a-f]{16}\Z")
RANK = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
floor = {"debug": 10, "info": 20}[level]


def no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key in %r" % keys)
    return dict(pairs)


def no_constants(name):
    raise ValueError("not JSON: %s" % name)


def perbyte(hexstr):
    return bytes.fromhex(hexstr).decode("utf-8", "perbyte")


data = open(path, "rb").read()
text = data.decode("utf-8")  # strict: the whole output is UTF-8
if not text.endswith("\n"):
    sys.exit("output does not end with a newline")
expect = {}   # (pid-ish key, thread) -> next seq
debug_lines = 0
n = 0
for n, line in enumerate(text[:-1].split("\n"), 1):
    try:
        o = json.loads(line, object_pairs_hook=no_dups, parse_constant=no_constants)
    except ValueError as e:
        sys.exit("line %d: %s: %.300r" % (n, e, line))
    where = "line %d (%.200r)" % (n, line)
    keys = list(o)
    if keys[:4] != ["timestamp", "level", "component", "message"]:
        sys.exit("%s: first keys are %r" % (where, keys[:4]))
    if not TS.match(o["timestamp"]):
        sys.exit("%s: timestamp %r" % (where, o["timestamp"]))
    if o["level"] not in RANK or RANK[o["level"]] < floor:
        sys.exit("%s: level %r at %s" % (where, o["level"], level))
    t = o["thread"]
    if t % 2 == 0:
        if not (HEX32.match(o.get("trace_id", "")) and HEX16.match(o.get("span_id", ""))):
            sys.exit("%s: thread %d has a context but no trace ids" % (where, t))
    elif "trace_id" in o or "span_id" in o:
        sys.exit("%s: thread %d has no context but trace ids" % (where, t))
    if o.get("dbg"):
        debug_lines += 1
        continue
    if "h_hex" in o and o["h"] != perbyte(o["h_hex"]):
        sys.exit("%s: h decodes to %r, expected %r" % (where, o["h"], perbyte(o["h_hex"])))
    if "m_hex" in o and o["message"] != perbyte(o["m_hex"]):
        sys.exit("%s: message %r, expected %r" % (where, o["message"], perbyte(o["m_hex"])))
    if o["level"] == "ERROR" and o.get("error_type") != "HostileError":
        sys.exit("%s: error fields" % where)
    if o["level"] == "INFO" and o.get("_level") != "shadow":
        sys.exit("%s: the colliding key is not _level" % where)
    key = (o["pid"], t)
    expect.setdefault(key, 0)
    seq = o["seq"]
    if seq != expect[key]:
        sys.exit("%s: thread %d seq %d, expected %d (torn or interleaved?)"
                 % (where, t, seq, expect[key]))
    expect[key] += 1
want_streams = threads * procs
done = [k for k, v in expect.items() if v == lines]
if len(expect) != want_streams or len(done) != want_streams:
    sys.exit("expected %d complete thread streams of %d lines, got %r"
             % (want_streams, lines, sorted(expect.values())))
want_debug = want_streams * ((lines + 6) // 7) if level == "debug" else 0
if debug_lines != want_debug:
    sys.exit("%d debug lines, expected %d" % (debug_lines, want_debug))
print("%d lines ok" % n)
EOF
}

# 1. The issue's plain check, through a pipe.
if ! "$W" "$THREADS" "$LINES" 2>"$TMP/err" |
    "$PY" -c 'import json,sys; [json.loads(l) for l in sys.stdin]' 2>"$TMP/py"; then
    fail "python's json.loads refused a line" "$TMP/py"
fi
say "json.loads read every line of $THREADS threads x $LINES lines"

# 2. stdout to a file, strictly.
unset AGENTMON_LOG_LEVEL
"$W" "$THREADS" "$LINES" >"$TMP/out1" 2>"$TMP/err" || fail "log_writer (stdout to a file)" "$TMP/err"
check_log "$TMP/out1" info 1 "$THREADS" "$LINES" >"$TMP/check" 2>&1 || fail "stdout to a file" "$TMP/check"
say "stdout to a file: $(cat "$TMP/check")"

# 3. stdout through a pipe, at debug.
AGENTMON_LOG_LEVEL=DeBuG "$W" "$THREADS" "$LINES" 2>"$TMP/err" | cat >"$TMP/out2"
[ -s "$TMP/err" ] && fail "log_writer wrote to stderr at debug" "$TMP/err"
check_log "$TMP/out2" debug 1 "$THREADS" "$LINES" >"$TMP/check" 2>&1 || fail "stdout through a pipe" "$TMP/check"
say "stdout through a pipe, AGENTMON_LOG_LEVEL=DeBuG: $(cat "$TMP/check")"

# 4. Two processes appending to one file.
"$W" "$THREADS" "$LINES" "$TMP/app.log" 2>"$TMP/err1" &
p1=$!
"$W" "$THREADS" "$LINES" "$TMP/app.log" 2>"$TMP/err2" &
p2=$!
wait $p1 || fail "log_writer 1 (file)" "$TMP/err1"
wait $p2 || fail "log_writer 2 (file)" "$TMP/err2"
check_log "$TMP/app.log" info 2 "$THREADS" "$LINES" >"$TMP/check" 2>&1 || fail "two processes, one file" "$TMP/check"
say "two processes appending to one file: $(cat "$TMP/check")"

# 5. AGENTMON_LOG_LEVEL=error filters; a bogus value is reported, info used.
AGENTMON_LOG_LEVEL=error "$W" 4 500 >"$TMP/out3" 2>"$TMP/err" || fail "log_writer (error)" "$TMP/err"
"$PY" - "$TMP/out3" <<'EOF' >"$TMP/check" 2>&1 || fail "AGENTMON_LOG_LEVEL=error" "$TMP/check"
import json, sys
levels = {json.loads(l)["level"] for l in open(sys.argv[1])}
if not levels or levels - {"ERROR", "CRITICAL"}:
    sys.exit("levels at error: %r" % sorted(levels))
EOF
AGENTMON_LOG_LEVEL=bogus "$W" 4 500 >"$TMP/out4" 2>"$TMP/err" || fail "log_writer (bogus)" "$TMP/err"
grep -q 'env_error: AGENTMON_LOG_LEVEL="bogus" is not a level' "$TMP/err" ||
    fail "a bogus AGENTMON_LOG_LEVEL was not reported" "$TMP/err"
check_log "$TMP/out4" info 1 4 500 >"$TMP/check" 2>&1 || fail "AGENTMON_LOG_LEVEL=bogus" "$TMP/check"
say "AGENTMON_LOG_LEVEL=error filters; =bogus is reported and info is used"

# 6. The reader goes away: errors, not SIGPIPE (exit 141).
("$W" 2 200000 2>"$TMP/err"; echo $? >"$TMP/rc") | head -n 1 >/dev/null
rc=$(cat "$TMP/rc")
if [ "$rc" != 3 ]; then
    fail "with the reader gone log_writer exited $rc (141 = killed by SIGPIPE), expected 3" "$TMP/err"
fi
grep -q '^failed: ' "$TMP/err" || fail "log_writer did not see the failed writes" "$TMP/err"
say "reader gone: writes fail with an error, the process lives ($(cat "$TMP/err"))"
say "PASS"
