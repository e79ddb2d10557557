/*
** remote_write.h: Prometheus remote_write 1.0 from an agent, for agents
** that push their series instead of being scraped (and, inside
** `agentmon serve`, the collector's remote_write: endpoints).
**
**     am_remote_write_opts o = AM_REMOTE_WRITE_OPTS_INIT;
**     o.url = "http://127.0.0.1:8428/api/v1/write";   VictoriaMetrics, Prometheus ...
**     am_registry *regs[] = {reg};
**     o.registries = regs;                      sampled every interval_s
**     o.n_registries = 1;
**     o.wal_dir = "/var/lib/planner/rw";        optional: spill to disk
**     am_remote_write *rw;
**     if (am_remote_write_new(&o, &rw) != AM_OK)
**         fprintf(stderr, "remote_write: %s\n", am_errmsg());
**     ...
**     am_remote_write_free(rw, 5.0);            sends what it can within 5 s
**
** The wire is remote_write 1.0 as Prometheus sends it: a snappy-compressed
** (block format) protobuf WriteRequest, POSTed with Content-Encoding:
** snappy, Content-Type: application/x-protobuf and
** X-Prometheus-Remote-Write-Version: 0.1.0. Registries are sampled as the
** text exposition names their series (counters <name>_total, histograms
** <name>_bucket{le}/_sum/_count, info <name>_info, statesets one series
** per state), with the sampling time as timestamp.
**
** Delivery, per sender, as Prometheus' queue manager does it: samples are
** appended to a log of segments (in memory; sealed segments are written to
** wal_dir when one is given and read back from there, so memory stays
** bounded while a receiver is down); a dispatcher hands them to shards
** (each series always to the same shard, so a series' samples arrive in
** order), whose number follows the backlog between min_shards and
** max_shards; a shard sends a batch when it holds max_samples_per_send or
** batch_send_deadline_s has passed. 5xx and transport errors are retried
** with exponential backoff (min_backoff_s doubling up to max_backoff_s),
** 429 too unless retry_on_http_429 is 0; any other 4xx drops the batch,
** counted and logged. When the log outgrows wal_max_bytes its oldest
** segment is dropped (counted: result="dropped"). Segments found in
** wal_dir at start are sent first.
**
** The sender's own metrics go into self_registry (when set):
** agentmon_remote_write_samples_total{remote_name,url,result} and the
** others listed in docs/METRICS.md.
**
** Transport: libcurl, one connection per shard (kept alive). Built only
** with AM_WITH_REMOTE_WRITE (features.h: AM_HAVE_REMOTE_WRITE).
*/
#ifndef AGENTMON_REMOTE_WRITE_H
#define AGENTMON_REMOTE_WRITE_H

#include <stdbool.h>

#include "expose.h"
#include "log.h"
#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_remote_write am_remote_write;

/*
** A filter on every sample before it is logged -- Prometheus'
** write_relabel_configs as a function. It gets the sample's pairs[0..*n)
** (__name__ among them) and may rewrite them in place: change names and
** values, drop pairs, add some (up to cap pairs in all); new strings go in
** scratch (scratch_cap bytes, valid until the sample is logged). Return
** false to drop the sample (counted result="dropped"). Called on the
** appending thread (the sampler's, or am_remote_write_append()'s caller),
** possibly on several at once; it must not call back into the sender.
** Since: 0.3
*/
typedef bool (*am_remote_write_relabel_fn)(void *userdata, am_label_pair *pairs, size_t *n,
                                           size_t cap, char *scratch, size_t scratch_cap);

