/*
 * reader_timeout_test.c: mmsb_reader.h with the largest timeouts a caller
 * can pass (INT64_MAX: "no limit in practice"). The deadlines were
 * computed as now + timeout, a signed overflow: UBSan aborted the process,
 * and without it the deadline wrapped into the past, so mmsb_reader_wait
 * returned MMSB_READER_ERR_TIMEOUT at once instead of waiting for the next
 * commit. Run by bindings/c's Go tests, plain and under ASan + UBSan:
 *
 *     reader_timeout_test DIR      (DIR: an empty directory for the bus)
 *
 * The writer is libmmsb.so in this process (a bus opened with shared = 1);
 * a thread commits once after the main thread starts waiting. The Go
 * test's control sets READER_TIMEOUT_NS=1000000 (1 ms) and no commit
 * (READER_TIMEOUT_COMMIT=0): the wait must then time out, and this program,
 * which expects the commit, must fail.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmsb.h"
#include "mmsb_reader.h"
#include "reader_check.h"


static mmsb_bus bus;
static uint64_t page;

static void *commit_later(void *arg) {
    (void)arg;
    usleep(100000); /* let the main thread wait first (the order is not asserted) */
    const uint8_t v[] = "later";
    mmsb_write w = {page, 0, sizeof v, v};
    if (mmsb_commit(bus, &w, 1, NULL, 0, NULL) != MMSB_OK) {
        char msg[256];
        mmsb_last_error(msg, sizeof msg);
        fprintf(stderr, "commit: %s\n", msg);
        failures++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: reader_timeout_test DIR\n");
        return 2;
    }
    int64_t timeout = INT64_MAX;
    const char *env = getenv("READER_TIMEOUT_NS");
    if (env != NULL) timeout = strtoll(env, NULL, 10);
    env = getenv("READER_TIMEOUT_COMMIT");
    int commit = env == NULL || strcmp(env, "0") != 0;
    alarm(120); /* a wait that never ends fails this program instead of hanging it */

    mmsb_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.sync = MMSB_SYNC_NONE;
    o.shared = 1;
    if (mmsb_open(argv[1], &o, &bus) != MMSB_OK) {
        char msg[256];
        mmsb_last_error(msg, sizeof msg);
        fprintf(stderr, "mmsb_open: %s\n", msg);
        return 1;
    }
    uint32_t size = 64;
    TRUE(mmsb_create_pages(bus, NULL, &size, 1, &page) == MMSB_OK);

    mmsb_reader_options ro;
    memset(&ro, 0, sizeof ro);
    ro.writer_timeout_ns = timeout;
    ro.busy_timeout_ns = timeout;
    ro.liveness_interval_ns = timeout;
    mmsb_reader *r = NULL;
    TRUE(mmsb_reader_open(argv[1], NULL, &ro, &r) == MMSB_READER_OK);
    if (r == NULL) return 1;
    uint64_t lsn = 0, got = 0;
    TRUE(mmsb_reader_last_lsn(r, &lsn) == MMSB_READER_OK);
    uint8_t buf[64];
    size_t n = 0;
    TRUE(mmsb_reader_read(r, page, buf, sizeof buf, &n, NULL) == MMSB_READER_OK && n == 64);

    pthread_t t;
    if (commit) TRUE(pthread_create(&t, NULL, commit_later, NULL) == 0);
    int rc = mmsb_reader_wait(r, lsn, timeout, &got);
    TRUE(rc == MMSB_READER_OK);
    TRUE(got > lsn);
    if (commit) pthread_join(t, NULL);
    if (rc == MMSB_READER_OK) {
        TRUE(mmsb_reader_read(r, page, buf, sizeof buf, &n, NULL) == MMSB_READER_OK);
        TRUE(memcmp(buf, "later", 6) == 0);
    }
    mmsb_reader_close(&r);
    TRUE(mmsb_close(bus) == MMSB_OK);
    if (failures) {
        fprintf(stderr, "reader_timeout_test: %d failures\n", failures);
        return 1;
    }
    printf("reader_timeout_test: ok\n");
    return 0;
}
