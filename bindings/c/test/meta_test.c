/*
 * meta_test.c: page metadata through the C ABI (ABI 1.2): mmsb_create_pages_meta,
 * mmsb_set_metadata, mmsb_page_meta (encoded form, mmsb_read's buffer rule)
 * and mmsb_meta_decode, with the bad input a C caller can pass: a NUL in a
 * key, NULL pointers with lengths, too many entries, lengths up to SIZE_MAX
 * over a one-byte buffer (refused before anything is read), encodings cut
 * short or with trailing bytes, or mutated at random (a fixed seed). After
 * every refusal nothing was logged and the page's metadata is unchanged.
 * The metadata survives a reopen, a checkpoint and both replay checks, and
 * threads on one page read one thread's entries whole.
 *
 * Run by bindings/c's Go tests (TestCMetadata):
 *
 *     meta_test DIR      (DIR: an empty directory)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h" /* failures, EXPECT, TRUE */
#include "mmsb.h"

#define FILL 0x5a

static int untouched(const void *buf, size_t n) {
    const unsigned char *p = buf;
    for (size_t i = 0; i < n; i++)
        if (p[i] != FILL) return 0;
    return 1;
}

static int last_error_has(const char *s) {
    char msg[512];
    mmsb_last_error(msg, sizeof msg);
    if (strstr(msg, s) != NULL) return 1;
    fprintf(stderr, "last error \"%s\" does not contain \"%s\"\n", msg, s);
    return 0;
}

/* put_u32 appends v little-endian. */
static size_t put_u32(uint8_t *p, size_t off, uint32_t v) {
    p[off] = v & 0xff;
    p[off + 1] = (v >> 8) & 0xff;
    p[off + 2] = (v >> 16) & 0xff;
    p[off + 3] = v >> 24;
    return off + 4;
}

/* encode writes the documented encoding of n entries into p; returns its size. */
static size_t encode(uint8_t *p, const mmsb_meta_entry *e, size_t n) {
    if (n == 0) return 0;
    size_t off = put_u32(p, 0, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        off = put_u32(p, off, (uint32_t)e[i].key_len);
        memcpy(p + off, e[i].key, e[i].key_len);
        off += e[i].key_len;
        off = put_u32(p, off, (uint32_t)e[i].value_len);
        if (e[i].value_len) memcpy(p + off, e[i].value, e[i].value_len);
        off += e[i].value_len;
    }
    return off;
}

/* meta_is: page's metadata is exactly the n entries of want (read and decoded). */
static int meta_is(mmsb_bus bus, uint64_t page, const mmsb_meta_entry *want, size_t n) {
    uint8_t enc[512], expect[512];
    size_t len = 0, got = 0;
    mmsb_meta_entry es[8];
    if (mmsb_page_meta(bus, page, enc, sizeof enc, &len) != MMSB_OK) return 0;
    size_t elen = encode(expect, want, n);
    if (len != elen || memcmp(enc, expect, len) != 0) {
        fprintf(stderr, "page %llu metadata: %zu bytes, want %zu\n", (unsigned long long)page, len, elen);
        return 0;
    }
    if (mmsb_meta_decode(enc, len, es, 8, &got) != MMSB_OK || got != n) return 0;
    for (size_t i = 0; i < n; i++) {
        if (es[i].key_len != want[i].key_len || memcmp(es[i].key, want[i].key, want[i].key_len) != 0 ||
            es[i].value_len != want[i].value_len ||
            (want[i].value_len && memcmp(es[i].value, want[i].value, want[i].value_len) != 0)) {
            fprintf(stderr, "page %llu entry %zu differs\n", (unsigned long long)page, i);
            return 0;
        }
        /* Views into the buffer decoded. */
        if ((const uint8_t *)es[i].key < enc || (const uint8_t *)es[i].key + es[i].key_len > enc + len) return 0;
    }
    return 1;
}

static const uint8_t f64[] = "f64";
static const uint8_t mark[] = "c signal";

/* The entries a caller gets wrong; each must be refused with want, naming
 * what, and change nothing. */
