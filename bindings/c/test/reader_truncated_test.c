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
 * This program installs a SIGBUS handler of its own first: a SIGBUS
 * outside the reader's calls (here: its own truncated mapping) must still
 * reach it, through the reader's handler.
 *
 * Built with -DMMSB_READER_NO_FAULT_GUARD (the Go test's negative
 * control) the first access after a truncation kills this process with
 * SIGBUS, as every access did before the guard.
 *
 *     reader_truncated_test DIR   (DIR unused: the harness's bus dir)
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmsb.h"
#include "mmsb_reader.h"
#include "reader_check.h"


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

static sigjmp_buf own_jump;
static volatile sig_atomic_t own_faults, own_armed;

/* own_handler counts the faults of own_fault; any other SIGBUS (the
 * reader's, in the build without the guard) gets the default action when
 * the access runs again. */
static void own_handler(int sig) {
    if (!own_armed) {
        signal(sig, SIG_DFL);
        return;
    }
    own_faults++;
    siglongjmp(own_jump, 1);
}

/* own_fault maps a file of dir's, truncates it and reads it: a SIGBUS
 * that this program's own handler must receive. */
static void own_fault(const char *dir) {
    char path[4096];
    volatile unsigned char *p;
    int fd;
    snprintf(path, sizeof path, "%s/own", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 4096) != 0) {
        perror(path);
        exit(2);
    }
    p = (volatile unsigned char *)mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (p == (volatile unsigned char *)MAP_FAILED || ftruncate(fd, 0) != 0) {
        perror(path);
        exit(2);
    }
    own_armed = 1;
    if (sigsetjmp(own_jump, 1) == 0)
        (void)p[0];
    own_armed = 0;
    munmap((void *)p, 4096);
    close(fd);
}

int main(void) {
    struct sigaction sa;
    mmsb_reader_options o;
    unsigned char buf[4096];
    size_t size = 0;
    uint64_t lsn = 0;
    mmsb_reader *r = NULL;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = own_handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) != 0) {
        perror("sigaction");
        return 2;
    }
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

    own_fault(env("HEADER_COPY"));
    TRUE(own_faults == 1);

    if (failures) {
        fprintf(stderr, "reader_truncated_test: %d failures\n", failures);
        return 1;
    }
    printf("reader_truncated_test: ok\n");
    return 0;
}
