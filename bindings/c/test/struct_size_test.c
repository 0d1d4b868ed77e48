/*
 * struct_size_test.c: the struct_size rule of mmsb.h's structs
 * (mmsb_options, mmsb_stats), as programs built against other versions of
 * the header call the library:
 *   - an older program's struct (declared size at least the first
 *     published one): only its declared bytes are read or written;
 *   - a newer program's larger struct: input accepted when every byte past
 *     the library's struct is zero, refused naming the byte otherwise;
 *     output filled, with the bytes the library does not know zeroed;
 *   - sizes no struct has (under the first published size, not a multiple
 *     of the alignment, over 4096): MMSB_ERR_INVALID_ARGUMENT naming it.
 * Run by bindings/c's Go tests (TestCStructSize):
 *
 *     struct_size_test DIR      (DIR: an empty directory for the bus)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h" /* failures, EXPECT, TRUE */
#include "mmsb.h"

/* The last error must mention want. */
static void error_says(int line, const char *want) {
    char msg[512];
    mmsb_last_error(msg, sizeof msg);
    if (strstr(msg, want) == NULL) {
        fprintf(stderr, "%s:%d: last error \"%s\" does not say \"%s\"\n", __FILE__, line, msg, want);
        failures++;
    }
}
#define ERROR_SAYS(want) error_says(__LINE__, want)

/* A newer program's structs: today's, then fields this library does not
 * know. */
typedef struct {
    mmsb_options v;
    uint64_t future[2];
} options_next;

typedef struct {
    mmsb_stats v;
    uint64_t future[2];
} stats_next;

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: struct_size_test DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char msg[512];
    mmsb_bus bus = 0;

    /* Options of a newer program with its new fields at their defaults
     * (zero): accepted, and the known fields are honoured. */
    options_next on;
    memset(&on, 0, sizeof on);
    on.v.struct_size = sizeof on;
    on.v.sync = MMSB_SYNC_NONE;
    on.v.checkpoint_bytes = -1;
    EXPECT(mmsb_open(dir, &on.v, &bus), MMSB_OK);
    if (bus == 0) return 1;
    stats_next sn;
    memset(&sn, 0xAA, sizeof sn); /* garbage the library must overwrite */
    sn.v.struct_size = sizeof sn;
    EXPECT(mmsb_stats_get(bus, &sn.v), MMSB_OK);
    TRUE(sn.v.struct_size == sizeof sn); /* the caller's size is kept */
    TRUE(sn.v.sync == MMSB_SYNC_NONE && sn.v.checkpoints == 0 && sn.v.in_memory == 0 && sn.v.failed == 0);
    TRUE(sn.future[0] == 0 && sn.future[1] == 0); /* fields it does not know: zero */
    EXPECT(mmsb_close(bus), MMSB_OK);

    /* A newer program asking for a new field (non-zero) is refused, naming
     * the byte; so is one whose padding is garbage. */
    bus = 0;
    on.future[1] = 1;
    EXPECT(mmsb_open(dir, &on.v, &bus), MMSB_ERR_INVALID_ARGUMENT);
    TRUE(bus == 0);
    snprintf(msg, sizeof msg, "byte %zu is 0x1", sizeof(mmsb_options) + 8);
    ERROR_SAYS(msg);
    ERROR_SAYS("mmsb_options.struct_size");
    on.future[1] = 0;
    memset(&on.future[0], 0xFF, 1);
    EXPECT(mmsb_open(dir, &on.v, &bus), MMSB_ERR_INVALID_ARGUMENT);
    snprintf(msg, sizeof msg, "byte %zu is 0xff", sizeof(mmsb_options));
    ERROR_SAYS(msg);
    on.future[0] = 0;

    /* An older program's options: only its declared bytes are read. The
     * struct is today's size (ABI 1.0's, the first published), followed by
     * bytes that are not its own. */
    struct {
        mmsb_options v;
        unsigned char beyond[64];
    } old;
    memset(&old, 0, sizeof old);
    memset(old.beyond, 0x5C, sizeof old.beyond);
    old.v.struct_size = sizeof old.v;
    old.v.sync = MMSB_SYNC_ALWAYS;
    EXPECT(mmsb_open(dir, &old.v, &bus), MMSB_OK);
    if (bus == 0) return 1;
    /* ...and an older program's stats: nothing past its size is written. */
    struct {
        mmsb_stats v;
        unsigned char beyond[64];
    } olds;
    memset(&olds, 0x5C, sizeof olds);
    olds.v.struct_size = sizeof olds.v;
    EXPECT(mmsb_stats_get(bus, &olds.v), MMSB_OK);
    TRUE(olds.v.sync == MMSB_SYNC_ALWAYS && olds.v.struct_size == sizeof olds.v);
    for (size_t i = 0; i < sizeof olds.beyond; i++) TRUE(olds.beyond[i] == 0x5C);

    /* Sizes that no mmsb_stats has: refused, and *out left alone. */
    const uint32_t bad_stats[] = {0, 4, (uint32_t)sizeof(mmsb_stats) - 8, (uint32_t)sizeof(mmsb_stats) + 1,
                                  4096 + 8, UINT32_MAX};
    const char *bad_says[] = {"smaller than", "smaller than", "smaller than", "not a multiple of",
                              "larger than 4096", "larger than 4096"};
    for (size_t i = 0; i < sizeof bad_stats / sizeof bad_stats[0]; i++) {
        memset(&sn, 0x33, sizeof sn);
        sn.v.struct_size = bad_stats[i];
        EXPECT(mmsb_stats_get(bus, &sn.v), MMSB_ERR_INVALID_ARGUMENT);
        ERROR_SAYS(bad_says[i]);
        ERROR_SAYS("mmsb_stats.struct_size");
        TRUE(sn.v.sync == 0x33333333 && sn.future[1] == 0x3333333333333333ULL);
    }
    EXPECT(mmsb_close(bus), MMSB_OK);

    /* Sizes that no mmsb_options has: refused, nothing opened. */
    for (size_t i = 0; i < sizeof bad_stats / sizeof bad_stats[0]; i++) {
        const uint32_t size = bad_stats[i] == sizeof(mmsb_stats) - 8   ? (uint32_t)sizeof(mmsb_options) - 8
                              : bad_stats[i] == sizeof(mmsb_stats) + 1 ? (uint32_t)sizeof(mmsb_options) + 1
                                                                       : bad_stats[i];
        memset(&on, 0, sizeof on);
        on.v.struct_size = size;
        bus = 0;
        EXPECT(mmsb_open(dir, &on.v, &bus), MMSB_ERR_INVALID_ARGUMENT);
        TRUE(bus == 0);
        ERROR_SAYS(bad_says[i]);
        ERROR_SAYS("mmsb_options.struct_size");
    }

    if (failures != 0) {
        fprintf(stderr, "struct_size_test: %d failure(s)\n", failures);
        return 1;
    }
    printf("struct_size_test: ok\n");
    return 0;
}