static void refusals(mmsb_bus bus, uint64_t page, const mmsb_meta_entry *kept, size_t kept_n) {
    uint64_t lsn0 = 0, lsn = 0;
    uint8_t one = 1;
    mmsb_meta_entry big[2];
    static uint8_t wide[65536];
    EXPECT(mmsb_last_lsn(bus, &lsn0), MMSB_OK);
    struct {
        mmsb_meta_entry e;
        size_t n;
        int want;
        const char *what;
    } cases[] = {
        {{"a\0b", 3, f64, 3}, 1, MMSB_ERR_INVALID_ARGUMENT, "NUL byte at offset 1"},
        {{"\0", 1, f64, 3}, 1, MMSB_ERR_INVALID_ARGUMENT, "NUL byte at offset 0"},
        {{NULL, 2, f64, 3}, 1, MMSB_ERR_INVALID_ARGUMENT, "NULL key"},
        {{"k", 1, NULL, 3}, 1, MMSB_ERR_INVALID_ARGUMENT, "NULL value"},
        /* Lengths no page holds, over a one-byte buffer: refused unread. */
        {{"k", 1, &one, SIZE_MAX}, 1, MMSB_ERR_INVALID_PAGE, "past 65536 bytes"},
        {{"k", SIZE_MAX, &one, 1}, 1, MMSB_ERR_INVALID_PAGE, "past 65536 bytes"},
        {{"k", 1, &one, 65536 - 12 + 1}, 1, MMSB_ERR_INVALID_PAGE, "past 65536 bytes"},
        /* 8192 entries claimed, one there: refused before any is read. */
        {{"k", 1, &one, 1}, 8192, MMSB_ERR_INVALID_PAGE, "8192 metadata entries, at most 8191"},
        {{"k", 1, &one, 1}, SIZE_MAX, MMSB_ERR_INVALID_PAGE, "at most 8191"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        EXPECT(mmsb_set_metadata(bus, page, &cases[i].e, cases[i].n), cases[i].want);
        TRUE(last_error_has(cases[i].what));
        uint64_t ids[1] = {0}, out[1] = {FILL};
        uint32_t size = 8;
        EXPECT(mmsb_create_pages_meta(bus, ids, &size, 1, &cases[i].e, cases[i].n, out), cases[i].want);
        TRUE(last_error_has(cases[i].what));
        TRUE(out[0] == FILL);
    }
    EXPECT(mmsb_last_lsn(bus, &lsn), MMSB_OK);
    TRUE(lsn == lsn0); /* nothing logged by a refusal */
    /* The largest encoding fits exactly; one byte more is refused. */
    big[0] = (mmsb_meta_entry){"k", 1, wide, 65536 - 4 - 8 - 1};
    EXPECT(mmsb_set_metadata(bus, page, big, 1), MMSB_OK);
    EXPECT(mmsb_last_lsn(bus, &lsn0), MMSB_OK);
    big[0].value_len = 30000;
    big[1] = (mmsb_meta_entry){"j", 1, wide, 40000};
    EXPECT(mmsb_set_metadata(bus, page, big, 2), MMSB_ERR_INVALID_PAGE);
    TRUE(last_error_has("entry 1 (key_len 1, value_len 40000)"));
    /* 8192 pages of the largest metadata: 512 MiB of copies, more than a
     * log record holds, refused before they are made. */
    static uint32_t many[8192];
    for (size_t i = 0; i < 8192; i++) many[i] = 8;
    big[0].value_len = 65536 - 4 - 8 - 1;
    EXPECT(mmsb_create_pages_meta(bus, NULL, many, 8192, big, 1, NULL), MMSB_ERR_RECORD_TOO_LARGE);
    TRUE(last_error_has("8192 pages with 65536 bytes of metadata each"));
    EXPECT(mmsb_set_metadata(bus, page, NULL, 1), MMSB_ERR_INVALID_ARGUMENT);
    TRUE(last_error_has("meta is NULL with 1 entries"));
    EXPECT(mmsb_last_lsn(bus, &lsn), MMSB_OK);
    TRUE(lsn == lsn0); /* nothing logged by a refusal */
    EXPECT(mmsb_set_metadata(bus, page, kept, kept_n), MMSB_OK);
    TRUE(meta_is(bus, page, kept, kept_n));
}

static void decode_refusals(void) {
    uint8_t enc[64];
    mmsb_meta_entry es[4];
    size_t n = 77;
    memset(es, FILL, sizeof es);
    /* Encodings that are none. */
    struct {
        uint8_t bytes[24];
        size_t len;
        const char *what;
    } bad[] = {
        {{1, 0, 0}, 3, "need 4 for the count"},
        {{0, 0, 0, 0}, 4, "zero entry count"},
        {{1, 0, 0, 0, 1, 0, 0, 0, 'k', 0, 0, 0, 0, 9}, 14, "1 trailing bytes"},
        {{2, 0, 0, 0, 1, 0, 0, 0, 'k', 0, 0, 0, 0}, 13, "count 2 does not fit"},
        {{1, 0, 0, 0, 9, 0, 0, 0, 'k', 0, 0, 0, 0}, 13, "key length 9"},
        {{1, 0, 0, 0, 1, 0, 0, 0, 'k', 5, 0, 0, 0}, 13, "value length 5"},
        {{1, 0, 0, 0, 3, 0, 0, 0, 'k', 'e', 'y', 0, 0}, 13, "value length truncated at offset 11"},
        {{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, 12, "key length 4294967295"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 77;
        EXPECT(mmsb_meta_decode(bad[i].bytes, bad[i].len, es, 4, &n), MMSB_ERR_INVALID_ARGUMENT);
        TRUE(last_error_has(bad[i].what));
        TRUE(n == 77 && untouched(es, sizeof es));
    }
    /* Arguments. */
    EXPECT(mmsb_meta_decode(enc, 4, es, 4, NULL), MMSB_ERR_INVALID_ARGUMENT);
    TRUE(last_error_has("n is NULL"));
    EXPECT(mmsb_meta_decode(NULL, 4, es, 4, &n), MMSB_ERR_INVALID_ARGUMENT);
    TRUE(last_error_has("meta (with a non-zero len) is NULL"));
    EXPECT(mmsb_meta_decode(enc, 4, NULL, 4, &n), MMSB_ERR_INVALID_ARGUMENT);
    TRUE(last_error_has("entries (with a non-zero capacity) is NULL"));
    /* A length no page's metadata has, over a small buffer: refused unread. */
    EXPECT(mmsb_meta_decode(enc, 65537, es, 4, &n), MMSB_ERR_INVALID_ARGUMENT);
    TRUE(last_error_has("65537 bytes"));
    EXPECT(mmsb_meta_decode(enc, SIZE_MAX, es, 4, &n), MMSB_ERR_INVALID_ARGUMENT);
    /* Empty: no entries, entries may be NULL. */
    EXPECT(mmsb_meta_decode(NULL, 0, NULL, 0, &n), MMSB_OK);
    TRUE(n == 0);
    /* Too small an array: the count, nothing written. */
    mmsb_meta_entry two[2] = {{"a", 1, f64, 3}, {"", 0, NULL, 0}};
    size_t len = encode(enc, two, 2);
    memset(es, FILL, sizeof es);
    EXPECT(mmsb_meta_decode(enc, len, NULL, 0, &n), MMSB_ERR_BUFFER_TOO_SMALL);
    TRUE(n == 2);
    EXPECT(mmsb_meta_decode(enc, len, es, 1, &n), MMSB_ERR_BUFFER_TOO_SMALL);
    TRUE(n == 2 && untouched(es, sizeof es));
    TRUE(last_error_has("holds 2 entries; the array holds 1"));
    EXPECT(mmsb_meta_decode(enc, len, es, 2, &n), MMSB_OK);
    TRUE(n == 2 && es[0].key_len == 1 && es[0].key[0] == 'a' && es[0].value_len == 3 && es[1].key_len == 0 &&
         es[1].value_len == 0);
    TRUE(untouched(&es[2], 2 * sizeof es[0])); /* only the result written */
}

/* decode_mutations feeds mmsb_meta_decode valid encodings with random bytes
 * changed, cut or added (a fixed seed: the same inputs every run), each in
 * a heap block of exactly its length so that ASan sees a read past it.
 * Every answer is MMSB_OK with entries that tile the bytes exactly (count,
 * then per entry its two lengths, key and value, in order, all inside the
 * buffer) or MMSB_ERR_INVALID_ARGUMENT with *n and the array untouched. */
static void decode_mutations(void) {
    uint32_t x = 2463534242u; /* xorshift32 state */
#define NEXT() (x ^= x << 13, x ^= x >> 17, x ^= x << 5, x)
    uint8_t base[128];
    mmsb_meta_entry three[3] = {{"example", 7, mark, sizeof mark - 1}, {"", 0, NULL, 0}, {"mmsb.type", 9, f64, 3}};
    size_t blen = encode(base, three, 3);
    int ok = 0, refused = 0;
    for (int round = 0; round < 20000; round++) {
        uint8_t tmp[160];
        size_t len = blen;
        memcpy(tmp, base, blen);
        for (uint32_t k = NEXT() % 4 + 1; k > 0; k--) {
            uint32_t r = NEXT();
            size_t c = (r >> 8) % 4 + 1; /* bytes cut or added */
            switch (r % 4) {
            case 0: /* a byte changed */
                tmp[(r >> 8) % len] = (uint8_t)(r >> 16);
                break;
            case 1: /* a bit flipped */
                tmp[(r >> 8) % len] ^= (uint8_t)(1u << ((r >> 16) % 8));
                break;
            case 2: /* cut short */
                len = c < len ? len - c : 0;
                break;
            default: /* bytes added */
                if (len + c <= sizeof tmp) {
                    memset(tmp + len, (int)(r >> 16) & 0xff, c);
                    len += c;
                }
            }
            if (len == 0) break;
        }
        uint8_t *buf = malloc(len ? len : 1);
        TRUE(buf != NULL);
        if (!buf) return;
        memcpy(buf, tmp, len);
        mmsb_meta_entry es[8];
        memset(es, FILL, sizeof es);
        size_t n = 77;
        int st = mmsb_meta_decode(buf, len, es, 8, &n);
        if (st == MMSB_OK) {
            ok++;
            /* The entries tile the encoding: 4 count bytes, then per entry
             * 4 + key + 4 + value, in order. */
            size_t off = len ? 4 : 0;
            TRUE(n <= 8);
            for (size_t i = 0; i < n && i < 8; i++) {
                TRUE((const uint8_t *)es[i].key == buf + off + 4);
                off += 4 + es[i].key_len;
                TRUE(es[i].value == buf + off + 4);
                off += 4 + es[i].value_len;
            }
            TRUE(off == len && untouched(&es[n < 8 ? n : 8], (8 - (n < 8 ? n : 8)) * sizeof es[0]));
        } else if (st == MMSB_ERR_BUFFER_TOO_SMALL) {
            TRUE(n > 8 && untouched(es, sizeof es)); /* many empty entries */
        } else {
            refused++;
            EXPECT(st, MMSB_ERR_INVALID_ARGUMENT);
            TRUE(n == 77 && untouched(es, sizeof es));
        }
        free(buf);
    }
#undef NEXT
    TRUE(ok > 0 && refused > 0); /* both answers were reached */
}

/* Threads at once on one bus: each replaces a shared page's metadata with
 * its own entries and reads it back whole (one thread's entries, never a
 * mix), and its refusals' messages are its own (the last error is
 * per thread). */
#define THREADS 4
#define ROUNDS 100

struct racer {
    mmsb_bus bus;
    uint64_t page;
    int id;
    int bad; /* checks failed */
};

static void *race(void *arg) {
    struct racer *r = arg;
    char key[16], nul[16], msg[256];
    uint8_t val[64], enc[512];
    snprintf(key, sizeof key, "thread%d", r->id);
    memset(val, 'a' + r->id, sizeof val);
    mmsb_meta_entry mine[2] = {{key, strlen(key), val, sizeof val}, {"mmsb.type", 9, f64, 3}};
    int n = snprintf(nul, sizeof nul, "t%d", r->id);
    mmsb_meta_entry bad = {nul, (size_t)n + 1, val, 1}; /* its NUL terminator in the key */
    for (int i = 0; i < ROUNDS; i++) {
        size_t len = 0, got = 0;
        mmsb_meta_entry es[4];
        if (mmsb_set_metadata(r->bus, r->page, mine, 2) != MMSB_OK) r->bad++;
        if (mmsb_page_meta(r->bus, r->page, enc, sizeof enc, &len) != MMSB_OK ||
            mmsb_meta_decode(enc, len, es, 4, &got) != MMSB_OK || got != 2) {
            r->bad++;
            continue;
        }
        /* Whichever thread wrote last, its two entries, whole. */
        int who = es[0].key_len == strlen(key) ? es[0].key[6] - '0' : -1;
        if (who < 0 || who >= THREADS || es[0].value_len != sizeof val || es[1].key_len != 9)
            r->bad++;
        else
            for (size_t j = 0; j < sizeof val; j++)
                if (es[0].value[j] != 'a' + who) {
                    r->bad++;
                    break;
                }
        if (mmsb_set_metadata(r->bus, r->page, &bad, 1) != MMSB_ERR_INVALID_ARGUMENT) r->bad++;
        mmsb_last_error(msg, sizeof msg);
        if (strstr(msg, nul) == NULL) r->bad++;
    }
    return NULL;
}

static void threads(mmsb_bus bus) {
    uint32_t size = 8;
    uint64_t page = 0;
    EXPECT(mmsb_create_pages_meta(bus, NULL, &size, 1, NULL, 0, &page), MMSB_OK);
    pthread_t th[THREADS];
    struct racer rs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        rs[i] = (struct racer){bus, page, i, 0};
        TRUE(pthread_create(&th[i], NULL, race, &rs[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        TRUE(pthread_join(th[i], NULL) == 0);
        if (rs[i].bad) fprintf(stderr, "thread %d: %d checks failed\n", i, rs[i].bad);
        TRUE(rs[i].bad == 0);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: meta_test DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    mmsb_bus bus = 0;
    TRUE(mmsb_abi_version() >= 10002);
    EXPECT(mmsb_open(dir, NULL, &bus), MMSB_OK);

    /* Created with metadata, in one batch. */
    mmsb_meta_entry meta[2] = {{"example", 7, mark, sizeof mark - 1}, {"mmsb.type", 9, f64, 3}};
    uint32_t sizes[3] = {64, 64, 64};
    uint64_t ids[3] = {0, 0, 0};
    EXPECT(mmsb_create_pages_meta(bus, NULL, sizes, 2, meta, 2, ids), MMSB_OK);
    TRUE(ids[0] == 1 && ids[1] == 2);
    TRUE(meta_is(bus, 1, meta, 2) && meta_is(bus, 2, meta, 2));
    /* No metadata: meta NULL, 0 entries; mmsb_create_pages likewise. */
    EXPECT(mmsb_create_pages_meta(bus, NULL, sizes, 1, NULL, 0, &ids[2]), MMSB_OK);
    TRUE(meta_is(bus, ids[2], NULL, 0));

    /* mmsb_page_meta's buffer rule (mmsb_read's). */
    uint8_t buf[256], want[256];
    size_t wlen = encode(want, meta, 2), len = 0;
    EXPECT(mmsb_page_meta(bus, 1, NULL, 0, &len), MMSB_ERR_BUFFER_TOO_SMALL);
    TRUE(len == wlen);
    TRUE(last_error_has("takes 47 bytes; the buffer holds 0"));
    memset(buf, FILL, sizeof buf);
    EXPECT(mmsb_page_meta(bus, 1, buf, wlen - 1, &len), MMSB_ERR_BUFFER_TOO_SMALL);
    TRUE(len == wlen && untouched(buf, sizeof buf));
    EXPECT(mmsb_page_meta(bus, 1, buf, wlen, &len), MMSB_OK);
    TRUE(len == wlen && memcmp(buf, want, wlen) == 0 && untouched(buf + wlen, sizeof buf - wlen));
    memset(buf, FILL, sizeof buf);
    EXPECT(mmsb_page_meta(bus, 1, buf, SIZE_MAX, &len), MMSB_OK); /* only the result written */
    TRUE(len == wlen && memcmp(buf, want, wlen) == 0 && untouched(buf + wlen, sizeof buf - wlen));
    EXPECT(mmsb_page_meta(bus, 1, NULL, 8, &len), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_page_meta(bus, 1, buf, 8, NULL), MMSB_ERR_INVALID_ARGUMENT);
    EXPECT(mmsb_page_meta(bus, 99, buf, sizeof buf, &len), MMSB_ERR_PAGE_NOT_FOUND);
    EXPECT(mmsb_page_meta(bus, ids[2], NULL, 0, &len), MMSB_OK); /* none: 0 bytes fit anywhere */
    TRUE(len == 0);

    /* Replace, duplicate keys (first place, last value), clear. */
    mmsb_meta_entry dup[3] = {{"a", 1, f64, 3}, {"b", 1, NULL, 0}, {"a", 1, mark, 2}};
    mmsb_meta_entry merged[2] = {{"a", 1, mark, 2}, {"b", 1, NULL, 0}};
    EXPECT(mmsb_set_metadata(bus, 2, dup, 3), MMSB_OK);
    TRUE(meta_is(bus, 2, merged, 2));
    EXPECT(mmsb_set_metadata(bus, 2, NULL, 0), MMSB_OK);
    TRUE(meta_is(bus, 2, NULL, 0));
    EXPECT(mmsb_set_metadata(bus, 99, meta, 2), MMSB_ERR_PAGE_NOT_FOUND);

    /* Bad input: refused, nothing changed or created. */
    mmsb_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    EXPECT(mmsb_stats_get(bus, &st), MMSB_OK);
    uint64_t pages = st.pages;
    refusals(bus, 1, meta, 2);
    EXPECT(mmsb_stats_get(bus, &st), MMSB_OK);
    TRUE(st.pages == pages);
    decode_refusals();
    decode_mutations();
    threads(bus);

    /* Logged: a reopened bus has the same metadata. */
    EXPECT(mmsb_close(bus), MMSB_OK);
    EXPECT(mmsb_open(dir, NULL, &bus), MMSB_OK);
    TRUE(meta_is(bus, 1, meta, 2) && meta_is(bus, 2, NULL, 0));

    /* Through a checkpoint and a log tail after it: page 2's metadata is
     * in the checkpoint, page 3's (cleared, then set again) only in the
     * tail; recovery and both replays (from LSN 1, from the checkpoint)
     * agree with the live state, metadata included. */
    mmsb_meta_entry later[1] = {{"after", 5, mark, sizeof mark - 1}};
    EXPECT(mmsb_set_metadata(bus, 2, dup, 3), MMSB_OK);
    mmsb_checkpoint_info ci;
    EXPECT(mmsb_checkpoint(bus, &ci), MMSB_OK);
    EXPECT(mmsb_set_metadata(bus, 3, later, 1), MMSB_OK);
    EXPECT(mmsb_set_metadata(bus, 1, NULL, 0), MMSB_OK);
    for (int from_ckpt = 0; from_ckpt <= 1; from_ckpt++) {
        mmsb_replay_report rr;
        memset(&rr, 0, sizeof rr);
        EXPECT(mmsb_verify_replay(bus, from_ckpt, &rr), MMSB_OK);
        TRUE(rr.equal == 1 && rr.pages_differing == 0);
        TRUE(!from_ckpt || rr.checkpoint_lsn == ci.lsn);
    }
    EXPECT(mmsb_close(bus), MMSB_OK);
    EXPECT(mmsb_open(dir, NULL, &bus), MMSB_OK);
    TRUE(meta_is(bus, 1, NULL, 0) && meta_is(bus, 2, merged, 2) && meta_is(bus, 3, later, 1));
    EXPECT(mmsb_close(bus), MMSB_OK);

    if (failures) {
        fprintf(stderr, "meta_test: %d failures\n", failures);
        return 1;
    }
    printf("meta_test: ok\n");
    return 0;
}
