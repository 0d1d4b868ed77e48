/*
 * reader_config_test.c: mmsb_reader.h's answers to configuration mistakes
 * and its sticky WRITER_GONE. Run by bindings/c's Go tests
 * (TestCReaderConfigurationMistakes), plain and under ASan + UBSan:
 *
 *     reader_config_test DIR      (DIR: an empty directory for the bus)
 *
 * Before: a shared_dir that does not exist, a bus directory given to
 * mmsb_reader_open_region and a file given as the bus directory were
 * MMSB_READER_ERR_WRITER_GONE, which callers retry for ever; an empty bus
 * directory said "region path: NULL or empty argument", naming no
 * argument; and mmsb_reader_last_lsn answered OK after a call had found
 * the writer gone. Each is now MMSB_READER_ERR_INVALID naming the path, as
 * Go's OpenReader (ErrInvalidOption) and Python's Reader (InvalidArgument)
 * answer, and last_lsn is WRITER_GONE like every call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmsb.h"
#include "mmsb_reader.h"
#include "reader_check.h"

/* says: rc is want and the reader's message holds text. */
#define SAYS(call, want, text)                                                             \
    do {                                                                                   \
        mmsb_reader *r_ = NULL;                                                            \
        int rc_ = (call);                                                                  \
        if (rc_ != (want) || strstr(mmsb_reader_errmsg(), (text)) == NULL) {               \
            fprintf(stderr, "%s:%d: %s = %d (%s), want %d saying \"%s\"\n", __FILE__,      \
                    __LINE__, #call, rc_, mmsb_reader_errmsg(), (want), (text));           \
            failures++;                                                                    \
        }                                                                                  \
        (void)r_;                                                                          \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: reader_config_test DIR\n");
        return 2;
    }
    const char *bus_dir = argv[1];
    char parent[1024], none[1040], file[1040], through[1060], want[4096], region[PATH_MAX];
    if (strlen(bus_dir) >= sizeof parent) {
        fprintf(stderr, "%s: too long for this test\n", bus_dir);
        return 2;
    }
    snprintf(parent, sizeof parent, "%s", bus_dir);
    *strrchr(parent, '/') = '\0';
    snprintf(none, sizeof none, "%s/none", parent);
    snprintf(file, sizeof file, "%s/file", parent);
    FILE *f = fopen(file, "w");
    if (f == NULL || fclose(f) != 0) {
        perror(file);
        return 1;
    }

    mmsb_bus bus;
    mmsb_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.sync = MMSB_SYNC_NONE;
    o.shared = 1;
    if (mmsb_open(bus_dir, &o, &bus) != MMSB_OK) {
        char msg[256];
        mmsb_last_error(msg, sizeof msg);
        fprintf(stderr, "mmsb_open: %s\n", msg);
        return 1;
    }
    uint32_t size = 64;
    uint64_t page = 0;
    TRUE(mmsb_create_pages(bus, NULL, &size, 1, &page) == MMSB_OK);

    mmsb_reader *r = NULL;
    snprintf(want, sizeof want, "shared_dir %s does not exist", none);
    SAYS(mmsb_reader_open(bus_dir, none, NULL, &r_), MMSB_READER_ERR_INVALID, want);
    snprintf(want, sizeof want, "shared_dir %s is not a directory", file);
    SAYS(mmsb_reader_open(bus_dir, file, NULL, &r_), MMSB_READER_ERR_INVALID, want);
    snprintf(through, sizeof through, "%s/x", file);
    snprintf(want, sizeof want, "shared_dir %s is not a directory", through);
    SAYS(mmsb_reader_open(bus_dir, through, NULL, &r_), MMSB_READER_ERR_INVALID, want);
    snprintf(want, sizeof want, "the bus directory %s is not a directory", file);
    SAYS(mmsb_reader_open(file, NULL, NULL, &r_), MMSB_READER_ERR_INVALID, want);
    snprintf(want, sizeof want, "%s is a bus directory (it holds LOCK)", bus_dir);
    SAYS(mmsb_reader_open_region(bus_dir, NULL, &r_), MMSB_READER_ERR_INVALID, want);
    SAYS(mmsb_reader_open("", NULL, NULL, &r_), MMSB_READER_ERR_INVALID, "region path: the bus directory is empty");
    SAYS(mmsb_reader_region_path("", NULL, region, sizeof region), MMSB_READER_ERR_INVALID, "the bus directory is empty");
    SAYS(mmsb_reader_region_path(NULL, NULL, region, sizeof region), MMSB_READER_ERR_INVALID, "the bus directory is NULL");
    SAYS(mmsb_reader_region_path(bus_dir, NULL, NULL, 0), MMSB_READER_ERR_INVALID, "NULL buffer");
    /* Not a mistake: a region not published (yet) under the right shared_dir. */
    SAYS(mmsb_reader_open(bus_dir, parent, NULL, &r_), MMSB_READER_ERR_WRITER_GONE, "no shared region");

    TRUE(mmsb_reader_open(bus_dir, NULL, NULL, &r) == MMSB_READER_OK);
    if (r == NULL) return 1;
    uint64_t lsn = 0;
    uint8_t buf[64];
    size_t n = 0;
    TRUE(mmsb_reader_last_lsn(r, &lsn) == MMSB_READER_OK && lsn > 0);
    TRUE(mmsb_close(bus) == MMSB_OK);
    TRUE(mmsb_reader_read(r, page, buf, sizeof buf, &n, NULL) == MMSB_READER_ERR_WRITER_GONE);
    lsn = 0;
    TRUE(mmsb_reader_last_lsn(r, &lsn) == MMSB_READER_ERR_WRITER_GONE); /* was OK: sticky, as every call */
    TRUE(mmsb_reader_read(r, page, buf, sizeof buf, &n, NULL) == MMSB_READER_ERR_WRITER_GONE);
    mmsb_reader_close(&r);
    if (failures) {
        fprintf(stderr, "reader_config_test: %d failures\n", failures);
        return 1;
    }
    printf("reader_config_test: ok\n");
    return 0;
}
