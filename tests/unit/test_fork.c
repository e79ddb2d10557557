/*
** test_fork.c: fork() while other threads hold the metrics core's locks
** (core/fork.c). Threads that are born, write their first cells and exit
** (the cells' lock), a thread that makes and removes series (a family's
** lock, the cells' allocator, the reclaimer) and one that encodes (the
** registry's and families' locks, the kept exposition block) run while
** the main thread forks; each child makes a family and series of its own,
** encodes the shared registry and checks what it sees. A child that found
** a lock held for ever is stopped by its alarm and fails the test. Without
** the gate, children hang within the first few dozen forks.
*/
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define FORKS 100

typedef struct shared {
    am_registry *r;
    am_counter *work;
    _Atomic bool stop;
} shared;

static void *first_write(void *arg)
{
    shared *s = arg;
    am_counter *c;
    if (am_counter_with(s->work, AM_LABELS("short-lived"), &c) == AM_OK)
        am_counter_inc(c);
    return NULL;
}

/* Threads born and gone: a cells block made, written, folded at exit. */
static void *churn(void *arg)
{
    shared *s = arg;
    while (!atomic_load(&s->stop)) {
        pthread_t t;
        if (pthread_create(&t, NULL, first_write, s) == 0)
            pthread_join(t, NULL);
    }
    return NULL;
}

static void *maker(void *arg)
{
    shared *s = arg;
    for (unsigned k = 0; !atomic_load(&s->stop); k++) {
        char v[32];
        snprintf(v, sizeof v, "made-%u", k % 512);
        am_counter *c;
        if (am_counter_with(s->work, AM_LABELS(v), &c) == AM_OK)
            am_counter_inc(c);
        if (k % 3 == 0)
            am_counter_remove(s->work, AM_LABELS(v));
    }
    return NULL;
}

static void *encoder(void *arg)
{
    shared *s = arg;
    while (!atomic_load(&s->stop)) {
        char *text;
        size_t len;
        if (am_encode(&s->r, 1, AM_FORMAT_PROMETHEUS, &text, &len) == AM_OK)
            am_free(text);
    }
    return NULL;
}

/* What a child does: everything that takes a core lock, then exit 0. */
static int child_work(shared *s)
{
    alarm(20); /* a lock held for ever ends here, killed by SIGALRM */
    am_metric_opts o = {.name = "child_made",
                        .help = "Made in the child.",
                        .label_names = (const char *[]){"i"},
                        .n_labels = 1};
    am_counter *mine, *c;
    if (am_counter_new(s->r, &o, &mine))
        return 1;
    for (int i = 0; i < 50; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        if (am_counter_with(mine, AM_LABELS(v), &c))
            return 2;
        am_counter_inc(c);
    }
    if (am_counter_with(s->work, AM_LABELS("in-child"), &c))
        return 3;
    am_counter_inc(c);
    char *text;
    size_t len;
    if (am_encode(&s->r, 1, AM_FORMAT_PROMETHEUS, &text, &len))
        return 4;
    int rc = strstr(text, "child_made_total{i=\"49\"} 1\n") &&
                     strstr(text, "work_total{k=\"in-child\"} 1\n")
                 ? 0
                 : 5;
    am_free(text);
    return rc;
}

static void test_fork_while_threads_hold_core_locks(void **state)
{
    (void)state;
    shared s = {0};
    AM_ASSERT_OK(am_registry_new(&s.r));
    am_metric_opts o = {.name = "work",
                        .help = "Work.",
                        .label_names = (const char *[]){"k"},
                        .n_labels = 1,
                        .max_children = 100000};
    AM_ASSERT_OK(am_counter_new(s.r, &o, &s.work));
    for (int i = 0; i < 5000; i++) { /* an encode long enough to be cut */
        char v[16];
        am_counter *c;
        snprintf(v, sizeof v, "k%d", i);
        AM_ASSERT_OK(am_counter_with(s.work, AM_LABELS(v), &c));
        am_counter_add(c, i);
    }
    atomic_init(&s.stop, false);
    void *(*fns[])(void *) = {churn, churn, maker, encoder};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, fns[i], &s), 0);
    int failed = 0, status = 0;
    for (int n = 0; n < FORKS && !failed; n++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(child_work(&s));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = n + 1;
    }
    atomic_store(&s.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    if (failed)
        fail_msg("fork %d: the child %s %d", failed,
                 WIFSIGNALED(status) ? "was killed by signal" : "exited with",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    am_registry_free(s.r);
}

/* Forking inside a section breaks the rule (common.h), but must not hang
   the parent, and the child's gate still counts the section it is in. */
static void test_fork_inside_a_section(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_fork_enter();
    am_fork_enter();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        am_fork_leave();
        am_fork_leave();
        am_metric_opts o = {.name = "after", .help = "After."};
        am_counter *c;
        _exit(am_counter_new(r, &o, &c) == AM_OK ? 0 : 1);
    }
    am_fork_leave();
    am_fork_leave();
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pid = fork(); /* and the gate works as before */
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_while_threads_hold_core_locks),
        cmocka_unit_test(test_fork_inside_a_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