/*
** A sender's options: start from AM_REMOTE_WRITE_OPTS_INIT (Prometheus'
** defaults); a 0 means the default. Strings are copied by
** am_remote_write_new(); registries, self_registry and logger are
** borrowed and must outlive the sender.
*/
typedef struct am_remote_write_opts {
    const char *url;  /* required: http:// or https:// */
    const char *name; /* remote_name label; NULL: derived from the url */
    /* credentials, one kind at most (as Prometheus' basic_auth,
       authorization/bearer_token) */
    const char *basic_user, *basic_password;
    const char *auth_type; /* NULL: "Bearer" */
    const char *auth_credentials;
    /* tls_config (server_name is accepted and not used yet: the TLS name
       checked is the url's host) */
    const char *ca_file, *cert_file, *key_file, *server_name;
    int insecure_skip_verify;
    double remote_timeout_s; /* per request; default 30 */
    /* queue_config */
    unsigned capacity;             /* samples queued per shard; default 2500 */
    unsigned max_shards;           /* default 200 */
    unsigned min_shards;           /* default 1 */
    unsigned max_samples_per_send; /* default 500 */
    double batch_send_deadline_s;  /* default 5 */
    double min_backoff_s;          /* default 0.03 */
    double max_backoff_s;          /* default 5 */
    int retry_on_http_429;         /* 1 (default) retry, -1 drop */
    /* the log */
    const char *wal_dir;    /* NULL: segments stay in memory */
    uint64_t wal_max_bytes; /* default 256 MiB; oldest segment dropped past it */
    /* what is sent besides am_remote_write_append(): these registries,
       every interval_s (default 15 s) */
    am_registry *const *registries;
    size_t n_registries;
    double interval_s;
    am_registry *self_registry;         /* its own metrics; NULL: none */
    am_logger *logger;                  /* NULL: am_log_default() */
    double shard_update_s;              /* how often the shard count is revised; default 10 */
    am_remote_write_relabel_fn relabel; /* NULL: samples are sent as they are */
    void *relabel_userdata;             /* borrowed; passed to relabel */
    void *reserved[6];
} am_remote_write_opts;

/* clang-format off */
#define AM_REMOTE_WRITE_OPTS_INIT {0}
/* clang-format on */

/*
** am_remote_write_new: start a sender (its dispatcher, shards and, with
** registries, its sampler: threads you asked for).
** METHOD: am_remote_write   THREAD-SAFE: yes   Since: 0.3
**
** o     borrowed; see am_remote_write_opts.
** out   owned result, free with am_remote_write_free(); set only on AM_OK.
**
** Returns AM_OK; AM_EINVAL for bad options (no url, a scheme other than
** http(s), min_shards > max_shards, both basic auth and a token ...);
** AM_EIO when wal_dir cannot be created or read; AM_ENOMEM.
*/
AM_EXTERN am_err am_remote_write_new(const am_remote_write_opts *o, am_remote_write **out);

/*
** am_remote_write_append: queue one sample.
** METHOD: am_remote_write   THREAD-SAFE: yes   Since: 0.3
**
** rw      borrowed.
** names, values   borrowed; n label pairs, __name__ among them (copied
**         into the log). Order does not matter: they are sent sorted.
** t_ms    milliseconds since the epoch; v any double (NaN included).
**
** Returns AM_OK; AM_EINVAL for no __name__, an empty or invalid name, a
** duplicate label, more than AM_MAX_LABELS + 1 pairs or a value over
** AM_MAX_LABEL_VALUE bytes (the sample is counted result="invalid").
** Never blocks on the network: a full log drops its oldest segment.
*/
AM_EXTERN am_err am_remote_write_append(am_remote_write *rw, const char *const *names,
                                        const char *const *values, size_t n, int64_t t_ms,
                                        double v);

/*
** am_remote_write_flush: wait until every sample appended so far has been
** sent or dropped, or timeout_s has passed.
** METHOD: am_remote_write   THREAD-SAFE: yes   Since: 0.3
**
** Returns AM_OK when nothing is pending, AM_ETIMEDOUT otherwise.
*/
AM_EXTERN am_err am_remote_write_flush(am_remote_write *rw, double timeout_s);

/*
** am_remote_write_pending: samples appended and not yet sent or dropped.
** METHOD: am_remote_write   THREAD-SAFE: yes   Since: 0.3
*/
AM_EXTERN uint64_t am_remote_write_pending(am_remote_write *rw);

/*
** am_remote_write_free: stop a sender: a last sample of the registries,
** then up to timeout_s to send what is pending; what is left stays in
** wal_dir (sealed segments) for the next start, or is lost without one.
** METHOD: am_remote_write   THREAD-SAFE: no (no other call on rw may run)
** Since: 0.3.  am_remote_write_free(NULL, t) is a no-op.
*/
AM_EXTERN void am_remote_write_free(am_remote_write *rw, double timeout_s);

#ifdef __cplusplus
}
#endif

#endif
