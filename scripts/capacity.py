#!/usr/bin/env python3
"""capacity.py: docs/SCALE.md's capacity table, computed from am-bench's output.

    build-bench/am-bench > bench.json          # or: make bench > bench.json
    python3 scripts/capacity.py bench.json     # prints the Markdown table

Each tier's figure is what one 2-core node carries (the bench runs on one);
the per-agent load below is an assumption, stated so it can be changed: an
agent doing one task a second sends EVENTS events a second to its collector
(a task, two LLM calls, two messages), exchanges MESSAGES coordinator
messages a second (send, reserve, ack: OPS_PER_MESSAGE operations each),
and exposes SERIES series scraped every SCRAPE_S seconds, which its
collector forwards by remote_write. A tier whose figure is missing from the
input (its server not installed, or an error line) says so.
"""
import json
import sys

EVENTS = 5.0
MESSAGES = 1.0
OPS_PER_MESSAGE = 3.0
SERIES = 200.0
SCRAPE_S = 15.0

# (tier, figure, what it counts, per-agent load in that unit)
TIERS = [
    ("collector: HTTP ingest into SQLite", "serve_http_sqlite_events_per_s",
     "events/s (8 clients x 500 events, 200 after commit)", EVENTS),
    ("collector: HTTP ingest, one event a request", "serve_http_sqlite_single_events_per_s_wrk",
     "events/s (wrk, 64 keep-alive connections, 200 after commit)", EVENTS),
    ("collector: HTTP ingest into PostgreSQL", "serve_http_pg_events_per_s",
     "events/s", EVENTS),
    ("collector's writer into PostgreSQL", "store_pg_records_per_s",
     "records/s (acknowledged)", EVENTS),
    ("one PostgreSQL backend, bare COPY", "store_pg_bare_copy_records_per_s",
     "records/s (the server's own bound per connection)", EVENTS),
    ("remote_write to VictoriaMetrics", "rw_vm_samples_per_s",
     "samples/s", SERIES / SCRAPE_S),
    ("coordinator on one redis-server", "coord_redis_ops_per_s",
     "operations/s", MESSAGES * OPS_PER_MESSAGE),
    ("coordinator on Redis Cluster 3+3 (one node's cores)", "coord_cluster_ops_per_s",
     "operations/s (WAIT 1 for a replica)", MESSAGES * OPS_PER_MESSAGE),
]

SNAPSHOTS = [
    ("coord_redis_snapshot_10k_agents_ms", "one redis-server"),
    ("coord_redis_snapshot_100k_agents_ms", "one redis-server, 100,000 agents"),
    ("coord_cluster_snapshot_10k_agents_ms", "Redis Cluster 3+3"),
]


def read(path):
    figs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if isinstance(o.get("value"), (int, float)):
                figs[o["bench"]] = o
    return figs


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: capacity.py AM_BENCH_OUTPUT\n")
        return 2
    try:
        figs = read(argv[1])
    except OSError as e:
        sys.stderr.write("capacity.py: %s\n" % e)
        return 1
    print("Assumed per agent: %g events/s, %g coordinator message/s (%g operations), "
          "%g series scraped every %g s (%.1f samples/s)."
          % (EVENTS, MESSAGES, MESSAGES * OPS_PER_MESSAGE, SERIES, SCRAPE_S, SERIES / SCRAPE_S))
    print()
    print("| tier | figure | measured | agents one node carries |")
    print("|---|---|---|---|")
    least = None
    for tier, name, unit, per_agent in TIERS:
        o = figs.get(name)
        if not o:
            print("| %s | `%s` | not measured in this run | -- |" % (tier, name))
            continue
        agents = o["value"] / per_agent
        print("| %s | `%s` | %s %s | %s |"
              % (tier, name, "{:,.0f}".format(o["value"]), unit, "{:,.0f}".format(agents)))
        if name.startswith(("serve_http_sqlite_events", "rw_", "coord_redis")) and \
                (least is None or agents < least[1]):
            least = (tier, agents)
    for name, what in SNAPSHOTS:
        o = figs.get(name)
        if o:
            print("| coordinator snapshot, %s | `%s` | %.1f ms | -- |" % (what, name, o["value"]))
    if least:
        print()
        print("On one node running a collector (SQLite) and one redis-server, the first "
              "to saturate is %s, at about %s agents." % (least[0], "{:,.0f}".format(least[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
