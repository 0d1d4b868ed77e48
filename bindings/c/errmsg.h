// Internal to the library build: how the Go side stores a message for
// mmsb_last_error. Not part of the ABI (mmsb.h is).
#ifndef MMSB_ERRMSG_H
#define MMSB_ERRMSG_H
#include <stddef.h>
void mmsb_internal_set_error(const char *msg, size_t n);
#endif
