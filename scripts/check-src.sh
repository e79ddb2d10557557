#!/bin/sh
# check-src.sh: source rules a compiler does not enforce (STYLE rule 13).
#
# - banned C library calls anywhere in src/, bench/, examples/, tests/, bindings/:
#   sprintf strcpy strcat strtok atoi gets sscanf (unbounded or unchecked);
# - raw malloc/calloc/realloc/free in the library (src/util, src/core, src/encode and
#   the other library folders) outside src/util/alloc.c, so every allocation
#   goes through am_set_allocator() and the fault-injection test sees it;
# - every public declaration (AM_EXTERN in include/agentmon/) under a
#   contract block saying `Since: 0.x` (STYLE rule 15): the nearest comment
#   above it, shared by the declarations that follow it without a blank line;
# - the agentmon program (src/cli, src/serve, src/alert, src/web) includes
#   only the public headers (agentmon/*.h), src/util/ and its own folders,
#   never the library's internals, and never sets the library's allocator:
#   it links libagentmon.so as well as the static library (issue 11);
# - every C file as .clang-format lays it out (but the code protoc-c
#   generated), when clang-format is installed.
# Prints each offending line and exits 1 if there is one.
set -u
cd "$(dirname "$0")/.."
rc=0
banned='(^|[^_a-zA-Z0-9])(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets|sscanf)[[:space:]]*\('
if grep -rnE "$banned" src bench examples tests bindings --include='*.c' --include='*.h' |
    grep -vE '(snprintf|vsnprintf)'; then
    echo "check-src: banned function (use snprintf, memcpy with lengths, strtol)" >&2
    rc=1
fi
raw='(^|[^_a-zA-Z0-9.>])(malloc|calloc|realloc|free)[[:space:]]*\('
libdirs=$(ls -d src/*/ | grep -v 'src/cli/')
if grep -rnE "$raw" $libdirs --include='*.c' --include='*.h' | grep -v '^src/util/alloc.c:'; then
    echo "check-src: raw allocation in the library (use am__malloc & co. from alloc.h)" >&2
    rc=1
fi
# A declaration's contract block: walk up over the declarations grouped with
# it to the first comment; a blank line first means it has none.
if ! awk '
FNR == 1 { n = 0 }
{ line[++n] = $0 }
/^AM_EXTERN/ {
    ok = 0; found = 0
    for (j = n - 1; j > 0 && line[j] !~ /^[[:space:]]*$/; j--) {
        if (line[j] ~ /\*\/[[:space:]]*$/) {
            found = 1
            for (k = j; k > 0; k--) {
                if (line[k] ~ /Since: [0-9]+\.[0-9]+/) ok = 1
                if (line[k] ~ /^[[:space:]]*\/\*/) break
            }
            break
        }
    }
    if (!ok) {
        printf "%s:%d: %s\n", FILENAME, n, found ? "contract block without Since: 0.x" : "no contract block"
        bad = 1
    }
}
END { exit bad }' include/agentmon/*.h; then
    echo "check-src: a public declaration lacks its contract block's Since: (STYLE rule 15)" >&2
    rc=1
fi
# The program's includes: resolve each "..." include against its file's
# folder; it must land in src/util/ or a folder of the program.
prog_bad=$(grep -rnE '^#[[:space:]]*include[[:space:]]+"' src/cli src/serve src/alert src/web \
    --include='*.c' --include='*.h' | while IFS=: read -r f n inc; do
    p=${inc#*\"}
    p=${p%%\"*}
    case $p in agentmon/*) continue ;; esac
    r=$(realpath -m --relative-to=. "$(dirname "$f")/$p")
    case $r in
    src/util/* | src/cli/* | src/serve/* | src/alert/* | src/web/*) ;;
    *) echo "$f:$n: $inc" ;;
    esac
done)
if [ -n "$prog_bad" ]; then
    echo "$prog_bad"
    echo "check-src: the program includes a library-internal header (use include/agentmon/ or src/util/)" >&2
    rc=1
fi
if grep -rn 'am_set_allocator' src/cli src/serve src/alert src/web --include='*.c' --include='*.h'; then
    echo "check-src: the program must not set the library's allocator (see src/core/common.c)" >&2
    rc=1
fi
if command -v clang-format >/dev/null 2>&1; then
    unformatted=$(git ls-files '*.c' '*.h' | grep -v '\.pb-c\.' |
        xargs clang-format --dry-run 2>&1 | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: warning:.*/\1/p' |
        sort -u)
    if [ -n "$unformatted" ]; then
        echo "$unformatted"
        echo "check-src: not as .clang-format lays it out (clang-format -i FILE)" >&2
        rc=1
    fi
fi
[ $rc -eq 0 ] && echo "check-src: ok"
exit $rc
