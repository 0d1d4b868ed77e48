/*
 * buffers_test.c: the caller-buffer contract of mmsb.h and mmsb_reader.h
 * at its edges, and the other values a hostile or careless caller can pass:
 *
 *   - strings (mmsb_shared_path, mmsb_reader_region_path): success only when
 *     the string fits with its NUL; cap 0, cap = length and cap = length + 1;
 *     too small writes nothing and names the size needed (*len is the length
 *     without the NUL, as snprintf returns it);
 *   - mmsb_last_error: the documented truncation (snprintf's);
 *   - bytes (mmsb_read, mmsb_read_at, mmsb_reader_read, mmsb_reader_pages):
 *     no NUL, success when cap >= size, too small writes nothing;
 *   - NULL buffer with cap 0 (a size query), NULL with a capacity, NULL len,
 *     capacities of 2^31, 2^32 + 1 and SIZE_MAX;
 *   - page IDs 0 and UINT64_MAX, offsets and lengths whose sum overflows 32
 *     bits, counts and widths over 2^32;
 *   - one handle used by several threads while another thread closes it,
 *     and two threads closing one handle at once.
 *
 * Run by bindings/c's Go tests (TestCBufferContract):
 *
 *     buffers_test DIR      (DIR: an empty directory; env SHM: a tmpfs
 *                            directory for the shared region)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h" /* failures, EXPECT, TRUE */
#include "mmsb.h"
#include "mmsb_reader.h"

#define RC(call, want)                                                                \
    do {                                                                              \
        int got_ = (call);                                                            \
        if (got_ != (want)) {                                                         \
            fprintf(stderr, "%s:%d: %s = %d (%s), want %d (reader: %s)\n", __FILE__,  \
                    __LINE__, #call, got_, mmsb_reader_strerror(got_), (want),        \
                    mmsb_reader_errmsg());                                            \
            failures++;                                                               \
        }                                                                             \
    } while (0)

#define FILL 'Z'

/* untouched: buf[0:n] still holds FILL everywhere. */
static int untouched(const void *buf, size_t n) {
    const unsigned char *p = buf;
    for (size_t i = 0; i < n; i++)
        if (p[i] != FILL) return 0;
    return 1;
}

/* last_error_has: the calling thread's last error contains s. */
static int last_error_has(const char *s) {
    char msg[512];
    mmsb_last_error(msg, sizeof msg);
    if (strstr(msg, s) != NULL) return 1;
    fprintf(stderr, "last error %s does not contain %s\n", msg, s);
    return 0;
}

/* Capacities a careless caller passes "because the buffer is big enough":
 * only what the result needs may be written. */
static const size_t huge_caps[] = {
    (size_t)1 << 31,
#if SIZE_MAX > 0xffffffffu
    ((size_t)1 << 32) + 1,
#endif
    SIZE_MAX,
};
#define NHUGE (sizeof huge_caps / sizeof huge_caps[0])

static void last_error_contract(void) {
    uint64_t v;
    EXPECT(mmsb_state_hash(0, &v), MMSB_ERR_INVALID_HANDLE);
    size_t n = mmsb_last_error(NULL, 0);
    char full[256], buf[300];
    TRUE(n > 1 && n < sizeof full);
    TRUE(mmsb_last_error(full, sizeof full) == n && strlen(full) == n);
    /* cap 0: nothing written, the length returned. */
    memset(buf, FILL, sizeof buf);
    TRUE(mmsb_last_error(buf, 0) == n && untouched(buf, sizeof buf));
    /* cap = length: cut by one byte and terminated (snprintf's truncation);
     * the return value >= cap says so. */
    memset(buf, FILL, sizeof buf);
    TRUE(mmsb_last_error(buf, n) == n && strlen(buf) == n - 1 && memcmp(buf, full, n - 1) == 0 &&
         untouched(buf + n, sizeof buf - n));
    /* cap = length + 1: all of it. */
    memset(buf, FILL, sizeof buf);
    TRUE(mmsb_last_error(buf, n + 1) == n && strcmp(buf, full) == 0 && untouched(buf + n + 1, sizeof buf - n - 1));
    /* cap 1: "" */
    memset(buf, FILL, sizeof buf);
    TRUE(mmsb_last_error(buf, 1) == n && buf[0] == 0 && untouched(buf + 1, sizeof buf - 1));
    /* NULL with a capacity: the length only, nothing written. */
    TRUE(mmsb_last_error(NULL, 16) == n);
    for (size_t i = 0; i < NHUGE; i++) {
        memset(buf, FILL, sizeof buf);
        TRUE(mmsb_last_error(buf, huge_caps[i]) == n && strcmp(buf, full) == 0 &&
             untouched(buf + n + 1, sizeof buf - n - 1));
    }
}

