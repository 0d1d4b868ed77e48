/*
 * record_limit_test.c: a batch larger than one log record holds (256 MiB
 * of payload, the log's record limit) is refused with
 * MMSB_ERR_RECORD_TOO_LARGE, changes nothing, and leaves the bus usable:
 * what was committed before is still there (also after a reopen) and a
 * following small commit succeeds. Run by bindings/c's Go tests:
 *
 *     record_limit_test DIR      (DIR: an empty directory for the bus)
 *
 * The batch is RECORD_LIMIT_WRITES writes (default 17) of one whole
 * 16 MiB page, all pointing at the same buffer, so this program allocates
 * 16 MiB; the library encodes up to the limit before it refuses. The Go
 * test's negative control sets RECORD_LIMIT_WRITES=2 (16 MiB, well under
 * the limit): that batch commits, and this program must fail.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h" /* failures, EXPECT, TRUE */
#include "mmsb.h"

enum { PAGE = 16 << 20 }; /* the largest page (mmsb.MaxPageSize) */

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: record_limit_test DIR\n");
        return 2;
    }
    size_t writes = 17; /* 272 MiB: over the 256 MiB record limit */
    const char *env = getenv("RECORD_LIMIT_WRITES");
    if (env != NULL) writes = strtoul(env, NULL, 10);
    if (writes == 0 || writes > 64) {
        fprintf(stderr, "RECORD_LIMIT_WRITES=%s: want 1..64\n", env);
        return 2;
    }

    mmsb_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.sync = MMSB_SYNC_NONE;
    o.checkpoint_bytes = -1; /* no automatic checkpoint: the log alone holds the state */
    mmsb_bus bus = 0;
    EXPECT(mmsb_open(argv[1], &o, &bus), MMSB_OK);
    if (bus == 0) return 1;

    uint32_t sizes[2] = {PAGE, 64};
    uint64_t ids[2];
    EXPECT(mmsb_create_pages(bus, NULL, sizes, 2, ids), MMSB_OK);
    const uint8_t before[] = "committed before";
    mmsb_write first = {ids[1], 0, sizeof before, before};
    EXPECT(mmsb_commit(bus, &first, 1, NULL, 0, NULL), MMSB_OK);
    uint64_t lsn = 0, hash = 0;
    EXPECT(mmsb_last_lsn(bus, &lsn), MMSB_OK);
    EXPECT(mmsb_state_hash(bus, &hash), MMSB_OK);

    uint8_t *full = malloc(PAGE);
    mmsb_write *batch = calloc(writes, sizeof *batch);
    if (full == NULL || batch == NULL) {
        fprintf(stderr, "record_limit_test: out of memory\n");
        return 1;
    }
    memset(full, 0xab, PAGE);
    for (size_t i = 0; i < writes; i++) batch[i] = (mmsb_write){ids[0], 0, PAGE, full};
    batch[writes - 1].page = ids[1]; /* a write to the small page too: it must not land */
    batch[writes - 1].len = 8;

    /* Refused, synchronous and asynchronous: nothing logged, nothing applied. */
    uint32_t flags[2] = {0, MMSB_COMMIT_ASYNC};
    for (int f = 0; f < 2; f++) {
        mmsb_commit_info ci;
        memset(&ci, 0, sizeof ci);
        EXPECT(mmsb_commit(bus, batch, writes, NULL, flags[f], &ci), MMSB_ERR_RECORD_TOO_LARGE);
        char msg[512];
        mmsb_last_error(msg, sizeof msg);
        TRUE(strstr(msg, "record") != NULL);
        uint64_t now_lsn = 0, now_hash = 0;
        EXPECT(mmsb_last_lsn(bus, &now_lsn), MMSB_OK);
        EXPECT(mmsb_state_hash(bus, &now_hash), MMSB_OK);
        TRUE(now_lsn == lsn);
        TRUE(now_hash == hash);
    }
    uint8_t page[64];
    size_t n = 0;
    EXPECT(mmsb_read(bus, ids[1], page, sizeof page, &n, NULL), MMSB_OK);
    TRUE(n == 64 && memcmp(page, before, sizeof before) == 0);
    mmsb_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    EXPECT(mmsb_stats_get(bus, &st), MMSB_OK);
    TRUE(st.failed == 0);

    /* Still usable: a small commit succeeds, and the replay agrees. */
    const uint8_t after[] = "after";
    mmsb_write next = {ids[1], 32, sizeof after, after};
    mmsb_commit_info ci;
    EXPECT(mmsb_commit(bus, &next, 1, NULL, 0, &ci), MMSB_OK);
    TRUE(ci.first_lsn == lsn + 1);
    mmsb_replay_report rr;
    EXPECT(mmsb_verify_replay(bus, 0, &rr), MMSB_OK);
    TRUE(rr.equal == 1);
    EXPECT(mmsb_state_hash(bus, &hash), MMSB_OK);
    EXPECT(mmsb_close(bus), MMSB_OK);

    /* Nothing committed was lost: the reopened bus has both writes. */
    mmsb_bus again = 0;
    EXPECT(mmsb_open(argv[1], &o, &again), MMSB_OK);
    uint64_t reopened = 0;
    EXPECT(mmsb_state_hash(again, &reopened), MMSB_OK);
    TRUE(reopened == hash);
    EXPECT(mmsb_read(again, ids[1], page, sizeof page, &n, NULL), MMSB_OK);
    TRUE(memcmp(page, before, sizeof before) == 0 && memcmp(page + 32, after, sizeof after) == 0);
    EXPECT(mmsb_close(again), MMSB_OK);

    free(batch);
    free(full);
    if (failures) {
        fprintf(stderr, "record_limit_test: %d failures\n", failures);
        return 1;
    }
    printf("record_limit_test: ok\n");
    return 0;
}
