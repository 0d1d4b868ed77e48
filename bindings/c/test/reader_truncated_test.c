/*
 * reader_truncated_test.c: mmsb_reader.h against region files that their
 * owner truncates after the reader mapped them. Run by bindings/c's Go
 * test (TestCReaderTruncatedWhileMapped), which writes a region with a Go
 * writer and hands this program two copies of it, which it damages:
 *
 *     CHUNK_COPY  page 1 reads; then its chunk file is truncated to 0
 *                 bytes: the next read must fail with FORMAT ("shrank
 *                 while mapped"), every later call with FORMAT ("under
 *                 an earlier read"), and close must work; reopened, the
 *                 read fails as for a chunk never published ("stayed
 *                 unavailable")
 *     HEADER_COPY the header file is truncated to 0 bytes after open:
 *                 last_lsn and wait must fail with FORMAT
 *
 * Built with -DMMSB_READER_NO_FAULT_GUARD (the Go test's negative
 * control) the first access after a truncation kills this process with
 * SIGBUS, as every access did before the guard.
 *
 *     reader_truncated_test DIR   (DIR unused: the harness's bus dir)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmsb.h"
#include "mmsb_reader.h"

static int failures;

#define TRUE(cond)                                                                   \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: expected %s (reader: %s)\n", __FILE__, __LINE__, \
                    #cond, mmsb_reader_errmsg());                                    \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (v == NULL) {
        fprintf(stderr, "%s not set\n", name);
        exit(2);
    }
    return v;
}

/* cut truncates the file of dir whose name starts with prefix followed by
 * a digit (the chunk file "c<gen>.<index>"), or is exactly prefix. */
static void cut(const char *dir, const char *prefix, int exact) {
    char path[4096];
    struct dirent *e;
    DIR *d = opendir(dir);
    int done = 0;
    if (d == NULL) {
        perror(dir);
        exit(2);
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(prefix);
        int match = exact ? strcmp(e->d_name, prefix) == 0
                          : strncmp(e->d_name, prefix, n) == 0 && e->d_name[n] >= '0' && e->d_name[n] <= '9';
        if (!match)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (truncate(path, 0) != 0) {
            perror(path);
            exit(2);
        }
        done++;
    }
    closedir(d);
    if (done == 0) {
        fprintf(stderr, "no file %s%s in %s\n", prefix, exact ? "" : "<n>", dir);
        exit(2);
    }
}

int main(void) {
    mmsb_reader_options o;
    unsigned char buf[4096];
    size_t size = 0;
    uint64_t lsn = 0;
    mmsb_reader *r = NULL;
    memset(&o, 0, sizeof o);
    o.writer_timeout_ns = 50000000;
    o.busy_timeout_ns = 50000000;

    TRUE(mmsb_reader_open_region(env("CHUNK_COPY"), &o, &r) == MMSB_READER_OK);
    if (r == NULL)
        return 1;
    TRUE(mmsb_reader_read(r, 1, buf, sizeof buf, &size, NULL) == MMSB_READER_OK);
    TRUE(size == 100 && buf[0] == 7);
    cut(env("CHUNK_COPY"), "c", 0);
    TRUE(mmsb_reader_read(r, 1, buf, sizeof buf, &size, NULL) == MMSB_READER_ERR_FORMAT);
    TRUE(strstr(mmsb_reader_errmsg(), "shrank while mapped") != NULL);
    TRUE(mmsb_reader_read(r, 1, buf, sizeof buf, &size, NULL) == MMSB_READER_ERR_FORMAT);
    TRUE(strstr(mmsb_reader_errmsg(), "shrank under an earlier read") != NULL);
    TRUE(mmsb_reader_last_lsn(r, &lsn) == MMSB_READER_ERR_FORMAT);
    mmsb_reader_close(&r);
    TRUE(r == NULL);

    TRUE(mmsb_reader_open_region(env("CHUNK_COPY"), &o, &r) == MMSB_READER_OK);
    if (r != NULL) {
        TRUE(mmsb_reader_read(r, 1, buf, sizeof buf, &size, NULL) == MMSB_READER_ERR_FORMAT);
        TRUE(strstr(mmsb_reader_errmsg(), "stayed unavailable") != NULL);
        mmsb_reader_close(&r);
    }

    TRUE(mmsb_reader_open_region(env("HEADER_COPY"), &o, &r) == MMSB_READER_OK);
    if (r == NULL)
        return 1;
    TRUE(mmsb_reader_last_lsn(r, &lsn) == MMSB_READER_OK);
    cut(env("HEADER_COPY"), "header", 1);
    TRUE(mmsb_reader_last_lsn(r, &lsn) == MMSB_READER_ERR_FORMAT);
    TRUE(strstr(mmsb_reader_errmsg(), "shrank while mapped") != NULL);
    TRUE(mmsb_reader_wait(r, lsn, 1000000, &lsn) == MMSB_READER_ERR_FORMAT);
    mmsb_reader_close(&r);

    if (failures) {
        fprintf(stderr, "reader_truncated_test: %d failures\n", failures);
        return 1;
    }
    printf("reader_truncated_test: ok\n");
    return 0;
}
