// The parts of the C ABI written in C: the per-thread last error message
// (a Go goroutine has no thread identity, the calling C thread does) and
// the names of status codes (static strings the caller never frees).

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mmsb.h"
#include "errmsg.h"

// Long enough for any message the library writes (paths included); a
// longer one is cut, and mmsb_last_error still reports the cut length.
#define MMSB_ERRMSG_CAP 4096

// The message lives in a per-thread heap block found through a pthread key,
// not in a __thread array: the Go runtime marks the library STATIC_TLS, so
// all of its thread-local storage must fit the few hundred spare bytes of
// glibc's static TLS area, or dlopen (Python's ctypes) fails with "cannot
// allocate memory in static TLS block". The key's destructor frees the
// block when the thread exits.
struct errmsg {
	size_t len;
	char msg[MMSB_ERRMSG_CAP];
};

static pthread_key_t errmsg_key;
static pthread_once_t errmsg_once = PTHREAD_ONCE_INIT;

static void errmsg_init(void) { pthread_key_create(&errmsg_key, free); }

void mmsb_internal_set_error(const char *msg, size_t n) {
	pthread_once(&errmsg_once, errmsg_init);
	struct errmsg *e = pthread_getspecific(errmsg_key);
	if (e == NULL) {
		e = malloc(sizeof *e);
		if (e == NULL || pthread_setspecific(errmsg_key, e) != 0) {
			free(e);
			return; // out of memory: the status code still tells what failed
		}
	}
	if (n >= MMSB_ERRMSG_CAP) {
		n = MMSB_ERRMSG_CAP - 1;
	}
	if (n > 0) {
		memcpy(e->msg, msg, n);
	}
	e->msg[n] = 0;
	e->len = n;
}

size_t mmsb_last_error(char *buf, size_t cap) {
	pthread_once(&errmsg_once, errmsg_init);
	struct errmsg *e = pthread_getspecific(errmsg_key);
	size_t len = e != NULL ? e->len : 0;
	if (buf != NULL && cap > 0) {
		size_t n = len < cap - 1 ? len : cap - 1;
		if (n > 0) {
			memcpy(buf, e->msg, n);
		}
		buf[n] = 0;
	}
	return len;
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
	case MMSB_ERR_NO_SPACE: return "MMSB_ERR_NO_SPACE";
	case MMSB_ERR_REPLICATION: return "MMSB_ERR_REPLICATION";
	case MMSB_ERR_FOLLOWER: return "MMSB_ERR_FOLLOWER";
	case MMSB_ERR_REPLICA_ORDER: return "MMSB_ERR_REPLICA_ORDER";
	case MMSB_ERR_REPLICA_DIVERGED: return "MMSB_ERR_REPLICA_DIVERGED";
	case MMSB_ERR_RECORD_TOO_LARGE: return "MMSB_ERR_RECORD_TOO_LARGE";
	case MMSB_ERR_INVALID_HANDLE: return "MMSB_ERR_INVALID_HANDLE";
	case MMSB_ERR_INVALID_ARGUMENT: return "MMSB_ERR_INVALID_ARGUMENT";
	case MMSB_ERR_BUFFER_TOO_SMALL: return "MMSB_ERR_BUFFER_TOO_SMALL";
	case MMSB_ERR_IO: return "MMSB_ERR_IO";
	case MMSB_ERR_INTERNAL: return "MMSB_ERR_INTERNAL";
	}
	return "MMSB_ERR_UNKNOWN";
}
