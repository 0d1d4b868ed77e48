// The parts of the C ABI written in C: the per-thread last error message
// (a Go goroutine has no thread identity, the calling C thread does) and
// the names of status codes (static strings the caller never frees).

#include <string.h>

#include "mmsb.h"
#include "errmsg.h"

// Long enough for any message the library writes (paths included); a
// longer one is cut, and mmsb_last_error still reports the cut length.
#define MMSB_ERRMSG_CAP 4096

static __thread char errmsg[MMSB_ERRMSG_CAP];
static __thread size_t errmsg_len;

void mmsb_internal_set_error(const char *msg, size_t n) {
	if (n >= MMSB_ERRMSG_CAP) {
		n = MMSB_ERRMSG_CAP - 1;
	}
	memcpy(errmsg, msg, n);
	errmsg[n] = 0;
	errmsg_len = n;
}

size_t mmsb_last_error(char *buf, size_t cap) {
	if (buf != NULL && cap > 0) {
		size_t n = errmsg_len < cap - 1 ? errmsg_len : cap - 1;
		memcpy(buf, errmsg, n);
		buf[n] = 0;
	}
	return errmsg_len;
}

const char *mmsb_status_name(int status) {
	switch (status) {
	case MMSB_OK: return "MMSB_OK";
	case MMSB_ERR_PAGE_NOT_FOUND: return "MMSB_ERR_PAGE_NOT_FOUND";
	case MMSB_ERR_PAGE_EXISTS: return "MMSB_ERR_PAGE_EXISTS";
	case MMSB_ERR_INVALID_PAGE: return "MMSB_ERR_INVALID_PAGE";
	case MMSB_ERR_INVALID_DELTA: return "MMSB_ERR_INVALID_DELTA";
	case MMSB_ERR_OUT_OF_RANGE: return "MMSB_ERR_OUT_OF_RANGE";
	case MMSB_ERR_CONFLICT: return "MMSB_ERR_CONFLICT";
	case MMSB_ERR_CORRUPTION: return "MMSB_ERR_CORRUPTION";
	case MMSB_ERR_CYCLE: return "MMSB_ERR_CYCLE";
	case MMSB_ERR_CLOSED: return "MMSB_ERR_CLOSED";
	case MMSB_ERR_FAILED: return "MMSB_ERR_FAILED";
	case MMSB_ERR_LOCKED: return "MMSB_ERR_LOCKED";
	case MMSB_ERR_UNKNOWN_FUNC: return "MMSB_ERR_UNKNOWN_FUNC";
	case MMSB_ERR_PAGE_IN_USE: return "MMSB_ERR_PAGE_IN_USE";
	case MMSB_ERR_NOT_DERIVED: return "MMSB_ERR_NOT_DERIVED";
	case MMSB_ERR_RECOMPUTE: return "MMSB_ERR_RECOMPUTE";
	case MMSB_ERR_LOG_TRUNCATED: return "MMSB_ERR_LOG_TRUNCATED";
	case MMSB_ERR_BUSY: return "MMSB_ERR_BUSY";
	case MMSB_ERR_NO_CHECKPOINT: return "MMSB_ERR_NO_CHECKPOINT";
	case MMSB_ERR_INVALID_OPTION: return "MMSB_ERR_INVALID_OPTION";
	case MMSB_ERR_CHECKPOINT_FAILING: return "MMSB_ERR_CHECKPOINT_FAILING";
	case MMSB_ERR_WRITER_GONE: return "MMSB_ERR_WRITER_GONE";
	case MMSB_ERR_STALE: return "MMSB_ERR_STALE";
	case MMSB_ERR_SHARED_CORRUPT: return "MMSB_ERR_SHARED_CORRUPT";
	case MMSB_ERR_SNAPSHOT_BUSY: return "MMSB_ERR_SNAPSHOT_BUSY";
	case MMSB_ERR_INVALID_HANDLE: return "MMSB_ERR_INVALID_HANDLE";
	case MMSB_ERR_INVALID_ARGUMENT: return "MMSB_ERR_INVALID_ARGUMENT";
	case MMSB_ERR_BUFFER_TOO_SMALL: return "MMSB_ERR_BUFFER_TOO_SMALL";
	case MMSB_ERR_IO: return "MMSB_ERR_IO";
	case MMSB_ERR_INTERNAL: return "MMSB_ERR_INTERNAL";
	}
	return "MMSB_ERR_UNKNOWN";
}
