/*
 * abi_test.c: calls every function of mmsb.h, with good arguments and with
 * bad ones (NULL pointers, invalid and closed handles, wrong struct sizes,
 * buffers too small), and checks each status code. Exits non-zero on the
 * first unexpected result. Run by bindings/c's Go tests:
 *
 *     abi_test DIR      (DIR: an empty directory for the bus)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h" /* failures, EXPECT, TRUE */
#include "mmsb.h"

/* WRAPPED(call, want): call, given an array that runs past the end of the
 * address space, is MMSB_ERR_INVALID_ARGUMENT with a message holding want
 * and saying so. */
#define WRAPPED(call, want)                                                                        \
    do {                                                                                           \
        EXPECT(call, MMSB_ERR_INVALID_ARGUMENT);                                                   \
        char wmsg_[256];                                                                           \
        mmsb_last_error(wmsg_, sizeof wmsg_);                                                      \
        if (strstr(wmsg_, want) == NULL || strstr(wmsg_, "pass the end of the address space") == NULL) { \
            fprintf(stderr, "%s:%d: last error \"%s\", want \"%s\" past the address space's end\n", \
                    __FILE__, __LINE__, wmsg_, want);                                              \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Every handle-taking function with handle h must answer want. */
static void all_calls_answer(mmsb_bus h, int want) {
    uint64_t u = 0;
    size_t n = 0;
    uint8_t buf[16];
    char path[64];
    uint32_t size = 64;
    mmsb_write w = {1, 0, 1, buf};
    uint64_t pg = 1;
    uint32_t off = 0;
    mmsb_page_info pi;
    mmsb_checkpoint_info ci;
    mmsb_replay_report rr;
    mmsb_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    memset(buf, 7, sizeof buf);
    EXPECT(mmsb_create_pages(h, NULL, &size, 1, NULL), want);
    EXPECT(mmsb_free_page(h, 1), want);
    EXPECT(mmsb_commit(h, &w, 1, NULL, 0, NULL), want);
    EXPECT(mmsb_commit_array(h, &pg, &off, buf, 1, 1, NULL, 0, NULL), want);
    EXPECT(mmsb_wait_durable(h, 1), want);
    EXPECT(mmsb_flush(h), want);
    EXPECT(mmsb_read(h, 1, buf, sizeof buf, &n, &u), want);
    EXPECT(mmsb_read_at(h, 1, 1, buf, sizeof buf, &n, &u), want);
    EXPECT(mmsb_page_info_get(h, 1, &pi), want);
    EXPECT(mmsb_last_lsn(h, &u), want);
    EXPECT(mmsb_state_hash(h, &u), want);
    EXPECT(mmsb_checkpoint(h, &ci), want);
    EXPECT(mmsb_verify_replay(h, 0, &rr), want);
    EXPECT(mmsb_stats_get(h, &st), want);
    EXPECT(mmsb_shared_path(h, path, sizeof path, &n), want);
    /* ABI 1.2: page metadata (meta_test.c tests them in depth; the
     * decoder takes no handle). */
    mmsb_meta_entry me = {"k", 1, buf, 1};
    EXPECT(mmsb_create_pages_meta(h, NULL, &size, 1, &me, 1, NULL), want);
    EXPECT(mmsb_set_metadata(h, 1, &me, 1), want);
    EXPECT(mmsb_page_meta(h, 1, buf, sizeof buf, &n), want);
    EXPECT(mmsb_meta_decode(NULL, 0, NULL, 0, &n), MMSB_OK);
    TRUE(n == 0);
    /* The handle is checked before the other arguments (busOut,
     * busBuffer, busMeta): with a NULL out, len or meta too, the answer
     * is still the handle's. */
    EXPECT(mmsb_read(h, 1, NULL, 1, NULL, NULL), want);
    EXPECT(mmsb_read_at(h, 1, 1, NULL, 1, NULL, NULL), want);
    EXPECT(mmsb_page_info_get(h, 1, NULL), want);
    EXPECT(mmsb_last_lsn(h, NULL), want);
    EXPECT(mmsb_state_hash(h, NULL), want);
    EXPECT(mmsb_stats_get(h, NULL), want);
    EXPECT(mmsb_shared_path(h, NULL, 1, NULL), want);
    EXPECT(mmsb_page_meta(h, 1, NULL, 1, NULL), want);
    EXPECT(mmsb_set_metadata(h, 1, NULL, 1), want);
    EXPECT(mmsb_create_pages_meta(h, NULL, &size, 1, NULL, 1, NULL), want);
    EXPECT(mmsb_close(h), want);
}

/* Threads committing on one handle at once; each provokes its own error
 * and must read back its own message (the last error is per thread). */
struct worker {
    mmsb_bus bus;
    uint64_t page;
    int failures;
};

static void *work(void *arg) {
    struct worker *w = arg;
    uint8_t v[8];
    char msg[256], want[64];
    for (int i = 0; i < 200; i++) {
        memcpy(v, &i, sizeof i);
        mmsb_write wr = {w->page, 0, sizeof v, v};
        if (mmsb_commit(w->bus, &wr, 1, NULL, 0, NULL) != MMSB_OK) w->failures++;
        uint64_t missing = 1000000 + w->page;
        size_t n = 0;
        if (mmsb_read(w->bus, missing, v, sizeof v, &n, NULL) != MMSB_ERR_PAGE_NOT_FOUND) w->failures++;
        mmsb_last_error(msg, sizeof msg);
        snprintf(want, sizeof want, "page %llu", (unsigned long long)missing);
        if (strstr(msg, want) == NULL) {
            fprintf(stderr, "thread of page %llu read another thread's message: %s\n", (unsigned long long)w->page,
                    msg);
            w->failures++;
        }
    }
    return NULL;
}

static void threads(mmsb_bus bus) {
    enum { N = 4 };
    uint32_t sizes[N] = {64, 64, 64, 64};
    uint64_t ids[N];
    EXPECT(mmsb_create_pages(bus, NULL, sizes, N, ids), MMSB_OK);
    pthread_t t[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){bus, ids[i], 0};
        TRUE(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        TRUE(w[i].failures == 0);
        mmsb_page_info pi;
        EXPECT(mmsb_page_info_get(bus, ids[i], &pi), MMSB_OK);
        TRUE(pi.epoch == 200);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: abi_test DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char msg[256];

    /* Version and names. */
    TRUE(mmsb_abi_version() == MMSB_ABI_VERSION);
    TRUE(MMSB_ABI_MAJOR(mmsb_abi_version()) == 1);
    TRUE(strcmp(mmsb_status_name(MMSB_ERR_CONFLICT), "MMSB_ERR_CONFLICT") == 0);
    TRUE(strcmp(mmsb_status_name(MMSB_ERR_RECORD_TOO_LARGE), "MMSB_ERR_RECORD_TOO_LARGE") == 0);  /* ABI 1.1 */
    TRUE(strcmp(mmsb_status_name(12345), "MMSB_ERR_UNKNOWN") == 0);
    TRUE(mmsb_last_error(NULL, 0) == 0); /* nothing failed on this thread yet */

    /* Invalid handles: 0 and one never returned. */
    all_calls_answer(0, MMSB_ERR_INVALID_HANDLE);
    all_calls_answer(987654321, MMSB_ERR_INVALID_HANDLE);
    TRUE(mmsb_last_error(msg, sizeof msg) > 0);
    TRUE(strstr(msg, "not a bus handle") != NULL);
    /* A message cut to the buffer still reports its full length. */
    char tiny[4];
    size_t full = mmsb_last_error(tiny, sizeof tiny);
    TRUE(full > 3 && strlen(tiny) == 3);

    /* Open: bad arguments. */
    mmsb_bus bus = 0;
    mmsb_options o;
    memset(&o, 0, sizeof o);
    EXPECT(mmsb_open(NULL, NULL, &bus), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_open(dir, NULL, NULL), MMSB_ERR_INVALID_ARGUMENT);
    o.struct_size = sizeof o - 8; /* smaller than ABI 1.0's mmsb_options */
    EXPECT(mmsb_open(dir, &o, &bus), MMSB_ERR_INVALID_ARGUMENT);
    o.struct_size = sizeof o;
    o.sync = 7;
    EXPECT(mmsb_open(dir, &o, &bus), MMSB_ERR_INVALID_OPTION);
    o.sync = MMSB_SYNC_GROUP;
    o.reserved = 1;
    EXPECT(mmsb_open(dir, &o, &bus), MMSB_ERR_INVALID_ARGUMENT);
    o.reserved = 0;
    o.workers = -1;
    EXPECT(mmsb_open(dir, &o, &bus), MMSB_ERR_INVALID_OPTION);
    /* A garbage worker count is refused, not a fatal out-of-memory of the
     * Go runtime at open (which killed this process). */
    o.workers = INT32_MAX;
    EXPECT(mmsb_open(dir, &o, &bus), MMSB_ERR_INVALID_OPTION);
    o.workers = 1025;
    EXPECT(mmsb_open(dir, &o, &bus), MMSB_ERR_INVALID_OPTION);
    o.workers = 0;
    TRUE(bus == 0);

    /* Open for real. A second writer on the same directory is locked out. */
    EXPECT(mmsb_open(dir, &o, &bus), MMSB_OK);
    TRUE(bus != 0);
    mmsb_bus second = 0;
    EXPECT(mmsb_open(dir, &o, &second), MMSB_ERR_LOCKED);

    /* Pages. */
    uint32_t sizes[3] = {64, 64, 128};
    uint64_t ids[3] = {0, 0, 0};
    EXPECT(mmsb_create_pages(bus, NULL, sizes, 0, ids), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_create_pages(bus, NULL, NULL, 3, ids), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_create_pages(bus, NULL, sizes, 3, ids), MMSB_OK);
    TRUE(ids[0] == 1 && ids[1] == 2 && ids[2] == 3);
    uint64_t want_id = 10, got_id = 0;
    EXPECT(mmsb_create_pages(bus, &want_id, sizes, 1, &got_id), MMSB_OK);
    TRUE(got_id == 10);
    EXPECT(mmsb_create_pages(bus, &want_id, sizes, 1, NULL), MMSB_ERR_PAGE_EXISTS);
    uint32_t zero = 0;
    EXPECT(mmsb_create_pages(bus, NULL, &zero, 1, NULL), MMSB_ERR_INVALID_PAGE);
    EXPECT(mmsb_free_page(bus, 10), MMSB_OK);
    EXPECT(mmsb_free_page(bus, 10), MMSB_ERR_PAGE_NOT_FOUND);

    /* Commit: the struct form. */
    const uint8_t hello[] = "hello";
    mmsb_write ws[2] = {{1, 0, 5, hello}, {2, 8, 5, hello}};
    mmsb_commit_info ci;
    EXPECT(mmsb_commit(bus, ws, 2, NULL, 0, &ci), MMSB_OK);
    TRUE(ci.last_lsn == ci.first_lsn + 1);
    EXPECT(mmsb_commit(bus, NULL, 2, NULL, 0, &ci), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit(bus, ws, 0, NULL, 0, &ci), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit(bus, ws, (size_t)1 << 40, NULL, 0, &ci), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit(bus, ws, 2, NULL, 0x80, &ci), MMSB_ERR_INVALID_ARGUMENT);
    mmsb_write nulldata = {1, 0, 4, NULL};
    EXPECT(mmsb_commit(bus, &nulldata, 1, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    mmsb_write missing = {99, 0, 5, hello};
    EXPECT(mmsb_commit(bus, &missing, 1, NULL, 0, NULL), MMSB_ERR_PAGE_NOT_FOUND);
    mmsb_write past = {1, 62, 5, hello};
    EXPECT(mmsb_commit(bus, &past, 1, NULL, 0, NULL), MMSB_ERR_OUT_OF_RANGE);
    /* A len over the largest page is refused before the library slices
     * the data (a len of 2 GiB or more is a negative int on a 32-bit
     * platform, where slicing it panics: MMSB_ERR_INTERNAL), naming the
     * write; nothing commits. */
    uint64_t before_lsn = 0, after_lsn = 0;
    EXPECT(mmsb_last_lsn(bus, &before_lsn), MMSB_OK);
    const uint32_t huge_lens[] = {(16u << 20) + 1, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof huge_lens / sizeof huge_lens[0]; i++) {
        mmsb_write huge[2] = {{3, 0, 5, hello}, {1, 0, huge_lens[i], hello}};
        EXPECT(mmsb_commit(bus, huge, 2, NULL, 0, NULL), MMSB_ERR_OUT_OF_RANGE);
        char hmsg[256];
        mmsb_last_error(hmsg, sizeof hmsg);
        if (strstr(hmsg, "write 1 (page 1)") == NULL || strstr(hmsg, "over the largest page size") == NULL) {
            fprintf(stderr, "%s:%d: len %u: last error %s, want it to name write 1 (page 1) over the largest page size\n",
                    __FILE__, __LINE__, huge_lens[i], hmsg);
            failures++;
        }
    }
    EXPECT(mmsb_last_lsn(bus, &after_lsn), MMSB_OK);
    TRUE(after_lsn == before_lsn);
    /* An array whose count runs past the end of the address space names
     * no memory: MMSB_ERR_INVALID_ARGUMENT naming the argument, before
     * anything is read (it was a panic the library recovered,
     * MMSB_ERR_INTERNAL "please report"). Nothing commits. */
    {
        const void *top = (const void *)(UINTPTR_MAX - 7); /* 8 bytes to the end */
        mmsb_write at_top = {1, 0, 64, top};
        uint64_t p1 = 1;
        uint32_t o0 = 0, sz3[3] = {8, 8, 8};
        mmsb_meta_entry me_top = {"k", 1, top, 64};
        mmsb_meta_entry me_out[1];
        size_t mn = 0;
        WRAPPED(mmsb_commit(bus, top, 4, NULL, 0, NULL), "writes: 4 elements");
        WRAPPED(mmsb_commit(bus, &at_top, 1, NULL, 0, NULL), "data of write 0 (page 1): 64 elements");
        WRAPPED(mmsb_commit(bus, ws, 2, top, 0, NULL), "expect_epochs: 2 elements");
        WRAPPED(mmsb_commit_array(bus, top, top, top, 4, 1, NULL, 0, NULL), "pages: 4 elements");
        WRAPPED(mmsb_commit_array(bus, &p1, &o0, top, 1, 64, NULL, 0, NULL), "data: 64 elements");
        WRAPPED(mmsb_create_pages(bus, NULL, top, 8, NULL), "sizes: 8 elements");
        WRAPPED(mmsb_create_pages(bus, NULL, sz3, 3, (uint64_t *)top), "out_ids: 3 elements");
        WRAPPED(mmsb_set_metadata(bus, 1, top, 4), "4 metadata entries");
        WRAPPED(mmsb_set_metadata(bus, 1, &me_top, 1), "value_len 64");
        WRAPPED(mmsb_meta_decode(top, 64, me_out, 1, &mn), "meta: 64 elements");
    }
    EXPECT(mmsb_last_lsn(bus, &after_lsn), MMSB_OK);
    TRUE(after_lsn == before_lsn);
    mmsb_write empty = {1, 0, 0, NULL};
    EXPECT(mmsb_commit(bus, &empty, 1, NULL, 0, NULL), MMSB_ERR_INVALID_DELTA);
    /* A bad write anywhere refuses the whole batch. */
    mmsb_write mixed[2] = {{3, 0, 5, hello}, {1, 62, 5, hello}};
    EXPECT(mmsb_commit(bus, mixed, 2, NULL, 0, NULL), MMSB_ERR_OUT_OF_RANGE);

    /* Optimistic concurrency: expected epochs (page 2 is at epoch 1). */
    const uint8_t b1[] = "e";
    mmsb_write on2 = {2, 40, 1, b1};
    uint64_t expect = 1;
    EXPECT(mmsb_commit(bus, &on2, 1, &expect, 0, NULL), MMSB_OK); /* epoch 2 */
    EXPECT(mmsb_commit(bus, &on2, 1, &expect, 0, NULL), MMSB_ERR_CONFLICT);
    expect = MMSB_ANY_EPOCH;
    EXPECT(mmsb_commit(bus, &on2, 1, &expect, 0, NULL), MMSB_OK); /* epoch 3 */
    mmsb_write twice[2] = {{2, 40, 1, b1}, {2, 41, 1, b1}};
    uint64_t expect2[2] = {3, 4}; /* the second counts the first */
    EXPECT(mmsb_commit(bus, twice, 2, expect2, 0, NULL), MMSB_OK); /* epoch 5 */
    uint64_t p2 = 2, stale = 4;
    uint32_t o2 = 42;
    EXPECT(mmsb_commit_array(bus, &p2, &o2, b1, 1, 1, &stale, 0, NULL), MMSB_ERR_CONFLICT);
    stale = 5;
    EXPECT(mmsb_commit_array(bus, &p2, &o2, b1, 1, 1, &stale, 0, &ci), MMSB_OK); /* epoch 6 */

    /* Commit: the array form, async, then wait. */
    uint64_t pages[4] = {1, 2, 3, 3};
    uint32_t offs[4] = {16, 16, 16, 24};
    uint8_t data[4 * 8];
    for (int i = 0; i < 32; i++) data[i] = (uint8_t)i;
    mmsb_commit_info ai;
    EXPECT(mmsb_commit_array(bus, pages, offs, data, 4, 8, NULL, MMSB_COMMIT_ASYNC, &ai), MMSB_OK);
    TRUE(ai.first_lsn == ci.last_lsn + 1 && ai.last_lsn == ai.first_lsn + 3);
    EXPECT(mmsb_wait_durable(bus, ai.last_lsn), MMSB_OK);
    EXPECT(mmsb_flush(bus), MMSB_OK);
    /* An LSN never committed is refused; it used to hang in an endless
     * fsync loop (the alarm turns a hang into a failure of this program). */
    alarm(60);
    EXPECT(mmsb_wait_durable(bus, ai.last_lsn + 1), MMSB_ERR_INVALID_OPTION);
    EXPECT(mmsb_wait_durable(bus, UINT64_MAX), MMSB_ERR_INVALID_OPTION);
    alarm(0);
    TRUE(mmsb_last_error(msg, sizeof msg) > 0 && strstr(msg, "not committed") != NULL);
    EXPECT(mmsb_commit_array(bus, NULL, offs, data, 4, 8, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit_array(bus, pages, NULL, data, 4, 8, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit_array(bus, pages, offs, NULL, 4, 8, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit_array(bus, pages, offs, data, 4, 0, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit_array(bus, pages, offs, data, 0, 8, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_commit_array(bus, pages, offs, data, 4, (size_t)1 << 30, NULL, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);
    uint32_t bad_offs[4] = {16, 16, 16, 1000};
    EXPECT(mmsb_commit_array(bus, pages, bad_offs, data, 4, 8, NULL, 0, NULL), MMSB_ERR_OUT_OF_RANGE);

    /* Read: into a buffer, too small, size query, missing page. */
    uint8_t page[128];
    size_t len = 0;
    uint64_t epoch = 0;
    EXPECT(mmsb_read(bus, 1, page, sizeof page, &len, &epoch), MMSB_OK);
    TRUE(len == 64 && epoch == 2);
    TRUE(memcmp(page, "hello", 5) == 0 && page[16] == 0 && page[23] == 7);
    EXPECT(mmsb_read(bus, 3, page, 10, &len, &epoch), MMSB_ERR_BUFFER_TOO_SMALL);
    TRUE(len == 128);
    len = 0;
    EXPECT(mmsb_read(bus, 3, NULL, 0, &len, NULL), MMSB_ERR_BUFFER_TOO_SMALL);
    TRUE(len == 128);
    EXPECT(mmsb_read(bus, 3, page, sizeof page, &len, NULL), MMSB_OK);
    TRUE(page[16] == 16 && page[24] == 24);
    EXPECT(mmsb_read(bus, 99, page, sizeof page, &len, &epoch), MMSB_ERR_PAGE_NOT_FOUND);
    EXPECT(mmsb_read(bus, 1, page, sizeof page, NULL, &epoch), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_read(bus, 1, NULL, 64, &len, &epoch), MMSB_ERR_INVALID_ARGUMENT);

    /* Read as of an LSN: page 1 before the array commit still lacks it. */
    EXPECT(mmsb_read_at(bus, 1, ci.last_lsn, page, sizeof page, &len, &epoch), MMSB_OK);
    TRUE(len == 64 && epoch == 1 && memcmp(page, "hello", 5) == 0 && page[16] == 0);
    EXPECT(mmsb_read_at(bus, 1, ci.last_lsn, page, 8, &len, &epoch), MMSB_ERR_BUFFER_TOO_SMALL);
    TRUE(len == 64);
    EXPECT(mmsb_read_at(bus, 1, ci.last_lsn, page, sizeof page, NULL, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_read_at(bus, 1, 1000000000, page, sizeof page, &len, NULL), MMSB_ERR_INVALID_OPTION); /* not yet committed */
    EXPECT(mmsb_read_at(bus, 1, 0, page, sizeof page, &len, NULL), MMSB_ERR_INVALID_OPTION); /* before every operation */

    /* Page info, LSN, hash. */
    mmsb_page_info pi;
    EXPECT(mmsb_page_info_get(bus, 3, &pi), MMSB_OK);
    TRUE(pi.id == 3 && pi.size == 128 && pi.epoch == 2 && pi.last_lsn == ai.last_lsn && pi.derived == 0);
    EXPECT(mmsb_page_info_get(bus, 99, &pi), MMSB_ERR_PAGE_NOT_FOUND);
    EXPECT(mmsb_page_info_get(bus, 3, NULL), MMSB_ERR_INVALID_ARGUMENT);
    uint64_t lsn = 0, hash = 0, hash2 = 0;
    EXPECT(mmsb_last_lsn(bus, &lsn), MMSB_OK);
    TRUE(lsn == ai.last_lsn);
    EXPECT(mmsb_last_lsn(bus, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_state_hash(bus, &hash), MMSB_OK);
    TRUE(hash != 0);
    EXPECT(mmsb_state_hash(bus, NULL), MMSB_ERR_INVALID_ARGUMENT);

    /* Checkpoint, replay check. */
    mmsb_checkpoint_info cp;
    EXPECT(mmsb_checkpoint(bus, &cp), MMSB_OK);
    TRUE(cp.lsn == lsn && cp.pages == 3 && cp.bytes > 0);
    EXPECT(mmsb_checkpoint(bus, NULL), MMSB_OK);
    mmsb_replay_report rr;
    EXPECT(mmsb_verify_replay(bus, 0, &rr), MMSB_OK);
    TRUE(rr.equal == 1 && rr.graph_equal == 1 && rr.live_hash == hash && rr.replay_hash == hash && rr.pages == 3);
    EXPECT(mmsb_verify_replay(bus, 1, &rr), MMSB_OK);
    TRUE(rr.equal == 1 && rr.checkpoint_lsn == lsn);
    EXPECT(mmsb_verify_replay(bus, 0, NULL), MMSB_ERR_INVALID_ARGUMENT);

    /* Stats: a struct_size that no mmsb_stats has is refused (the rule for
     * older and newer structs: struct_size_test.c). */
    mmsb_stats st;
    memset(&st, 0, sizeof st);
    EXPECT(mmsb_stats_get(bus, &st), MMSB_ERR_INVALID_ARGUMENT);
    st.struct_size = sizeof st + 1;
    EXPECT(mmsb_stats_get(bus, &st), MMSB_ERR_INVALID_ARGUMENT);
    st.struct_size = sizeof st;
    EXPECT(mmsb_stats_get(bus, &st), MMSB_OK);
    TRUE(st.struct_size == sizeof st && st.pages == 3 && st.last_lsn == lsn && st.sync == MMSB_SYNC_GROUP);
    TRUE(st.checkpoints >= 2 && st.in_memory == 0 && st.failed == 0 && st.durable_lsn == lsn);
    EXPECT(mmsb_stats_get(bus, NULL), MMSB_ERR_INVALID_ARGUMENT);

    /* Shared path: "" for a bus that is not shared. */
    char path[8] = "x";
    size_t plen = 99;
    EXPECT(mmsb_shared_path(bus, path, sizeof path, &plen), MMSB_OK);
    TRUE(plen == 0 && path[0] == 0);
    EXPECT(mmsb_shared_path(bus, NULL, 0, &plen), MMSB_ERR_BUFFER_TOO_SMALL);
    EXPECT(mmsb_shared_path(bus, path, sizeof path, NULL), MMSB_ERR_INVALID_ARGUMENT);

    /* Epoch conflicts are not reachable through these writes (no expected
     * epoch in mmsb_write); ErrConflict's code is covered by the mapping
     * test on the Go side. */

    /* Close, then every call answers MMSB_ERR_CLOSED. */
    EXPECT(mmsb_close(bus), MMSB_OK);
    all_calls_answer(bus, MMSB_ERR_CLOSED);

    /* Reopen: the state survived, the hash is the same. */
    mmsb_bus again = 0;
    EXPECT(mmsb_open(dir, NULL, &again), MMSB_OK);
    TRUE(again != bus);
    EXPECT(mmsb_state_hash(again, &hash2), MMSB_OK);
    TRUE(hash2 == hash);

    /* In-memory bus (dir ""), SyncNone, shared path of an in-memory bus. */
    mmsb_bus mem = 0;
    o.sync = MMSB_SYNC_NONE;
    EXPECT(mmsb_open("", &o, &mem), MMSB_OK);
    EXPECT(mmsb_stats_get(mem, &st), MMSB_OK);
    TRUE(st.in_memory == 1 && st.sync == MMSB_SYNC_NONE);
    threads(mem);
    EXPECT(mmsb_close(mem), MMSB_OK);
    EXPECT(mmsb_close(again), MMSB_OK);

    if (failures) {
        fprintf(stderr, "abi_test: %d failures\n", failures);
        return 1;
    }
    printf("abi_test: ok\n");
    return 0;
}
