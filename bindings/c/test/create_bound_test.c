/*
 * create_bound_test.c: a creation of 2^24 pages (mmsb_create_pages' bound)
 * that the bus must refuse, for a page size of 0 or for a record over the
 * log's 256 MiB, is refused from the caller's arrays before the library
 * builds its 2^24 page specs (768 MiB on 64 bits; 448 MiB of a 32-bit
 * address space, a fatal out-of-memory there): the status and message name
 * the page, and the process's peak resident memory does not grow by
 * anything near the specs' size. Nothing is created, and the bus goes on.
 *
 * Run by bindings/c's Go tests (TestCCreateBound):
 *
 *     create_bound_test DIR      (DIR: an empty directory)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "check.h" /* failures, EXPECT, TRUE */
#include "mmsb.h"

#define N ((size_t)1 << 24)

/* Far below the specs the library built before the fix (768 MiB). */
#define GROWTH_LIMIT (256L << 20)

/* peak_rss is the process's peak resident memory, in bytes. */
static long peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return ru.ru_maxrss * 1024L;
}

static int last_error_has(const char *s) {
    char msg[512];
    mmsb_last_error(msg, sizeof msg);
    if (strstr(msg, s) != NULL) return 1;
    fprintf(stderr, "last error \"%s\" does not contain \"%s\"\n", msg, s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: create_bound_test DIR\n");
        return 2;
    }
    mmsb_bus bus;
    EXPECT(mmsb_open(argv[1], NULL, &bus), MMSB_OK);
    if (failures) return 1;

    uint32_t *sizes = malloc(N * sizeof *sizes);
    uint64_t *ids = malloc(N * sizeof *ids);
    if (sizes == NULL || ids == NULL) {
        fprintf(stderr, "out of memory for the test's arrays\n");
        return 2;
    }

    /* Every page 1 byte but the last, 0: only the last page is wrong. */
    for (size_t i = 0; i < N; i++) sizes[i] = 1;
    sizes[N - 1] = 0;
    long before = peak_rss();
    EXPECT(mmsb_create_pages(bus, NULL, sizes, N, NULL), MMSB_ERR_INVALID_PAGE);
    TRUE(last_error_has("sizes[16777215] is 0"));
    long grew = peak_rss() - before;
    if (grew > GROWTH_LIMIT) {
        fprintf(stderr, "a refused creation of 2^24 pages (a size of 0) grew the peak resident memory by %ld MiB, want under %ld MiB\n",
                grew >> 20, GROWTH_LIMIT >> 20);
        failures++;
    }

    /* Valid sizes, IDs of 10-byte varints: 17 bytes a page, 2^24 pages
     * pass a 256 MiB record by page 15790320. */
    for (size_t i = 0; i < N; i++) {
        sizes[i] = 16u << 20;
        ids[i] = ((uint64_t)1 << 63) + i;
    }
    before = peak_rss();
    EXPECT(mmsb_create_pages(bus, ids, sizes, N, NULL), MMSB_ERR_RECORD_TOO_LARGE);
    TRUE(last_error_has("a log record holds at most 268435456"));
    grew = peak_rss() - before;
    if (grew > GROWTH_LIMIT) {
        fprintf(stderr, "a refused creation of 2^24 pages (over a record) grew the peak resident memory by %ld MiB, want under %ld MiB\n",
                grew >> 20, GROWTH_LIMIT >> 20);
        failures++;
    }

    /* One past the bound is a count error; a size over 16 MiB names it. */
    EXPECT(mmsb_create_pages(bus, NULL, sizes, N + 1, NULL), MMSB_ERR_INVALID_ARGUMENT);
    uint32_t big[2] = {8, (16u << 20) + 1};
    EXPECT(mmsb_create_pages(bus, NULL, big, 2, NULL), MMSB_ERR_INVALID_PAGE);
    TRUE(last_error_has("sizes[1] is 16777217, want 1..16777216"));

    /* Nothing was created, and the bus goes on. */
    uint64_t lsn = 1;
    EXPECT(mmsb_last_lsn(bus, &lsn), MMSB_OK);
    TRUE(lsn == 0);
    uint32_t small[2] = {8, 8};
    uint64_t got[2] = {0, 0};
    EXPECT(mmsb_create_pages(bus, NULL, small, 2, got), MMSB_OK);
    TRUE(got[0] == 1 && got[1] == 2);
    EXPECT(mmsb_last_lsn(bus, &lsn), MMSB_OK);
    TRUE(lsn == 2);

    free(sizes);
    free(ids);
    EXPECT(mmsb_close(bus), MMSB_OK);
    if (failures) {
        fprintf(stderr, "create_bound_test: %d failure(s)\n", failures);
        return 1;
    }
    printf("create_bound_test: ok\n");
    return 0;
}
