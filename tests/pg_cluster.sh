#!/bin/sh
# pg_cluster.sh: a throwaway PostgreSQL cluster on 127.0.0.1, for tests and
# the benchmark -- Debian's binaries (/usr/lib/postgresql/<v>/bin), initdb
# into DIR, a free port, trust authentication, the socket in DIR too.
# pg_ctlcluster is not used: it manages the system's clusters. As root,
# the server runs as the postgres user (runuser), as PostgreSQL requires.
#
#   sh tests/pg_cluster.sh start DIR    prints the URI: postgres://postgres@127.0.0.1:PORT/postgres
#   sh tests/pg_cluster.sh stop DIR     stops it (immediate) and removes DIR
#
# Exit 77 (and a line saying why on stderr) when PostgreSQL is not
# installed; 1 when it cannot start (its log on stderr).
set -u
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg_cluster.sh start|stop DIR" >&2; exit 2; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "pg_cluster: no PostgreSQL binaries (apt-get install postgresql)" >&2
        exit 77
    fi
    mkdir -p "$dir" || exit 1
    chmod 755 "$dir"
    # the postgres user must get through the parent (mktemp makes it 0700)
    chmod o+x "$(dirname "$dir")"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    # --no-sync: a throwaway cluster's first files need no fsync
    if ! as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
        >"$dir/initdb.log" 2>&1; then
        tail -20 "$dir/initdb.log" >&2
        exit 1
    fi
    # fsync on (the default): the durability tests must mean it
    if ! as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" \
        start >/dev/null 2>&1; then
        tail -20 "$dir/log" >&2
        exit 1
    fi
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    if [ -d "$dir/data" ] && [ -n "$bin" ]; then
        as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$dir"
    ;;
*)
    echo "pg_cluster.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
