/*
** demo_pool.c: the connection pool of the demo's simulated results
** database -- what prometheus-integration-plan.md's INSA-Database
** dashboard shows (connection pool, query durations, operations/s).
**
** The writers insert results and the orchestrator updates the task table,
** each operation on one of `max` connections. A connection is opened the
** first time none is idle and the pool is not full, and kept (idle) after
** use; an operation that finds every connection lent out waits on a
** condition variable until one comes back. So the pool's gauges move as a
** real pool's do: idle connections between bursts, all active and waits
** when writers and the orchestrator meet.
**
** THREADS: the counts live under d->pool.lock; the gauges are set under it
** too, so they never show a state that did not exist. The simulated work
** itself runs outside the lock.
*/
#include "demo.h"

void demo_pool_init(demo *d, unsigned max)
{
    pthread_mutex_init(&d->pool.lock, NULL);
    pthread_cond_init(&d->pool.freed, NULL);
    d->pool.active = d->pool.idle = 0;
    d->pool.max = max ? max : 1;
    am_worker_db_pool(d->worker, "results_db", 0, 0, d->pool.max);
}

void demo_pool_free(demo *d)
{
    pthread_cond_destroy(&d->pool.freed);
    pthread_mutex_destroy(&d->pool.lock);
}

void demo_db_op(demo *d, const char *operation, const char *table, double typical)
{
    struct demo_pool *p = &d->pool;
    double t0 = demo_now();
    pthread_mutex_lock(&p->lock);
    while (!p->idle && p->active >= p->max)
        pthread_cond_wait(&p->freed, &p->lock);
    if (p->idle)
        p->idle--;
    p->active++;
    am_worker_db_pool(d->worker, "results_db", p->active, p->idle, p->max);
    pthread_mutex_unlock(&p->lock);
    am_worker_db_wait(d->worker, "results_db", demo_now() - t0);

    double t = demo_latency(typical);
    demo_work(t);
    am_worker_db_op(d->worker, operation, table, t);

    pthread_mutex_lock(&p->lock);
    p->active--;
    p->idle++;
    am_worker_db_pool(d->worker, "results_db", p->active, p->idle, p->max);
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}
