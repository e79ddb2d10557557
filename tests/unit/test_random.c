/*
** test_random.c: the id generator -- ChaCha8's known answer, bytes never
** repeated, different streams in threads and across fork, and no all-zero
** id.
*/
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "util/random.h"

/* The eSTREAM / draft-strombergson test vector TC1: ChaCha8, 256-bit
   all-zero key, all-zero IV, block 0. */
static void test_known_answer(void **state)
{
    (void)state;
    static const uint8_t want[64] = {
        0x3e, 0x00, 0xef, 0x2f, 0x89, 0x5f, 0x40, 0xd6, 0x7f, 0x5b, 0xb8, 0xe8, 0x1f,
        0x09, 0xa5, 0xa1, 0x2c, 0x84, 0x0e, 0xc3, 0xce, 0x9a, 0x7f, 0x3b, 0x18, 0x1b,
        0xe1, 0x88, 0xef, 0x71, 0x1a, 0x1e, 0x98, 0x4c, 0xe1, 0x72, 0xb9, 0x21, 0x6f,
        0x41, 0x9f, 0x44, 0x53, 0x67, 0x45, 0x6d, 0x56, 0x19, 0x31, 0x4a, 0x42, 0xa3,
        0xda, 0x86, 0xb0, 0x01, 0x38, 0x7b, 0xfd, 0xb8, 0x0e, 0x0c, 0xfe, 0x42};
    uint32_t key[8] = {0};
    uint8_t out[64];
    am__chacha8_block(key, 0, out);
    assert_memory_equal(out, want, 64);
}

static void test_no_repeats(void **state)
{
    (void)state;
    /* 10000 16-byte ids across many refills: all distinct, none zero */
    enum { N = 10000 };
    uint8_t(*ids)[16] = malloc(N * 16);
    for (int i = 0; i < N; i++)
        am__random_id(ids[i], 16);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < i + 64 && j < N; j++)
            assert_memory_not_equal(ids[i], ids[j], 16);
    /* bytes are spread: each value of the first byte is seen */
    int seen[256] = {0};
    for (int i = 0; i < N; i++)
        seen[ids[i][0]]++;
    for (int v = 0; v < 256; v++)
        assert_true(seen[v] > 0);
    free(ids);
}

static void *draw(void *arg)
{
    am__random_bytes(arg, 32);
    return NULL;
}

static void test_threads_differ(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    pthread_t t1, t2;
    pthread_create(&t1, NULL, draw, a);
    pthread_create(&t2, NULL, draw, b);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_memory_not_equal(a, b, 32);
}

/* After fork, child and parent draw different bytes even though the
   parent's buffer was copied into the child. */
static void test_fork_reseeds(void **state)
{
    (void)state;
    uint8_t warm[8];
    am__random_bytes(warm, sizeof warm); /* the buffer is full when forking */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        uint8_t c[32];
        am__random_bytes(c, sizeof c);
        ssize_t w = write(fds[1], c, sizeof c);
        _exit(w == (ssize_t)sizeof c ? 0 : 1);
    }
    uint8_t p[32], c[32];
    am__random_bytes(p, sizeof p);
    assert_int_equal(read(fds[0], c, sizeof c), (int)sizeof c);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_memory_not_equal(p, c, sizeof p);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_no_repeats),
        cmocka_unit_test(test_threads_differ),
        cmocka_unit_test(test_fork_reseeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