static void shared_path_contract(mmsb_bus bus) {
    size_t len = 0, n;
    /* A size query: NULL and 0. */
    EXPECT(mmsb_shared_path(bus, NULL, 0, &len), MMSB_ERR_BUFFER_TOO_SMALL);
    n = len;
    TRUE(n > 0);
    char *buf = malloc(n + 16), want[64];
    if (buf == NULL) abort();
    snprintf(want, sizeof want, "needs %zu bytes", n + 1);
    TRUE(last_error_has(want));
    /* cap 0 with a buffer: nothing written. */
    memset(buf, FILL, n + 16);
    len = 0;
    EXPECT(mmsb_shared_path(bus, buf, 0, &len), MMSB_ERR_BUFFER_TOO_SMALL);
    TRUE(len == n && untouched(buf, n + 16));
    /* cap = length: the path fits, its NUL does not. Too small, and not a
     * byte written (no unterminated path in buf). */
    memset(buf, FILL, n + 16);
    len = 0;
    EXPECT(mmsb_shared_path(bus, buf, n, &len), MMSB_ERR_BUFFER_TOO_SMALL);
    TRUE(len == n && untouched(buf, n + 16));
    TRUE(last_error_has(want));
    /* cap = length + 1: the path and its NUL, nothing after. */
    memset(buf, FILL, n + 16);
    len = 0;
    EXPECT(mmsb_shared_path(bus, buf, n + 1, &len), MMSB_OK);
    TRUE(len == n && strlen(buf) == n && buf[0] == '/' && untouched(buf + n + 1, 15));
    for (size_t i = 0; i < NHUGE; i++) {
        memset(buf, FILL, n + 16);
        EXPECT(mmsb_shared_path(bus, buf, huge_caps[i], &len), MMSB_OK);
        TRUE(len == n && strlen(buf) == n && untouched(buf + n + 1, 15));
    }
    EXPECT(mmsb_shared_path(bus, buf, n + 1, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_shared_path(bus, NULL, n + 1, &len), MMSB_ERR_INVALID_ARGUMENT);
    free(buf);
}

static int rd(mmsb_bus bus, int at, uint64_t page, uint64_t lsn, uint8_t *buf, size_t cap, size_t *len,
              uint64_t *ep) {
    return at ? mmsb_read_at(bus, page, lsn, buf, cap, len, ep) : mmsb_read(bus, page, buf, cap, len, ep);
}

/* read_contract: page (size bytes, byte i holding i) through mmsb_read and
 * mmsb_read_at (as of lsn). */
static void read_contract(mmsb_bus bus, uint64_t page, size_t size, uint64_t lsn) {
    uint8_t buf[256];
    char want[64];
    for (int at = 0; at < 2; at++) {
        size_t len = 0;
        uint64_t ep = 12345;
        EXPECT(rd(bus, at, page, lsn, NULL, 0, &len, &ep), MMSB_ERR_BUFFER_TOO_SMALL);
        TRUE(len == size && ep == 12345);
        memset(buf, FILL, sizeof buf);
        len = 0;
        EXPECT(rd(bus, at, page, lsn, buf, 0, &len, &ep), MMSB_ERR_BUFFER_TOO_SMALL);
        TRUE(len == size && ep == 12345 && untouched(buf, sizeof buf));
        /* One byte short: nothing written, the size needed named. */
        memset(buf, FILL, sizeof buf);
        len = 0;
        EXPECT(rd(bus, at, page, lsn, buf, size - 1, &len, &ep), MMSB_ERR_BUFFER_TOO_SMALL);
        TRUE(len == size && ep == 12345 && untouched(buf, sizeof buf));
        snprintf(want, sizeof want, "holds %zu bytes; the buffer holds %zu", size, size - 1);
        TRUE(last_error_has(want));
        /* Exactly the size: bytes, no NUL after them. */
        memset(buf, FILL, sizeof buf);
        EXPECT(rd(bus, at, page, lsn, buf, size, &len, &ep), MMSB_OK);
        TRUE(len == size && ep != 12345 && buf[size - 1] == (uint8_t)(size - 1) && untouched(buf + size, sizeof buf - size));
        for (size_t i = 0; i < NHUGE; i++) {
            memset(buf, FILL, sizeof buf);
            EXPECT(rd(bus, at, page, lsn, buf, huge_caps[i], &len, NULL), MMSB_OK);
            TRUE(len == size && buf[1] == 1 && untouched(buf + size, sizeof buf - size));
        }
        EXPECT(rd(bus, at, page, lsn, buf, sizeof buf, NULL, &ep), MMSB_ERR_INVALID_ARGUMENT);
        EXPECT(rd(bus, at, page, lsn, NULL, size, &len, &ep), MMSB_ERR_INVALID_ARGUMENT);
        EXPECT(rd(bus, at, 0, lsn, buf, sizeof buf, &len, &ep), MMSB_ERR_PAGE_NOT_FOUND);
        EXPECT(rd(bus, at, UINT64_MAX, lsn, buf, sizeof buf, &len, &ep), MMSB_ERR_PAGE_NOT_FOUND);
    }
    size_t len;
    EXPECT(mmsb_read_at(bus, page, UINT64_MAX, buf, sizeof buf, &len, NULL), MMSB_ERR_INVALID_OPTION);
}

/* edges: page IDs, offsets, lengths, counts and widths at and past their
 * bounds; none may commit anything. page has 100 bytes. */
static void edges(mmsb_bus bus, uint64_t page) {
    uint64_t before = 0, after = 0;
    uint8_t one = 1;
    uint8_t *big = calloc(16u << 20, 1); /* data behind the longest write, so a library that read it would not fault */
    if (big == NULL) abort();
    EXPECT(mmsb_last_lsn(bus, &before), MMSB_OK);
    struct {
        uint64_t page;
        uint32_t offset, len;
        int want;
    } cases[] = {
        {page, 100, 1, MMSB_ERR_OUT_OF_RANGE},
        {page, 99, 2, MMSB_ERR_OUT_OF_RANGE},
        {page, UINT32_MAX, 1, MMSB_ERR_OUT_OF_RANGE},           /* offset + len wraps 32 bits */
        {page, UINT32_MAX - 9, 16u << 20, MMSB_ERR_OUT_OF_RANGE}, /* so does this one */
        {page, 0x80000000u, 1, MMSB_ERR_OUT_OF_RANGE},          /* a negative int32 */
        {page, 0, 101, MMSB_ERR_OUT_OF_RANGE},
        {0, 0, 1, MMSB_ERR_PAGE_NOT_FOUND},
        {UINT64_MAX, 0, 1, MMSB_ERR_PAGE_NOT_FOUND},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mmsb_write w = {cases[i].page, cases[i].offset, cases[i].len, big};
        int st = mmsb_commit(bus, &w, 1, NULL, 0, NULL);
        if (st != cases[i].want) {
            char msg[512];
            mmsb_last_error(msg, sizeof msg);
            fprintf(stderr, "%s:%d: case %zu: write of page %llu at %u, %u bytes: %s, want %s (%s)\n", __FILE__, __LINE__, i,
                    (unsigned long long)cases[i].page, cases[i].offset, cases[i].len, mmsb_status_name(st),
                    mmsb_status_name(cases[i].want), msg);
            failures++;
        }
        uint64_t pg = cases[i].page;
        uint32_t off = cases[i].offset;
        st = mmsb_commit_array(bus, &pg, &off, big, 1, cases[i].len, NULL, 0, NULL);
        if (st != cases[i].want) {
            fprintf(stderr, "%s:%d: case %zu through mmsb_commit_array: %s, want %s\n", __FILE__, __LINE__, i,
                    mmsb_status_name(st), mmsb_status_name(cases[i].want));
            failures++;
        }
    }
    /* The last byte of the page is writable: the bound is exact. */
    mmsb_write last = {page, 99, 1, &one};
    EXPECT(mmsb_commit(bus, &last, 1, NULL, 0, NULL), MMSB_OK);
    EXPECT(mmsb_last_lsn(bus, &before), MMSB_OK);

    /* Counts and widths past 2^32 (cut to 32 bits they would be small). */
    mmsb_write w = {page, 0, 1, &one};
    uint64_t pg = page;
    uint32_t off = 0, size = 64;
    EXPECT(mmsb_commit(bus, &w, SIZE_MAX, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit_array(bus, &pg, &off, &one, SIZE_MAX, 1, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit_array(bus, &pg, &off, &one, 1, SIZE_MAX, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_create_pages(bus, NULL, &size, SIZE_MAX, NULL), MMSB_ERR_INVALID_ARGUMENT);
#if SIZE_MAX > 0xffffffffu
    EXPECT(mmsb_commit(bus, &w, ((size_t)1 << 32) + 1, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    TRUE(last_error_has("4294967297 writes"));
    EXPECT(mmsb_commit_array(bus, &pg, &off, &one, ((size_t)1 << 32) + 1, 1, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit_array(bus, &pg, &off, big, 1, ((size_t)1 << 32) + 1, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    TRUE(last_error_has("width 4294967297"));
    EXPECT(mmsb_create_pages(bus, NULL, &size, ((size_t)1 << 32) + 1, NULL), MMSB_ERR_INVALID_ARGUMENT);
    TRUE(last_error_has("page count 4294967297"));
#endif
    /* n × width over what a batch may carry, each within its own bound. */
    EXPECT(mmsb_commit_array(bus, &pg, &off, big, (size_t)1 << 24, (size_t)16 << 20, NULL, 0, NULL),
           MMSB_ERR_INVALID_ARGUMENT);
    /* out_ids may be ids (assigned in place). */
    uint64_t inplace[3] = {0, 500, 0};
    uint32_t three[3] = {8, 8, 8};
    EXPECT(mmsb_create_pages(bus, inplace, three, 3, inplace), MMSB_OK);
    TRUE(inplace[0] != 0 && inplace[1] == 500 && inplace[2] != 0 && inplace[0] != inplace[2]);
    for (int i = 0; i < 3; i++) EXPECT(mmsb_free_page(bus, inplace[i]), MMSB_OK);
    EXPECT(mmsb_last_lsn(bus, &before), MMSB_OK);
    /* Page sizes and IDs at their edges. */
    uint32_t bad_sizes[] = {0, (16u << 20) + 1, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++)
        EXPECT(mmsb_create_pages(bus, NULL, &bad_sizes[i], 1, NULL), MMSB_ERR_INVALID_PAGE);
    EXPECT(mmsb_free_page(bus, 0), MMSB_ERR_PAGE_NOT_FOUND);
    EXPECT(mmsb_free_page(bus, UINT64_MAX), MMSB_ERR_PAGE_NOT_FOUND);
    mmsb_page_info pi;
    EXPECT(mmsb_page_info_get(bus, 0, &pi), MMSB_ERR_PAGE_NOT_FOUND);
    EXPECT(mmsb_page_info_get(bus, UINT64_MAX, &pi), MMSB_ERR_PAGE_NOT_FOUND);
    EXPECT(mmsb_wait_durable(bus, UINT64_MAX), MMSB_ERR_INVALID_OPTION);
    EXPECT(mmsb_last_lsn(bus, &after), MMSB_OK);
    TRUE(after == before);
    free(big);
}

/* Threads using one handle while it is closed: each call answers MMSB_OK
 * or MMSB_ERR_CLOSED (MMSB_ERR_PAGE_NOT_FOUND for the page that does not
 * exist), and once a thread has seen MMSB_ERR_CLOSED it sees nothing
 * else. */
struct racer {
    mmsb_bus bus;
    uint64_t page, created; /* created: an LSN at which page exists */
    int bad, closed_seen;
    int rounds; /* loops done, read by main thread (atomically) */
};

static void *race(void *arg) {
    struct racer *r = arg;
    uint8_t buf[128];
    char path[512];
    for (int i = 0; i < 20000 && r->closed_seen < 200; i++) {
        mmsb_write w = {r->page, 0, 1, buf};
        size_t len;
        uint64_t v;
        mmsb_stats st;
        memset(&st, 0, sizeof st);
        st.struct_size = sizeof st;
        buf[0] = (uint8_t)i;
        int sts[9] = {
            mmsb_commit(r->bus, &w, 1, NULL, MMSB_COMMIT_ASYNC, NULL),
            mmsb_read(r->bus, r->page, buf, sizeof buf, &len, &v),
            mmsb_last_lsn(r->bus, &v),
            mmsb_state_hash(r->bus, &v),
            mmsb_stats_get(r->bus, &st),
            mmsb_shared_path(r->bus, path, sizeof path, &len),
            mmsb_flush(r->bus),
            mmsb_read_at(r->bus, r->page, r->created, buf, sizeof buf, &len, NULL),
            mmsb_free_page(r->bus, 999999),
        };
        __atomic_store_n(&r->rounds, i + 1, __ATOMIC_RELAXED);
        if (sts[8] == MMSB_ERR_PAGE_NOT_FOUND) sts[8] = MMSB_OK; /* page 999999 never exists */
        for (int k = 0; k < 9; k++) {
            if (sts[k] == MMSB_ERR_CLOSED) {
                r->closed_seen++;
            } else if (sts[k] != MMSB_OK || r->closed_seen > 0) {
                char msg[512];
                mmsb_last_error(msg, sizeof msg);
                fprintf(stderr, "racer on page %llu, call %d: %s after %d closed answers (%s)\n",
                        (unsigned long long)r->page, k, mmsb_status_name(sts[k]), r->closed_seen, msg);
                r->bad++;
                return NULL;
            }
        }
    }
    return NULL;
}

struct closer {
    mmsb_bus bus;
    pthread_barrier_t *start;
    int st;
};

static void *close_it(void *arg) {
    struct closer *c = arg;
    pthread_barrier_wait(c->start);
    c->st = mmsb_close(c->bus);
    return NULL;
}

static void close_races(const char *dir) {
    enum { N = 4 };
    mmsb_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.sync = MMSB_SYNC_NONE;
    for (int round = 0; round < 3; round++) {
        char d[4096];
        snprintf(d, sizeof d, "%s/race%d", dir, round);
        mmsb_bus bus = 0;
        EXPECT(mmsb_open(d, &o, &bus), MMSB_OK);
        uint32_t sizes[N] = {64, 64, 64, 64};
        uint64_t ids[N];
        EXPECT(mmsb_create_pages(bus, NULL, sizes, N, ids), MMSB_OK);
        uint64_t created = 0;
        EXPECT(mmsb_last_lsn(bus, &created), MMSB_OK);
        pthread_t t[N], c[2];
        struct racer r[N];
        for (int i = 0; i < N; i++) {
            r[i] = (struct racer){bus, ids[i], created, 0, 0, 0};
            TRUE(pthread_create(&t[i], NULL, race, &r[i]) == 0);
        }
        /* The racers under way (a bounded wait: a racer that fails stops
         * early), then two closers at once: exactly one closes, the other is
         * told it was closed. */
        for (int waited = 0; waited < 10000; waited++) {
            int ready = 1;
            for (int i = 0; i < N; i++)
                if (__atomic_load_n(&r[i].rounds, __ATOMIC_RELAXED) < 50) ready = 0;
            if (ready) break;
            usleep(1000);
        }
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 2);
        struct closer cl[2] = {{bus, &start, -1}, {bus, &start, -1}};
        for (int i = 0; i < 2; i++) TRUE(pthread_create(&c[i], NULL, close_it, &cl[i]) == 0);
        for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
        pthread_barrier_destroy(&start);
        TRUE((cl[0].st == MMSB_OK && cl[1].st == MMSB_ERR_CLOSED) || (cl[1].st == MMSB_OK && cl[0].st == MMSB_ERR_CLOSED));
        for (int i = 0; i < N; i++) {
            pthread_join(t[i], NULL);
            TRUE(r[i].bad == 0);
        }
        EXPECT(mmsb_close(bus), MMSB_ERR_CLOSED);
    }
}

/* reader_contract: mmsb_reader.h's buffers against the region of bus
 * (in bus_dir, shared under shm); pages p1 (100 bytes, byte i = i) and p2. */
static void reader_contract(mmsb_bus bus, const char *bus_dir, const char *shm, uint64_t p1, uint64_t p2) {
    char want[4096], buf[4096 + 16];
    size_t plen = 0;
    EXPECT(mmsb_shared_path(bus, want, sizeof want, &plen), MMSB_OK);
    /* Region path: as mmsb_shared_path, with the same contract (no
     * length out-parameter: the size needed is in the message). */
    memset(buf, FILL, sizeof buf);
    RC(mmsb_reader_region_path(bus_dir, shm, buf, sizeof buf), MMSB_READER_OK);
    TRUE(strcmp(buf, want) == 0 && untouched(buf + plen + 1, sizeof buf - plen - 1));
    memset(buf, FILL, sizeof buf);
    RC(mmsb_reader_region_path(bus_dir, shm, buf, plen + 1), MMSB_READER_OK);
    TRUE(strcmp(buf, want) == 0 && untouched(buf + plen + 1, sizeof buf - plen - 1));
    for (size_t i = 0; i < NHUGE; i++) {
        memset(buf, FILL, sizeof buf);
        RC(mmsb_reader_region_path(bus_dir, shm, buf, huge_caps[i]), MMSB_READER_OK);
        TRUE(strcmp(buf, want) == 0 && untouched(buf + plen + 1, sizeof buf - plen - 1));
    }
    /* shared_dir spelled otherwise names the same region, as in Go (which
     * cleans it): the string equals the writer's SharedPath. */
    char up[1024]; /* "/../NAME", NAME the last element of shm */
    snprintf(up, sizeof up, "/..%s", strrchr(shm, '/'));
    const char *suffixes[] = {"/", "//", "/.", up, "/x/.."};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char sd[4096];
        snprintf(sd, sizeof sd, "%s%s", shm, suffixes[i]);
        memset(buf, FILL, sizeof buf);
        RC(mmsb_reader_region_path(bus_dir, sd, buf, sizeof buf), MMSB_READER_OK);
        if (strcmp(buf, want) != 0) {
            fprintf(stderr, "%s:%d: region path under %s is %s, the writer's %s\n", __FILE__, __LINE__, sd, buf, want);
            failures++;
        }
        /* And the reader opens it ("SHM/x/.." with no x failed with
         * WRITER_GONE: the kernel resolved the path as spelled). */
        mmsb_reader *sr = NULL;
        RC(mmsb_reader_open(bus_dir, sd, NULL, &sr), MMSB_READER_OK);
        mmsb_reader_close(&sr);
    }
    /* cap = length: too small, and no cut path left in buf. */
    memset(buf, FILL, sizeof buf);
    RC(mmsb_reader_region_path(bus_dir, shm, buf, plen), MMSB_READER_ERR_TOO_SMALL);
    TRUE(untouched(buf, sizeof buf));
    char need[64];
    snprintf(need, sizeof need, "needs %zu bytes", plen + 1);
    TRUE(strstr(mmsb_reader_errmsg(), need) != NULL);
    memset(buf, FILL, sizeof buf);
    RC(mmsb_reader_region_path(bus_dir, shm, buf, 1), MMSB_READER_ERR_TOO_SMALL);
    TRUE(untouched(buf, sizeof buf));
    memset(buf, FILL, sizeof buf);
    RC(mmsb_reader_region_path(bus_dir, shm, buf, 0), MMSB_READER_ERR_TOO_SMALL);
    TRUE(untouched(buf, sizeof buf));
    RC(mmsb_reader_region_path(bus_dir, shm, NULL, plen + 1), MMSB_READER_ERR_INVALID);

    mmsb_reader *r = NULL;
    RC(mmsb_reader_open(bus_dir, shm, NULL, &r), MMSB_READER_OK);
    if (r == NULL) return;
    /* Page bytes: no NUL, cap >= size succeeds, too small writes nothing. */
    size_t size = 0;
    mmsb_reader_page_info info = {12345, 12345};
    RC(mmsb_reader_read(r, p1, NULL, 0, &size, &info), MMSB_READER_ERR_TOO_SMALL);
    TRUE(size == 100 && info.epoch == 12345);
    memset(buf, FILL, sizeof buf);
    size = 0;
    RC(mmsb_reader_read(r, p1, buf, 99, &size, &info), MMSB_READER_ERR_TOO_SMALL);
    TRUE(size == 100 && untouched(buf, sizeof buf));
    TRUE(strstr(mmsb_reader_errmsg(), "100 bytes, buffer holds 99") != NULL);
    memset(buf, FILL, sizeof buf);
    RC(mmsb_reader_read(r, p1, buf, 100, &size, &info), MMSB_READER_OK);
    TRUE(size == 100 && buf[99] == 99 && info.epoch != 12345 && untouched(buf + 100, sizeof buf - 100));
    for (size_t i = 0; i < NHUGE; i++) {
        memset(buf, FILL, sizeof buf);
        RC(mmsb_reader_read(r, p1, buf, huge_caps[i], &size, NULL), MMSB_READER_OK);
        TRUE(size == 100 && buf[1] == 1 && untouched(buf + 100, sizeof buf - 100));
    }
    RC(mmsb_reader_read(r, p1, buf, sizeof buf, NULL, NULL), MMSB_READER_ERR_INVALID);
    RC(mmsb_reader_read(r, p1, NULL, 100, &size, NULL), MMSB_READER_ERR_INVALID);
    RC(mmsb_reader_read(r, 0, buf, sizeof buf, &size, NULL), MMSB_READER_ERR_NOT_FOUND);
    RC(mmsb_reader_read(r, UINT64_MAX, buf, sizeof buf, &size, NULL), MMSB_READER_ERR_NOT_FOUND);

    /* Page IDs: cap 0, cap = count - 1, cap = count. */
    uint64_t ids[4] = {7, 7, 7, 7};
    size_t count = 0;
    RC(mmsb_reader_pages(r, NULL, 0, &count), MMSB_READER_ERR_TOO_SMALL);
    TRUE(count == 2);
    RC(mmsb_reader_pages(r, ids, 1, &count), MMSB_READER_ERR_TOO_SMALL);
    TRUE(count == 2 && ids[0] == 7 && ids[1] == 7);
    RC(mmsb_reader_pages(r, ids, 2, &count), MMSB_READER_OK);
    TRUE(count == 2 && ids[0] == p1 && ids[1] == p2 && ids[2] == 7);
    RC(mmsb_reader_pages(r, ids, SIZE_MAX, &count), MMSB_READER_OK);
    TRUE(count == 2 && ids[2] == 7);
    RC(mmsb_reader_pages(r, ids, 2, NULL), MMSB_READER_ERR_INVALID);
    RC(mmsb_reader_pages(r, NULL, 2, &count), MMSB_READER_ERR_INVALID);

    /* Snapshot: a buffer one byte short (p2 has 64 bytes) is TOO_SMALL
     * with its size; nothing is written to it. */
    uint64_t want_ids[2] = {p1, p2}, at = 0;
    char b1[100], b2[100];
    void *bufs[2] = {b1, b2};
    size_t caps[2] = {100, 63}, sizes[2] = {0, 0};
    memset(b2, FILL, sizeof b2);
    RC(mmsb_reader_snapshot(r, want_ids, 2, bufs, caps, sizes, NULL, &at), MMSB_READER_ERR_TOO_SMALL);
    TRUE(sizes[1] == 64 && at == 0 && untouched(b2, sizeof b2));
    caps[1] = 64;
    RC(mmsb_reader_snapshot(r, want_ids, 2, bufs, caps, sizes, NULL, &at), MMSB_READER_OK);
    TRUE(sizes[0] == 100 && sizes[1] == 64 && b1[42] == 42 && at > 0 && untouched(b2 + 64, sizeof b2 - 64));

    /* Closed: every call refused, close again harmless. */
    mmsb_reader_close(&r);
    TRUE(r == NULL);
    RC(mmsb_reader_read(r, p1, buf, sizeof buf, &size, NULL), MMSB_READER_ERR_INVALID);
    RC(mmsb_reader_pages(r, ids, 4, &count), MMSB_READER_ERR_INVALID);
    mmsb_reader_close(&r);
    mmsb_reader_close(NULL);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: buffers_test DIR (env SHM: a tmpfs directory)\n");
        return 2;
    }
    const char *dir = argv[1], *shm = getenv("SHM");
    if (shm == NULL) {
        fprintf(stderr, "SHM not set\n");
        return 2;
    }
    last_error_contract();

    char bus_dir[4096];
    snprintf(bus_dir, sizeof bus_dir, "%s/shared", dir);
    mmsb_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.sync = MMSB_SYNC_NONE;
    o.shared = 1;
    o.shared_dir = shm;
    mmsb_bus bus = 0;
    EXPECT(mmsb_open(bus_dir, &o, &bus), MMSB_OK);
    uint32_t sizes[2] = {100, 64};
    uint64_t ids[2] = {0, 0};
    EXPECT(mmsb_create_pages(bus, NULL, sizes, 2, ids), MMSB_OK);
    uint8_t data[100];
    for (int i = 0; i < 100; i++) data[i] = (uint8_t)i;
    mmsb_write w = {ids[0], 0, sizeof data, data};
    mmsb_commit_info ci;
    EXPECT(mmsb_commit(bus, &w, 1, NULL, 0, &ci), MMSB_OK);

    shared_path_contract(bus);
    read_contract(bus, ids[0], 100, ci.last_lsn);
    reader_contract(bus, bus_dir, shm, ids[0], ids[1]);
    edges(bus, ids[0]);
    EXPECT(mmsb_close(bus), MMSB_OK);

    /* The last page ID: created, read, written, freed; after it no ID is
     * left to assign, which is an error naming it, not a wrap to 0. */
    mmsb_bus mem = 0;
    o.shared = 0;
    EXPECT(mmsb_open("", &o, &mem), MMSB_OK);
    uint64_t last_id = UINT64_MAX, got_id = 0, any_id = 0;
    uint32_t four = 4;
    EXPECT(mmsb_create_pages(mem, &last_id, &four, 1, &got_id), MMSB_OK);
    TRUE(got_id == UINT64_MAX);
    EXPECT(mmsb_create_pages(mem, &any_id, &four, 1, NULL), MMSB_ERR_INVALID_PAGE);
    TRUE(last_error_has("no page ID left"));
    mmsb_write wl = {UINT64_MAX, 3, 1, data + 7};
    EXPECT(mmsb_commit(mem, &wl, 1, NULL, 0, NULL), MMSB_OK);
    uint8_t four_bytes[4];
    size_t flen = 0;
    EXPECT(mmsb_read(mem, UINT64_MAX, four_bytes, sizeof four_bytes, &flen, NULL), MMSB_OK);
    TRUE(flen == 4 && four_bytes[3] == 7);
    EXPECT(mmsb_free_page(mem, UINT64_MAX), MMSB_OK);
    EXPECT(mmsb_close(mem), MMSB_OK);

    close_races(dir);

    if (failures) {
        fprintf(stderr, "buffers_test: %d failures\n", failures);
        return 1;
    }
    printf("buffers_test: ok\n");
    return 0;
}
