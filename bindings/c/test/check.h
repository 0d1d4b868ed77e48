/*
 * check.h: what the writer's C test programs (abi_test.c, buffers_test.c,
 * record_limit_test.c, struct_size_test.c) share: failures, the count of
 * failed expectations, which each program returns non-zero on; EXPECT(call,
 * want), a status code that must be want, printed by name with the last
 * error when it is not; and TRUE(cond). A failed check prints its file and
 * line and the program goes on, so that one run names every failure. (The
 * reader's programs share reader_check.h, whose TRUE prints the reader's
 * message.)
 */
#ifndef MMSB_CHECK_H
#define MMSB_CHECK_H

#include <stdio.h>

#include "mmsb.h"

static int failures;

#define EXPECT(call, want)                                                            \
    do {                                                                              \
        int got_ = (call);                                                            \
        if (got_ != (want)) {                                                         \
            char msg_[512];                                                           \
            mmsb_last_error(msg_, sizeof msg_);                                       \
            fprintf(stderr, "%s:%d: %s = %s, want %s (last error: %s)\n", __FILE__,   \
                    __LINE__, #call, mmsb_status_name(got_), mmsb_status_name(want),  \
                    msg_);                                                            \
            failures++;                                                               \
        }                                                                             \
    } while (0)

#define TRUE(cond)                                                                    \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);       \
            failures++;                                                               \
        }                                                                             \
    } while (0)

#endif
