/*
** series.c: the label values, counter values and random numbers the
** figures use, defined once so every group (and peer_python.py, which
** repeats these formulas) measures the same shapes.
**
** Labels look like an agent system's: agent="planner:17", priority="5".
** Ten roles, ids counting up, ten priorities; series i is role i % 10,
** priority (i / 10) % 10, id i / 100. Counter values are integers spread
** over 1..1,000,000 (splitmix64 of i), so the encoder formats numbers of
** every length rather than a page of zeros.
*/
#include <stdio.h>

#include "bench.h"

static const char *const ROLES[10] = {"planner", "researcher", "coder",  "reviewer",  "critic",
                                      "tester",  "summarizer", "router", "retriever", "executor"};

void bench_series_labels(uint64_t i, char agent[BENCH_AGENT_MAX], char priority[4])
{
    snprintf(agent, BENCH_AGENT_MAX, "%s:%llu", ROLES[i % 10], (unsigned long long)(i / 100));
    snprintf(priority, 4, "%u", (unsigned)((i / 10) % 10));
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

double bench_series_value(uint64_t i)
{
    return (double)(1 + splitmix64(i) % 1000000u);
}

uint64_t bench_rand(uint64_t *state)
{
    *state = splitmix64(*state);
    return *state;
}
