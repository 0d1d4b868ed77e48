/*
 * reader_short_files_test.c: mmsb_reader.h against region files shorter
 * than the header says. Run by bindings/c's Go test
 * (TestCReaderShortFiles), which writes a region with a Go writer and
 * hands this program copies of it:
 *
 *     GOOD        a copy left whole: opens, page 1 reads (the control)
 *     SHORT_SLOTS a copy whose ids file holds fewer slots than the
 *                 header's slot capacity: open must fail with FORMAT,
 *                 saying how many slots the files hold (it used to open
 *                 and use the slots the files held)
 *     SHORT_CHUNK a copy whose chunk file is shorter than page 1's cell:
 *                 the read must fail with FORMAT ("outside its chunk")
 *     GOING_CLOSED, GOING_SUPERSEDED, GOING_NO_CHUNKS
 *                 copies caught while their writer removes them: the
 *                 header says closed (superseded) and the slot arrays
 *                 (the chunk table) are gone. Open must fail with
 *                 WRITER_GONE (STALE), as for a removed header: it was
 *                 FORMAT, and callers that reopen on those gave up
 *
 *     reader_short_files_test DIR   (DIR unused: the harness's bus dir)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmsb.h"
#include "mmsb_reader.h"
#include "reader_check.h"


int main(void) {
    mmsb_reader_options o;
    memset(&o, 0, sizeof o);
    o.writer_timeout_ns = 50000000;
    o.busy_timeout_ns = 50000000;
    unsigned char buf[4096];
    size_t size = 0;

    mmsb_reader *r = NULL;
    TRUE(mmsb_reader_open_region(env("GOOD"), &o, &r) == MMSB_READER_OK);
    if (r != NULL) {
        TRUE(mmsb_reader_read(r, 1, buf, sizeof buf, &size, NULL) == MMSB_READER_OK);
        TRUE(size == 100 && buf[0] == 7);
        mmsb_reader_close(&r);
    }

    r = NULL;
    TRUE(mmsb_reader_open_region(env("SHORT_SLOTS"), &o, &r) == MMSB_READER_ERR_FORMAT);
    TRUE(strstr(mmsb_reader_errmsg(), "hold 1 slots, the header publishes") != NULL);
    TRUE(r == NULL);
    if (r != NULL)
        mmsb_reader_close(&r);

    r = NULL;
    TRUE(mmsb_reader_open_region(env("SHORT_CHUNK"), &o, &r) == MMSB_READER_OK);
    if (r != NULL) {
        TRUE(mmsb_reader_read(r, 1, buf, sizeof buf, &size, NULL) == MMSB_READER_ERR_FORMAT);
        TRUE(strstr(mmsb_reader_errmsg(), "outside its chunk") != NULL);
        mmsb_reader_close(&r);
    }

    r = NULL;
    TRUE(mmsb_reader_open_region(env("GOING_CLOSED"), &o, &r) == MMSB_READER_ERR_WRITER_GONE);
    TRUE(strstr(mmsb_reader_errmsg(), "closed the bus") != NULL);
    TRUE(r == NULL);
    TRUE(mmsb_reader_open_region(env("GOING_SUPERSEDED"), &o, &r) == MMSB_READER_ERR_STALE);
    TRUE(r == NULL);
    TRUE(mmsb_reader_open_region(env("GOING_NO_CHUNKS"), &o, &r) == MMSB_READER_ERR_WRITER_GONE);
    TRUE(r == NULL);
    if (r != NULL)
        mmsb_reader_close(&r);

    if (failures) {
        fprintf(stderr, "reader_short_files_test: %d failures\n", failures);
        return 1;
    }
    printf("reader_short_files_test: ok\n");
    return 0;
}
