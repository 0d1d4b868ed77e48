/*
 * reader_check.h: what the C reader's test programs share: TRUE(cond),
 * which counts a failed expectation and prints it with the reader's last
 * message, and env(name), a variable the Go test must have set.
 */
#ifndef MMSB_READER_CHECK_H
#define MMSB_READER_CHECK_H

#include <stdio.h>
#include <stdlib.h>

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

static MMSB_READER__UNUSED const char *env(const char *name) {
    const char *v = getenv(name);
    if (v == NULL) {
        fprintf(stderr, "%s not set\n", name);
        exit(2);
    }
    return v;
}

#endif
