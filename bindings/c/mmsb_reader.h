/*
 * mmsb_reader.h: a header-only C reader of MMSB's shared-memory region
 * (C99 + POSIX, Linux; no Go, nothing to link).
 *
 * A writer that runs with mmsb.Options.Shared keeps its committed pages in
 * files on tmpfs (docs/shm.md; the byte layout, format version 1, and what
 * a reader must check are in docs/formats.md). This header maps them
 * read-only and reads pages with the same seqlock protocol as the Go
 * reader (mmsb.OpenReader) and the Python one (python/mmsb): load the
 * slot's sequence word (odd: a write is in progress), copy the page, load
 * the word again; equal means consistent. The payload copy is a
 * deliberate racy read checked by the sequence word. Ordering: the first
 * sequence load is an acquire load and an acquire fence precedes the
 * second, so this is correct on weakly ordered CPUs too (on x86-64 both
 * compile to plain loads).
 *
 * Compile with POSIX and Linux declarations visible, e.g.
 *   cc -std=c99 -D_DEFAULT_SOURCE ... (or -std=gnu99, or -D_GNU_SOURCE)
 * because the header uses syscall(SYS_futex), realpath, lstat, openat, fstatfs
 * and kill.
 *
 * Every function that can fail returns MMSB_READER_OK (0) or a negative
 * mmsb_reader_status; mmsb_reader_close and mmsb_reader_sha256 return
 * nothing, mmsb_reader_errmsg() (this thread's last error message) and
 * mmsb_reader_strerror(code) a string. A NULL reader,
 * NULL output pointers and buffers that are too small give error codes,
 * never a crash; mmsb_reader_close(&r) sets r to NULL, so a later call
 * with r gets MMSB_READER_ERR_INVALID. An mmsb_reader is not thread-safe: use
 * one per thread.
 * A region file that its owner truncates while it is mapped makes the next
 * access past its new end a SIGBUS. Calls that read the mappings catch it
 * (see "the fault guard" below): the call returns MMSB_READER_ERR_FORMAT and
 * the reader refuses every later call but close. The guard installs a SIGBUS
 * handler (SA_ONSTACK, chaining to the one before it) at the first such
 * call; define MMSB_READER_NO_FAULT_GUARD to leave SIGBUS alone.
 * All functions are static: every translation unit gets its own copy; the
 * last error message is one per thread for the whole program (or shared
 * library), so mmsb_reader_errmsg() may be called from any source file.
 * Every name this header defines starts with mmsb_reader / MMSB_READER,
 * so it can be included together with the writer's mmsb.h (whose
 * mmsb_status, MMSB_OK, MMSB_ERR_* and mmsb_page_info are a different,
 * versioned ABI), in either order, in C and in C++.
 */
#ifndef MMSB_READER_H
#define MMSB_READER_H

/* Strict ISO C (-std=c99, -std=c11) hides the POSIX and Linux declarations
 * the header needs: without this the compiler's first words were about
 * PATH_MAX, uid_t or sigjmp_buf, nowhere near the cause. */
#if defined(__STRICT_ANSI__) && !defined(__cplusplus) && !defined(_DEFAULT_SOURCE) && !defined(_GNU_SOURCE) && !defined(_BSD_SOURCE)
#error "mmsb_reader.h needs POSIX and Linux declarations: compile with -D_DEFAULT_SOURCE (or -D_GNU_SOURCE, or -std=gnu99 instead of -std=c99)"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <linux/magic.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The shared-memory format version this header implements. */
#define MMSB_READER_SHM_FORMAT_VERSION 1

/* Status codes (negative: errors). */
typedef enum mmsb_reader_status {
	MMSB_READER_OK = 0,
	MMSB_READER_ERR_INVALID = -1,       /* bad argument: NULL pointer, closed or foreign handle */
	MMSB_READER_ERR_WRITER_GONE = -2,   /* writer closed, died, or stuck mid-write (mmsb.ErrWriterGone) */
	MMSB_READER_ERR_STALE = -3,         /* a newer writer rebuilt the region: reopen (mmsb.ErrStale) */
	MMSB_READER_ERR_NOT_FOUND = -4,     /* no such page (mmsb.ErrPageNotFound) */
	MMSB_READER_ERR_FORMAT = -5,        /* bad magic, version, sizes (mmsb.ErrSharedCorrupt) */
	MMSB_READER_ERR_BUSY = -6,          /* the page changed under every copy for busy_timeout */
	MMSB_READER_ERR_SNAPSHOT_BUSY = -7, /* snapshot attempts exhausted (mmsb.ErrSnapshotBusy) */
	MMSB_READER_ERR_TIMEOUT = -8,       /* wait timed out */
	MMSB_READER_ERR_TOO_SMALL = -9,     /* the caller's buffer is too small (the size needed is returned) */
	MMSB_READER_ERR_SYSTEM = -10,       /* a system call failed (errno in the message) */
	MMSB_READER_ERR_NOMEM = -11         /* out of memory */
} mmsb_reader_status;

/* Reader options; zero fields take the defaults (as Go's ReaderOptions). */
typedef struct mmsb_reader_options {
	int64_t writer_timeout_ns;    /* page mid-write and unchanged this long: WRITER_GONE; a snapshot's
	                                 wait for the commit of a free: SNAPSHOT_BUSY (200 ms) */
	int64_t liveness_interval_ns; /* writer process checked at most this often (10 ms) */
	int64_t busy_timeout_ns;      /* page changing under every copy this long: BUSY (1 s) */
	int snapshot_retries;         /* snapshot attempts (100) */
} mmsb_reader_options;

/* A page's epoch and the LSN of its last write. */
typedef struct mmsb_reader_page_info {
	uint64_t epoch;
	uint64_t lsn;
} mmsb_reader_page_info;

typedef struct mmsb_reader mmsb_reader;

/* ---- implementation ---------------------------------------------------- */

enum {
	MMSB_READER__MAGIC_LO = 0x5342534d, /* "MSBSSHM1" = 0x314d48535342534d */
	MMSB_READER__HDR_SIZE = 4096,
	MMSB_READER__HDR_USED = 128,
	MMSB_READER__H_VERSION = 8,
	MMSB_READER__H_HDR_SIZE = 12,
	MMSB_READER__H_GEN = 16,
	MMSB_READER__H_PID = 24,
	MMSB_READER__H_START = 32,
	MMSB_READER__H_LSN = 40,
	MMSB_READER__H_STATE = 48,
	MMSB_READER__H_HW = 56,
	MMSB_READER__H_SLOT_CAP = 64,
	MMSB_READER__H_TABLE_VER = 72,
	MMSB_READER__H_CHUNKS = 80,
	MMSB_READER__H_MAX_CHUNKS = 88,
	MMSB_READER__H_CELL_BITS = 96,
	MMSB_READER__H_SIZE_BITS = 100,
	MMSB_READER__H_LIVE = 104,
	MMSB_READER__H_STRIDES = 112,
	MMSB_READER__H_FUTEX = 120,
	MMSB_READER__H_FREE_LSN = 128, /* u64: LSN of the last free applied, published or not (0: none) */
	MMSB_READER__CELL_BITS = 12,
	MMSB_READER__SIZE_BITS = 25,
	MMSB_READER__STATE_LIVE = 1,
	MMSB_READER__STATE_CLOSED = 2,
	MMSB_READER__STATE_SUPERSEDED = 3,
	MMSB_READER__CHUNK_ENTRY_BYTES = 16,
	MMSB_READER__TRIES = 64
};
#define MMSB_READER__MAGIC UINT64_C(0x314d48535342534d)
#define MMSB_READER__MAX_CHUNKS (UINT64_C(1) << (32 - MMSB_READER__CELL_BITS))
#define MMSB_READER__MAX_SLOTS ((UINT64_C(1) << 31) - 2)
#define MMSB_READER__CELL_MASK ((UINT32_C(1) << MMSB_READER__CELL_BITS) - 1)
#define MMSB_READER__SIZE_MASK ((UINT32_C(1) << MMSB_READER__SIZE_BITS) - 1)
#define MMSB_READER__LIVE_TAG UINT64_C(0x6d6d736272656164) /* "mmsbread": a handle that is open */

typedef struct mmsb_reader__map {
	unsigned char *p;
	size_t n;
} mmsb_reader__map;

typedef struct mmsb_reader__chunk {
	uint32_t gen, cell_size;
	mmsb_reader__map m;
} mmsb_reader__chunk;

struct mmsb_reader {
	uint64_t tag;
	char region[PATH_MAX];
	/* The region directory opened at open, held until close: every file is
	 * opened relative to it (openat), never by path, so that a region a
	 * new writer renamed into the same path (its chunk files have the same
	 * names: generations restart at 1) is never read as this one. */
	int dirfd;
	uid_t owner; /* owns the region and every file mapped (mmsb_reader__check_owner) */
	mmsb_reader__map hdr, ct, ids, vers, cells, seq;
	size_t slots;
	mmsb_reader__chunk *chunks;
	size_t nchunks;
	uint64_t gen, start;
	int64_t pid;
	int gone; /* sticky WRITER_GONE or STALE */
	int64_t last_alive;
	mmsb_reader_options o;
	/* ID index: open addressing, keys page IDs (0 empty), values slots */
	uint64_t *keys;
	uint32_t *vals;
	size_t icap, live;
	uint64_t index_ver;
	int index_ok;
	uint64_t retries; /* attempts that failed the sequence check */
	int faulted;      /* a mapped file shrank under a read (SIGBUS): every call but close refused */
	int tmpfs;        /* the region is on a tmpfs: mmsb_reader__check_backed applies */
	/* Bytes of the ids file allocated when mmsb_reader__check_backed (or
	 * the last slot remap) looked: a high-water mark within them needs no
	 * new stat. */
	uint64_t ids_backed;
};

#if defined(__GNUC__) || defined(__clang__)
#define MMSB_READER__TLS __thread
#define MMSB_READER__UNUSED __attribute__((unused))
#else
#define MMSB_READER__TLS
#define MMSB_READER__UNUSED
#endif

/* The last error message of this thread. One buffer for every translation
 * unit of the program or shared library (a weak definition with hidden
 * visibility: the linker keeps one, no other library sees it), so that
 * mmsb_reader_errmsg() in one file returns the message of a call made in
 * another: as a static, each file had its own buffer, and it returned ""
 * there. Compilers without these attributes keep one buffer per file. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((weak, visibility("hidden"))) MMSB_READER__TLS char mmsb_reader__msg[512];
#else
static char mmsb_reader__msg[512];
#endif

/* mmsb_reader_errmsg returns this thread's last error message ("" after success
 * of a call that sets none), whichever file of the program made the call. */
static inline MMSB_READER__UNUSED const char *mmsb_reader_errmsg(void) { return mmsb_reader__msg; }

/* mmsb_reader_strerror names a status code. */
static inline MMSB_READER__UNUSED const char *mmsb_reader_strerror(int code) {
	switch (code) {
	case MMSB_READER_OK: return "ok";
	case MMSB_READER_ERR_INVALID: return "invalid argument";
	case MMSB_READER_ERR_WRITER_GONE: return "shared-memory writer gone";
	case MMSB_READER_ERR_STALE: return "shared region superseded by a newer writer (reopen the reader)";
	case MMSB_READER_ERR_NOT_FOUND: return "page not found";
	case MMSB_READER_ERR_FORMAT: return "malformed shared region";
	case MMSB_READER_ERR_BUSY: return "page kept changing under the reader";
	case MMSB_READER_ERR_SNAPSHOT_BUSY: return "snapshot attempts exhausted";
	case MMSB_READER_ERR_TIMEOUT: return "timed out";
	case MMSB_READER_ERR_TOO_SMALL: return "buffer too small";
	case MMSB_READER_ERR_SYSTEM: return "system call failed";
	case MMSB_READER_ERR_NOMEM: return "out of memory";
	}
	return "unknown status";
}

static inline int mmsb_reader__fail(int code, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
static inline int mmsb_reader__fail(int code, const char *fmt, ...) {
	va_list ap;
	int n = snprintf(mmsb_reader__msg, sizeof mmsb_reader__msg, "mmsb: %s: ", mmsb_reader_strerror(code));
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof mmsb_reader__msg)
		vsnprintf(mmsb_reader__msg + n, sizeof mmsb_reader__msg - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

static inline uint64_t mmsb_reader__le64(const unsigned char *b) {
	uint64_t v = 0;
	int i;
	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}
static inline uint32_t mmsb_reader__le32(const unsigned char *b) {
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Atomic loads of aligned words of the mappings (little-endian host). */
static inline uint64_t mmsb_reader__ld64(const unsigned char *p) { return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED); }
static inline uint64_t mmsb_reader__ld64acq(const unsigned char *p) { return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_ACQUIRE); }
static inline uint32_t mmsb_reader__ld32(const unsigned char *p) { return __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_RELAXED); }

static inline int64_t mmsb_reader__now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* mmsb_reader__after is the time ns after now, saturating at INT64_MAX:
 * a caller's timeout of INT64_MAX ("no limit in practice") overflowed
 * now + timeout, undefined behaviour that UBSan aborts on and that
 * otherwise wrapped to a deadline in the past (mmsb_reader_wait returned
 * TIMEOUT at once). */
static inline int64_t mmsb_reader__after(int64_t now, int64_t ns) {
	return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

static inline void mmsb_reader__sleep_ns(int64_t ns) {
	struct timespec ts;
	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	nanosleep(&ts, NULL);
}

/* ---- SHA-256 (FIPS 180-4), for the region name ------------------------ */

static inline uint32_t mmsb_reader__ror(uint32_t x, int n) { return x >> n | x << (32 - n); }

static inline void mmsb_reader__sha256_block(uint32_t h[8], const unsigned char *p) {
	static const uint32_t k[64] = {
		0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
		0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
		0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
		0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
		0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
		0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
		0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
		0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;
	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = (mmsb_reader__ror(w[i - 2], 17) ^ mmsb_reader__ror(w[i - 2], 19) ^ (w[i - 2] >> 10)) + w[i - 7] +
		       (mmsb_reader__ror(w[i - 15], 7) ^ mmsb_reader__ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 16];
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (mmsb_reader__ror(e, 6) ^ mmsb_reader__ror(e, 11) ^ mmsb_reader__ror(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
		t2 = (mmsb_reader__ror(a, 2) ^ mmsb_reader__ror(a, 13) ^ mmsb_reader__ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

/* mmsb_reader_sha256 writes the SHA-256 of data[0:n] to out[32]. */
static inline MMSB_READER__UNUSED void mmsb_reader_sha256(const void *data, size_t n, unsigned char out[32]) {
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const unsigned char *p = (const unsigned char *)data;
	unsigned char blk[128];
	size_t i, rest = n % 64, tail;
	uint64_t bits = (uint64_t)n * 8;
	for (i = 0; i + 64 <= n; i += 64)
		mmsb_reader__sha256_block(h, p + i);
	memset(blk, 0, sizeof blk);
	if (rest)
		memcpy(blk, p + n - rest, rest);
	blk[rest] = 0x80;
	tail = rest < 56 ? 64 : 128;
	for (i = 0; i < 8; i++)
		blk[tail - 1 - i] = (unsigned char)(bits >> (8 * i));
	mmsb_reader__sha256_block(h, blk);
	if (tail == 128)
		mmsb_reader__sha256_block(h, blk + 64);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8);
		out[4 * i + 3] = (unsigned char)h[i];
	}
}

/* mmsb_reader__clean rewrites the absolute path p in place as Go's
 * filepath.Clean does: repeated slashes and "." elements removed, ".."
 * taking out the element before it ("/.." is "/"), no trailing slash. */
static inline void mmsb_reader__clean(char *p) {
	size_t r = 0, w = 0, n = strlen(p);
	if (n == 0 || p[0] != '/')
		return;
	while (r < n) {
		size_t e;
		while (r < n && p[r] == '/')
			r++;
		for (e = r; e < n && p[e] != '/'; e++)
			;
		if (e == r)
			break;
		if (e - r == 1 && p[r] == '.') {
			/* nothing */
		} else if (e - r == 2 && p[r] == '.' && p[r + 1] == '.') {
			while (w > 0 && p[w - 1] != '/')
				w--;
			if (w > 0)
				w--; /* the slash before the removed element */
		} else {
			p[w++] = '/';
			memmove(p + w, p + r, e - r);
			w += e - r;
		}
		r = e;
	}
	if (w == 0)
		p[w++] = '/';
	p[w] = '\0';
}

/* mmsb_reader__abs writes p made absolute (from the working directory) and
 * cleaned, as Go's filepath.Abs, to out[0:PATH_MAX]; what names p in an
 * error. */
static inline int mmsb_reader__abs(const char *p, char *out, const char *what) {
	int n;
	if (p[0] == '/') {
		n = snprintf(out, PATH_MAX, "%s", p);
	} else {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof cwd) == NULL)
			return mmsb_reader__fail(MMSB_READER_ERR_SYSTEM, "getcwd: %s", strerror(errno));
		n = snprintf(out, PATH_MAX, "%s/%s", cwd, p);
	}
	if (n < 0 || n >= PATH_MAX)
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "%s path too long", what);
	mmsb_reader__clean(out);
	return MMSB_READER_OK;
}

/* mmsb_reader_region_path writes the region directory of the bus in bus_dir to
 * buf, as Go's mmsb.SharedRegionPath: "<shared_dir>/mmsb-" and the hex of
 * the first 16 bytes of SHA-256 of the bus directory's absolute path
 * (symbolic links resolved; a directory that does not exist is taken as
 * given, made absolute and cleaned as Go's filepath.Abs does). shared_dir
 * NULL or "" means /dev/shm; it is made absolute and cleaned as Go does
 * (no links resolved). The path and its NUL must fit in len: a smaller len
 * (len equal to the path's length included) is TOO_SMALL, its message
 * naming the size needed, with nothing written to buf. buf NULL is
 * INVALID (there is no size out-parameter to answer a size query with). */
static inline MMSB_READER__UNUSED int mmsb_reader_region_path(const char *bus_dir, const char *shared_dir, char *buf, size_t len) {
	char abs[PATH_MAX], sdir[PATH_MAX];
	unsigned char sum[32];
	int i, n, rc;
	char hex[33];
	/* Each named: "NULL or empty argument" reached mmsb_reader_open's
	 * callers for an empty bus directory, naming no argument. */
	if (bus_dir == NULL || bus_dir[0] == '\0')
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "region path: the bus directory is %s", bus_dir == NULL ? "NULL" : "empty");
	if (buf == NULL)
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "region path: NULL buffer");
	if (shared_dir == NULL || shared_dir[0] == '\0')
		shared_dir = "/dev/shm";
	/* As Go: filepath.Abs (absolute, then cleaned), then EvalSymlinks of
	 * that, kept only when it succeeds. Before, the path as spelled went
	 * to realpath and, when that failed, was hashed as spelled:
	 * "/data/bus/" or "/data/./bus" of a directory that does not exist,
	 * and "/data/x/../bus" with no x, named another region than Go's. */
	if ((rc = mmsb_reader__abs(bus_dir, abs, "bus directory")) != MMSB_READER_OK)
		return rc;
	{
		char resolved[PATH_MAX];
		if (realpath(abs, resolved) != NULL)
			memcpy(abs, resolved, strlen(resolved) + 1);
	}
	/* The shared directory as Go's filepath.Abs and Join leave it: taken as
	 * spelled, "/dev/shm/" gave "/dev/shm//mmsb-...", another string than
	 * the writer's SharedPath, and "/a/link/../shm" was resolved through
	 * the link by the kernel where Go drops "link/.." (another directory). */
	if ((rc = mmsb_reader__abs(shared_dir, sdir, "shared directory")) != MMSB_READER_OK)
		return rc;
	if (strcmp(sdir, "/") == 0)
		sdir[0] = '\0'; /* Join("/", "mmsb-...") is "/mmsb-..." */
	mmsb_reader_sha256(abs, strlen(abs), sum);
	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	/* Measured first: snprintf into a buffer too small left a cut (and
	 * terminated) path there under a status saying too small. */
	n = snprintf(NULL, 0, "%s/mmsb-%s", sdir, hex);
	if (n < 0)
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "region path under %s does not format", sdir);
	if ((size_t)n >= len)
		return mmsb_reader__fail(MMSB_READER_ERR_TOO_SMALL, "region path needs %zu bytes with its NUL, buffer holds %zu", (size_t)n + 1, len);
	/* Put together by hand, the fit being known: a second snprintf into
	 * buf made gcc (12, -O1 and -Os, where mmsb_reader_open inlines this
	 * function with its PATH_MAX buffer) warn that it may truncate, so a
	 * program including this header failed to build under -Wall -Werror
	 * (TestCReaderHeaderBuildsAtEveryLevel). */
	{
		size_t d = strlen(sdir);
		memcpy(buf, sdir, d);
		memcpy(buf + d, "/mmsb-", 6);
		memcpy(buf + d + 6, hex, sizeof hex); /* 32 digits and the NUL */
	}
	return MMSB_READER_OK;
}

/* mmsb_reader_decode_header validates a header (the checks of Go's
 * DecodeShmHeader, in its order): MMSB_READER_OK or MMSB_READER_ERR_FORMAT. Any bytes,
 * any length: never reads outside b[0:n]. */
static inline MMSB_READER__UNUSED int mmsb_reader_decode_header(const unsigned char *b, size_t n) {
	uint64_t m, chunks, maxc, hw, cap, live, state;
	uint32_t v, hs, cb, sb;
	if (b == NULL || n < MMSB_READER__HDR_USED)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "header is %zu bytes, need %d", b ? n : 0, MMSB_READER__HDR_USED);
	if ((m = mmsb_reader__le64(b)) != MMSB_READER__MAGIC)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "bad magic %#llx", (unsigned long long)m);
	if ((v = mmsb_reader__le32(b + MMSB_READER__H_VERSION)) != MMSB_READER_SHM_FORMAT_VERSION)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "format version %u, this reader knows %d", v, MMSB_READER_SHM_FORMAT_VERSION);
	if ((hs = mmsb_reader__le32(b + MMSB_READER__H_HDR_SIZE)) != MMSB_READER__HDR_SIZE || n < MMSB_READER__HDR_SIZE)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "header size %u (mapped %zu), want %d", hs, n, MMSB_READER__HDR_SIZE);
	cb = mmsb_reader__le32(b + MMSB_READER__H_CELL_BITS), sb = mmsb_reader__le32(b + MMSB_READER__H_SIZE_BITS);
	if (cb != MMSB_READER__CELL_BITS || sb != MMSB_READER__SIZE_BITS)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "cell bits %u, size bits %u", cb, sb);
	if (b[MMSB_READER__H_STRIDES] != 8 || b[MMSB_READER__H_STRIDES + 1] != 16 || b[MMSB_READER__H_STRIDES + 2] != 8 || b[MMSB_READER__H_STRIDES + 3] != 8)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "slot strides %u %u %u %u", b[MMSB_READER__H_STRIDES], b[MMSB_READER__H_STRIDES + 1],
		                  b[MMSB_READER__H_STRIDES + 2], b[MMSB_READER__H_STRIDES + 3]);
	maxc = mmsb_reader__le64(b + MMSB_READER__H_MAX_CHUNKS), chunks = mmsb_reader__le64(b + MMSB_READER__H_CHUNKS);
	if (maxc != MMSB_READER__MAX_CHUNKS)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "chunk table of %llu entries", (unsigned long long)maxc);
	if (chunks > maxc)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%llu chunks in use", (unsigned long long)chunks);
	hw = mmsb_reader__le64(b + MMSB_READER__H_HW), cap = mmsb_reader__le64(b + MMSB_READER__H_SLOT_CAP), live = mmsb_reader__le64(b + MMSB_READER__H_LIVE);
	if (cap > MMSB_READER__MAX_SLOTS || hw > cap)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%llu slots used of %llu", (unsigned long long)hw, (unsigned long long)cap);
	if (live > hw)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%llu live pages in %llu slots", (unsigned long long)live, (unsigned long long)hw);
	if ((state = mmsb_reader__le64(b + MMSB_READER__H_STATE)) > MMSB_READER__STATE_SUPERSEDED)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "unknown state %llu", (unsigned long long)state);
	return MMSB_READER_OK;
}

static inline void mmsb_reader__unmap(mmsb_reader__map *m) {
	if (m->p != NULL)
		munmap(m->p, m->n);
	m->p = NULL, m->n = 0;
}

/* mmsb_reader__check_owner refuses (FORMAT) a region directory or file
 * that uid owner does not own or that its group or others may write.
 * Region names are predictable and /dev/shm is writable by everyone, so
 * anyone can create a region for someone else's bus, with a header naming
 * a live process of theirs; the writer creates it 0700/0600 (0750/0640
 * with SharedGroup), as the user it runs as (docs/shm.md, "Security: what
 * a reader trusts"). */
static inline int mmsb_reader__check_owner(const char *path, const struct stat *st, uid_t owner) {
	if (st->st_uid != owner)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%s is owned by uid %lu, expected uid %lu", path, (unsigned long)st->st_uid,
		                         (unsigned long)owner);
	if ((st->st_mode & 022) != 0)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%s (owner uid %lu, expected uid %lu) is writable by group or others (mode %o)", path,
		                         (unsigned long)st->st_uid, (unsigned long)owner, (unsigned)(st->st_mode & 07777));
	return MMSB_READER_OK;
}

/* mmsb_reader__map_ro maps the whole file name of the directory open as
 * dirfd (dir names it in messages) read-only; an empty file maps to
 * {NULL,0}. The file must be a regular file that passes
 * mmsb_reader__check_owner. Returns MMSB_READER_OK,
 * MMSB_READER_ERR_NOT_FOUND (no file), FORMAT or SYSTEM. */
static inline int mmsb_reader__map_ro(int dirfd, const char *dir, const char *name, size_t min_len, uid_t owner, mmsb_reader__map *out) {
	char path[PATH_MAX];
	struct stat st;
	int fd, rc, n = snprintf(path, sizeof path, "%s/%s", dir, name);
	void *p;
	out->p = NULL, out->n = 0;
	if (n < 0 || (size_t)n >= sizeof path)
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "path too long");
	/* O_NONBLOCK: opening a FIFO planted in the region's place would block
	 * until some process opened its other end. It changes nothing for a
	 * regular file, and anything else is refused below. O_NOFOLLOW: a
	 * symbolic link is refused, not followed to a regular file that fstat
	 * would accept (another bus's header, say), as the Go reader does. */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%s is a symbolic link, not a regular file", path);
	if (fd < 0)
		return errno == ENOENT ? mmsb_reader__fail(MMSB_READER_ERR_NOT_FOUND, "%s: %s", path, strerror(errno))
		                       : mmsb_reader__fail(MMSB_READER_ERR_SYSTEM, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return mmsb_reader__fail(MMSB_READER_ERR_SYSTEM, "stat %s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%s is not a regular file (mode %o)", path, (unsigned)st.st_mode);
	}
	/* Checked on the open descriptor: this is the file that gets mapped. */
	if ((rc = mmsb_reader__check_owner(path, &st, owner)) != MMSB_READER_OK) {
		close(fd);
		return rc;
	}
	if ((uint64_t)st.st_size < min_len || (uint64_t)st.st_size > (UINT64_C(1) << 40)) {
		close(fd);
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%s is %lld bytes, need at least %zu", path, (long long)st.st_size, min_len);
	}
	if (st.st_size == 0) {
		close(fd);
		return MMSB_READER_OK;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return mmsb_reader__fail(MMSB_READER_ERR_SYSTEM, "mmap %s: %s", path, strerror(errno));
	out->p = (unsigned char *)p, out->n = (size_t)st.st_size;
	return MMSB_READER_OK;
}

static inline int mmsb_reader__valid(const mmsb_reader *r) { return r != NULL && r->tag == MMSB_READER__LIVE_TAG; }

/* ---- the fault guard -----------------------------------------------------
 * The writer's user can truncate a region file that this reader mapped;
 * the next access past the file's new end is then a SIGBUS, whose default
 * action kills the reading process. Every public call that reads the
 * mappings runs under a guard: sigsetjmp (without the signal mask: no
 * system call) and a thread-local pointer to its jump buffer. The SIGBUS
 * handler, installed once per translation unit at the first guarded call,
 * jumps back to the innermost guarded call of the faulting thread, which
 * marks the reader faulted and returns FORMAT. A SIGBUS on a thread in no
 * guarded call goes to the handler installed before this one, or gets the
 * default action, as without the guard. SA_NODEFER keeps SIGBUS unblocked
 * after the jump; SA_ONSTACK is what a process that also runs Go requires
 * of other handlers. What a faulted call had allocated (an index being
 * rebuilt) may leak; its reader can only be closed. */
static inline void mmsb_reader__free(mmsb_reader *r);

#ifndef MMSB_READER_NO_FAULT_GUARD
static MMSB_READER__TLS sigjmp_buf *mmsb_reader__jump;     /* the innermost guarded call's, on this thread */
static MMSB_READER__TLS void *mmsb_reader__fault_addr;     /* where the last caught SIGBUS hit */
static MMSB_READER__TLS mmsb_reader *mmsb_reader__opening; /* the reader an open is building */
static struct sigaction mmsb_reader__prev_bus;
static int mmsb_reader__guard_state; /* 0 none, 1 installing, 2 installed */

static void mmsb_reader__on_sigbus(int sig, siginfo_t *si, void *uc) {
	sigjmp_buf *j = mmsb_reader__jump;
	struct sigaction dfl;
	if (j != NULL) {
		mmsb_reader__jump = NULL;
		mmsb_reader__fault_addr = si != NULL ? si->si_addr : NULL;
		siglongjmp(*j, 1);
	}
	if ((mmsb_reader__prev_bus.sa_flags & SA_SIGINFO) && mmsb_reader__prev_bus.sa_sigaction != NULL) {
		mmsb_reader__prev_bus.sa_sigaction(sig, si, uc);
		return;
	}
	if (!(mmsb_reader__prev_bus.sa_flags & SA_SIGINFO) && mmsb_reader__prev_bus.sa_handler != SIG_DFL &&
	    mmsb_reader__prev_bus.sa_handler != SIG_IGN) {
		mmsb_reader__prev_bus.sa_handler(sig);
		return;
	}
	/* Nobody else handles it: the default action. A fault recurs when the
	 * access runs again; a SIGBUS sent by a process is raised again. */
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGBUS, &dfl, NULL);
	if (si == NULL || si->si_code <= 0)
		raise(SIGBUS);
}

/* mmsb_reader__guard_install installs the handler once; 0 or -1 (errno). */
static inline int mmsb_reader__guard_install(void) {
	int want = 0;
	struct sigaction sa;
	if (__atomic_load_n(&mmsb_reader__guard_state, __ATOMIC_ACQUIRE) == 2)
		return 0;
	if (!__atomic_compare_exchange_n(&mmsb_reader__guard_state, &want, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&mmsb_reader__guard_state, __ATOMIC_ACQUIRE) == 1)
			sched_yield();
		return __atomic_load_n(&mmsb_reader__guard_state, __ATOMIC_ACQUIRE) == 2 ? 0 : -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = mmsb_reader__on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &mmsb_reader__prev_bus) != 0) {
		__atomic_store_n(&mmsb_reader__guard_state, 0, __ATOMIC_RELEASE);
		return -1;
	}
	__atomic_store_n(&mmsb_reader__guard_state, 2, __ATOMIC_RELEASE);
	return 0;
}

/* mmsb_reader__faulted is a guarded call's result after a SIGBUS: r (a
 * reader, or NULL in an open of region what) is refused from now on; an
 * open's reader under construction is freed. */
static inline int mmsb_reader__faulted(mmsb_reader *r, const char *what) {
	const char *region = what;
	if (mmsb_reader__valid(r))
		r->faulted = 1, region = r->region;
	if (mmsb_reader__opening != NULL) {
		mmsb_reader__free(mmsb_reader__opening);
		mmsb_reader__opening = NULL;
	}
	return mmsb_reader__fail(MMSB_READER_ERR_FORMAT,
	                         "a file of region %s shrank while mapped (SIGBUS at %p: its writer's user truncated it); reopen the region",
	                         region, mmsb_reader__fault_addr);
}

/* MMSB_READER__GUARDED(r, what, call) returns call's result, or FORMAT
 * when call takes a SIGBUS or r took one before. */
#define MMSB_READER__GUARDED(r, what, call)                                                                                          \
	do {                                                                                                                         \
		sigjmp_buf mmsb_reader__jb;                                                                                          \
		sigjmp_buf *volatile mmsb_reader__outer = mmsb_reader__jump;                                                         \
		int mmsb_reader__rc;                                                                                                 \
		if (mmsb_reader__valid(r) && (r)->faulted)                                                                           \
			return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "a file of region %s shrank under an earlier read; reopen the region", \
			                         (r)->region);                                                                               \
		if (mmsb_reader__guard_install() != 0)                                                                               \
			return mmsb_reader__fail(MMSB_READER_ERR_SYSTEM, "install the SIGBUS handler: %s", strerror(errno));              \
		if (sigsetjmp(mmsb_reader__jb, 0) != 0) {                                                                            \
			mmsb_reader__jump = mmsb_reader__outer;                                                                      \
			return mmsb_reader__faulted(r, what);                                                                        \
		}                                                                                                                    \
		mmsb_reader__jump = &mmsb_reader__jb;                                                                                \
		mmsb_reader__rc = (call);                                                                                            \
		mmsb_reader__jump = mmsb_reader__outer;                                                                              \
		return mmsb_reader__rc;                                                                                              \
	} while (0)
#define MMSB_READER__OPENING(r) (mmsb_reader__opening = (r))
#else
#define MMSB_READER__GUARDED(r, what, call) return (call)
#define MMSB_READER__OPENING(r) ((void)(r))
#endif

static inline void mmsb_reader_close(mmsb_reader **rp);
static inline int mmsb_reader__alive(mmsb_reader *r);

/* mmsb_reader__going is asked before a missing or short region file is
 * reported as damage (FORMAT): a writer marks its region closed (Close)
 * or superseded (a newer writer took over) and then removes the files, so
 * a reader that opens or remaps in between finds them missing. Such a
 * region is going away, not damaged: WRITER_GONE or STALE (sticky, as
 * mmsb_reader__alive makes them), which callers that reopen on those
 * retry; FORMAT made them give up. OK while the header says live. */
static inline int mmsb_reader__going(mmsb_reader *r) {
	if (mmsb_reader__ld64(r->hdr.p + MMSB_READER__H_STATE) != MMSB_READER__STATE_LIVE)
		return mmsb_reader__alive(r);
	return MMSB_READER_OK;
}

static inline int mmsb_reader__remap_slots(mmsb_reader *r) {
	static const char *names[4] = {"ids", "vers", "cells", "seq"};
	mmsb_reader__map m[4];
	size_t slots;
	uint64_t cap;
	int i, rc;
	for (i = 0; i < 4; i++) {
		rc = mmsb_reader__map_ro(r->dirfd, r->region, names[i], 0, r->owner, &m[i]);
		if (rc != MMSB_READER_OK && rc != MMSB_READER_ERR_NOT_FOUND) {
			while (--i >= 0)
				mmsb_reader__unmap(&m[i]);
			return rc;
		}
	}
	/* The writer publishes the slot capacity after every file grew, so
	 * files holding fewer slots than the capacity are damaged (truncated
	 * by the region's owner): refused, as the Go reader refuses them,
	 * with the old mappings kept and the new ones unmapped. A file
	 * truncated after this check stays a SIGBUS on access (docs/shm.md). */
	slots = m[0].n / 8;
	if (m[1].n / 16 < slots) slots = m[1].n / 16;
	if (m[2].n / 8 < slots) slots = m[2].n / 8;
	if (m[3].n / 8 < slots) slots = m[3].n / 8;
	cap = mmsb_reader__ld64(r->hdr.p + MMSB_READER__H_SLOT_CAP);
	if ((uint64_t)slots < (cap < MMSB_READER__MAX_SLOTS ? cap : MMSB_READER__MAX_SLOTS)) {
		for (i = 0; i < 4; i++)
			mmsb_reader__unmap(&m[i]);
		if ((rc = mmsb_reader__going(r)) != MMSB_READER_OK)
			return rc;
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%s: slot arrays (ids %zu, vers %zu, cells %zu, seq %zu bytes) hold %zu slots, the header publishes %llu",
		                         r->region, m[0].n, m[1].n, m[2].n, m[3].n, slots, (unsigned long long)cap);
	}
	mmsb_reader__unmap(&r->ids), mmsb_reader__unmap(&r->vers), mmsb_reader__unmap(&r->cells), mmsb_reader__unmap(&r->seq);
	r->ids = m[0], r->vers = m[1], r->cells = m[2], r->seq = m[3];
	r->slots = slots;
	/* What the writer had reserved when the files were mapped: index
	 * rebuilds within it need no stat, so a region that its writer then
	 * removes is found going by the read, as before, not by a stat of a
	 * file gone (mmsb_reader__check_backed). */
	if (r->tmpfs) {
		struct stat st;
		if (fstatat(r->dirfd, "ids", &st, AT_SYMLINK_NOFOLLOW) == 0 && (uint64_t)st.st_blocks * 512 > r->ids_backed)
			r->ids_backed = (uint64_t)st.st_blocks * 512;
	}
	return MMSB_READER_OK;
}

/* mmsb_reader__check_backed refuses (FORMAT) a high-water mark of hw slots
 * that the ids file does not hold in allocated memory, before
 * mmsb_reader__rebuild scans it, as the Go reader's checkSlotsBacked. The
 * slot files need only be long enough for the header's slot capacity
 * (mmsb_reader__remap_slots), and a sparse file is long for free: a
 * region whose header claimed about 2^31 slots over slot files made long
 * by truncate (a damaged or hostile one; only its owner can write it)
 * made the reader allocate an index of 2 entries (12 bytes each) per
 * slot and scan the holes, each read of which allocates a tmpfs page. A
 * writer reserves (fallocate) every slot it publishes before it
 * publishes it, so its ids file holds at least 8 bytes for each. Checked
 * on a tmpfs only (SharedDir's documented kind), where allocated blocks
 * are exact; elsewhere (compression, a FUSE filesystem that reports no
 * blocks) they can be fewer than the data, and file sizes are trusted. */
static inline int mmsb_reader__check_backed(mmsb_reader *r, uint64_t hw) {
	struct stat st;
	uint64_t need = hw * 8, have;
	int rc;
	if (!r->tmpfs || need <= r->ids_backed)
		return MMSB_READER_OK;
	if (fstatat(r->dirfd, "ids", &st, AT_SYMLINK_NOFOLLOW) != 0) {
		int e = errno;
		if (e == ENOENT) {
			if ((rc = mmsb_reader__going(r)) != MMSB_READER_OK)
				return rc; /* its writer removes the region */
			return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%s/ids: %s", r->region, strerror(e));
		}
		return mmsb_reader__fail(MMSB_READER_ERR_SYSTEM, "stat %s/ids: %s", r->region, strerror(e));
	}
	have = (uint64_t)st.st_blocks * 512;
	if (have < need)
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT,
		                         "%s: the header's high-water mark of %llu slots needs %llu bytes of ids, and only %llu are allocated (a sparse slot array, which no writer makes)",
		                         r->region, (unsigned long long)hw, (unsigned long long)need, (unsigned long long)have);
	r->ids_backed = have;
	return MMSB_READER_OK;
}

/* mmsb_reader__ensure_slot: 1 when slot sl is mapped, 0 when beyond the
 * published capacity, <0 on error. */
static inline int mmsb_reader__ensure_slot(mmsb_reader *r, uint64_t sl) {
	int rc;
	if (sl < r->slots)
		return 1;
	if (sl >= mmsb_reader__ld64(r->hdr.p + MMSB_READER__H_SLOT_CAP))
		return 0;
	if ((rc = mmsb_reader__remap_slots(r)) != MMSB_READER_OK)
		return rc;
	return sl < r->slots;
}

/* mmsb_reader__chunk: chunk idx's mapping (mapping its current file if needed),
 * NULL when unpublished or its file is gone (the sequence check decides
 * whether that was a race). */
static inline mmsb_reader__chunk *mmsb_reader__get_chunk(mmsb_reader *r, uint32_t idx) {
	const unsigned char *e;
	uint64_t w;
	uint32_t gen;
	char name[32];
	mmsb_reader__map m;
	if (idx >= MMSB_READER__MAX_CHUNKS)
		return NULL;
	e = r->ct.p + (size_t)idx * MMSB_READER__CHUNK_ENTRY_BYTES;
	w = mmsb_reader__ld64acq(e); /* u32 generation | u32 cell size << 32 */
	gen = (uint32_t)w;
	if (gen == 0)
		return NULL;
	if (idx < r->nchunks && r->chunks[idx].gen == gen)
		return &r->chunks[idx];
	if (idx >= r->nchunks) {
		size_t n = r->nchunks ? r->nchunks : 4;
		mmsb_reader__chunk *c;
		while (n <= idx)
			n *= 2;
		c = (mmsb_reader__chunk *)realloc(r->chunks, n * sizeof *c);
		if (c == NULL)
			return NULL;
		memset(c + r->nchunks, 0, (n - r->nchunks) * sizeof *c);
		r->chunks = c, r->nchunks = n;
	}
	snprintf(name, sizeof name, "c%u.%u", idx, gen);
	if (mmsb_reader__map_ro(r->dirfd, r->region, name, 0, r->owner, &m) != MMSB_READER_OK || m.p == NULL)
		return NULL;
	mmsb_reader__unmap(&r->chunks[idx].m); /* a freed large page's index, reused */
	r->chunks[idx].gen = gen, r->chunks[idx].cell_size = (uint32_t)(w >> 32), r->chunks[idx].m = m;
	return &r->chunks[idx];
}

static inline uint64_t mmsb_reader__hash(uint64_t x) {
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return x;
}

/* mmsb_reader__rebuild scans the published slots for live pages: after creates
 * or frees moved the table version, or when a slot no longer holds the
 * page looked up. */
static inline int mmsb_reader__rebuild(mmsb_reader *r) {
	uint64_t ver = mmsb_reader__ld64(r->hdr.p + MMSB_READER__H_TABLE_VER);
	uint64_t hw = mmsb_reader__ld64(r->hdr.p + MMSB_READER__H_HW), sl;
	size_t need, i;
	int rc;
	if (hw > MMSB_READER__MAX_SLOTS)
		hw = MMSB_READER__MAX_SLOTS;
	if (hw > r->slots) {
		rc = mmsb_reader__ensure_slot(r, hw - 1);
		if (rc < 0)
			return rc;
		if (hw > r->slots)
			hw = r->slots;
	}
	if ((rc = mmsb_reader__check_backed(r, hw)) != MMSB_READER_OK)
		return rc;
	need = 16;
	while (need < 2 * (size_t)hw)
		need *= 2;
	if (need != r->icap) {
		uint64_t *k = (uint64_t *)malloc(need * sizeof *k);
		uint32_t *v = (uint32_t *)malloc(need * sizeof *v);
		if (k == NULL || v == NULL) {
			free(k), free(v);
			return mmsb_reader__fail(MMSB_READER_ERR_NOMEM, "index of %zu entries", need);
		}
		free(r->keys), free(r->vals);
		r->keys = k, r->vals = v, r->icap = need;
	}
	memset(r->keys, 0, r->icap * sizeof *r->keys);
	r->live = 0;
	for (sl = 0; sl < hw; sl++) {
		/* No sequence check (as in Go): every read re-checks ids[sl]. */
		uint64_t id = mmsb_reader__ld64(r->ids.p + sl * 8);
		uint32_t sw = mmsb_reader__ld32(r->cells.p + sl * 8 + 4);
		if (id == 0 || (sw & MMSB_READER__SIZE_MASK) == 0)
			continue;
		i = (size_t)mmsb_reader__hash(id) & (r->icap - 1);
		while (r->keys[i] != 0 && r->keys[i] != id)
			i = (i + 1) & (r->icap - 1);
		if (r->keys[i] == id) {
			/* One ID in two slots: damage unless a create or free
			 * raced the scan (the table version moved; keep the
			 * first, the index is rebuilt at the next lookup), as
			 * the Go reader's duplicateID. */
			if (mmsb_reader__ld64(r->hdr.p + MMSB_READER__H_TABLE_VER) != ver)
				continue;
			r->index_ok = 0;
			return mmsb_reader__fail(MMSB_READER_ERR_FORMAT,
				"%s: page ID %llu is in slots %llu and %llu of ids (a damaged slot array: a writer publishes each ID once)",
				r->region, (unsigned long long)id, (unsigned long long)r->vals[i], (unsigned long long)sl);
		}
		r->live++;
		r->keys[i] = id, r->vals[i] = (uint32_t)sl;
	}
	r->index_ver = ver, r->index_ok = 1;
	return MMSB_READER_OK;
}

static inline int mmsb_reader__find(const mmsb_reader *r, uint64_t id, uint64_t *sl) {
	size_t i;
	if (id == 0 || r->icap == 0)
		return 0;
	i = (size_t)mmsb_reader__hash(id) & (r->icap - 1);
	while (r->keys[i] != 0) {
		if (r->keys[i] == id) {
			*sl = r->vals[i];
			return 1;
		}
		i = (i + 1) & (r->icap - 1);
	}
	return 0;
}

/* 1 found, 0 not, <0 error */
static inline int mmsb_reader__lookup(mmsb_reader *r, uint64_t id, uint64_t *sl) {
	int rc;
	if (!r->index_ok) {
		if ((rc = mmsb_reader__rebuild(r)) != MMSB_READER_OK)
			return rc;
	} else if (mmsb_reader__ld64(r->hdr.p + MMSB_READER__H_TABLE_VER) != r->index_ver) {
		if (mmsb_reader__find(r, id, sl))
			return 1; /* verified by the read itself */
		if ((rc = mmsb_reader__rebuild(r)) != MMSB_READER_OK)
			return rc;
	}
	return mmsb_reader__find(r, id, sl);
}

static inline int mmsb_reader__proc_stat(int64_t pid, char *state, uint64_t *start) {
	char path[64], buf[1024], *p, *f;
	int fd, field;
	ssize_t n;
	snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (p == NULL)
		return -1;
	p++;
	for (field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return -1;
		f = p;
		while (*p != ' ' && *p != '\0')
			p++;
		if (field == 3)
			*state = *f;
		if (field == 22)
			*start = strtoull(f, NULL, 10);
	}
	return 0;
}

/* mmsb_reader__alive: the checks of Go's ShmReader.Alive, in its order. Sets the
 * sticky gone code. */
static inline int mmsb_reader__alive(mmsb_reader *r) {
	uint64_t st = mmsb_reader__ld64(r->hdr.p + MMSB_READER__H_STATE), start = 0;
	char state = '?';
	if (st == MMSB_READER__STATE_SUPERSEDED) {
		r->gone = MMSB_READER_ERR_STALE;
		return mmsb_reader__fail(MMSB_READER_ERR_STALE, "region %s generation %llu superseded", r->region, (unsigned long long)r->gen);
	}
	if (st == MMSB_READER__STATE_CLOSED) {
		r->gone = MMSB_READER_ERR_WRITER_GONE;
		return mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "writer %lld closed the bus", (long long)r->pid);
	}
	if (st != MMSB_READER__STATE_LIVE) {
		r->gone = MMSB_READER_ERR_WRITER_GONE;
		return mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "region in state %llu", (unsigned long long)st);
	}
	if (r->pid <= 0 || r->pid >= (INT64_C(1) << 31)) {
		r->gone = MMSB_READER_ERR_WRITER_GONE;
		return mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "no writer pid (header says %lld)", (long long)r->pid);
	}
	if (kill((pid_t)r->pid, 0) != 0 && errno == ESRCH) {
		r->gone = MMSB_READER_ERR_WRITER_GONE;
		return mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "writer process %lld no longer exists", (long long)r->pid);
	}
	/* A recycled PID has another start time; a killed writer not reaped
	 * yet is a zombie (it still answers kill(pid, 0)). */
	if (mmsb_reader__proc_stat(r->pid, &state, &start) != 0 || start != r->start) {
		r->gone = MMSB_READER_ERR_WRITER_GONE;
		return mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "writer process %lld no longer exists (start time %llu, want %llu)",
		                  (long long)r->pid, (unsigned long long)start, (unsigned long long)r->start);
	}
	if (state == 'Z' || state == 'X') {
		r->gone = MMSB_READER_ERR_WRITER_GONE;
		return mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "writer process %lld exited (state %c)", (long long)r->pid, state);
	}
	r->last_alive = mmsb_reader__now();
	return MMSB_READER_OK;
}

/* mmsb_reader__check: fail if the writer is gone. The state word is read on
 * every call; the process check runs every liveness interval. */
static inline int mmsb_reader__check(mmsb_reader *r) {
	if (r->gone)
		return mmsb_reader__fail(r->gone, "%s", r->gone == MMSB_READER_ERR_STALE ? "region superseded (reopen the reader)" : "writer gone");
	if (mmsb_reader__ld64(r->hdr.p + MMSB_READER__H_STATE) != MMSB_READER__STATE_LIVE || mmsb_reader__now() - r->last_alive >= r->o.liveness_interval_ns)
		return mmsb_reader__alive(r);
	return MMSB_READER_OK;
}

/* mmsb_reader__open_dir opens the region directory dir, which lstat found
 * as st, into *fd: it must be that directory (not a link, nor another
 * directory renamed into its place since). WRITER_GONE when it is gone,
 * FORMAT when it is another, SYSTEM when open fails otherwise. */
static inline int mmsb_reader__open_dir(const char *dir, const struct stat *st, int *fd) {
	struct stat got;
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0) {
		if (errno == ENOENT)
			return mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "no shared region %s (no writer runs with Options.Shared)", dir);
		if (errno == ELOOP || errno == ENOTDIR)
			return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "region directory %s was replaced while it was being opened: %s", dir, strerror(errno));
		return mmsb_reader__fail(MMSB_READER_ERR_SYSTEM, "open %s: %s", dir, strerror(errno));
	}
	if (fstat(d, &got) != 0) {
		int e = errno;
		close(d);
		return mmsb_reader__fail(MMSB_READER_ERR_SYSTEM, "stat %s: %s", dir, strerror(e));
	}
	if (got.st_dev != st->st_dev || got.st_ino != st->st_ino) {
		close(d);
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "region directory %s was replaced while it was being opened", dir);
	}
	*fd = d;
	return MMSB_READER_OK;
}

/* mmsb_reader__not_bus_dir: INVALID when region_dir, given to
 * mmsb_reader_open_region and holding no header, is a bus directory (it
 * holds the bus's LOCK file; a region never does): it was WRITER_GONE "no
 * shared region", which callers retry for ever. NOT_FOUND otherwise. */
static inline int mmsb_reader__not_bus_dir(const char *region_dir) {
	char lock[PATH_MAX];
	struct stat st;
	int n = snprintf(lock, sizeof lock, "%s/LOCK", region_dir);
	if (n > 0 && (size_t)n < sizeof lock && lstat(lock, &st) == 0 && S_ISREG(st.st_mode))
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "%s is a bus directory (it holds LOCK), not a shared region: open it with mmsb_reader_open(\"%s\", shared_dir, ...)",
		                         region_dir, region_dir);
	return MMSB_READER_ERR_NOT_FOUND;
}

/* mmsb_reader__open opens region_dir, which must be owned by uid owner
 * (by its own owner when any_owner), as must every file mapped from it. */
static inline int mmsb_reader__open_unguarded(const char *region_dir, int any_owner, uid_t owner, const mmsb_reader_options *opts, mmsb_reader **out) {
	mmsb_reader *r;
	struct stat st;
	int rc;
	if (out == NULL)
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "open: NULL output pointer");
	*out = NULL;
	if (region_dir == NULL || region_dir[0] == '\0')
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "open: NULL or empty region directory");
	if (strlen(region_dir) >= PATH_MAX - 32)
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "open: region path too long");
	{
		const uint16_t one = 1;
		if (*(const unsigned char *)&one != 1)
			return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "the shared-memory format is little-endian; this host is not");
	}
	/* lstat: a link planted under the region's name could name another
	 * bus's region, owned by the right user. */
	if (lstat(region_dir, &st) != 0)
		return errno == ENOENT ? mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "no shared region %s (no writer runs with Options.Shared)", region_dir)
		                       : mmsb_reader__fail(MMSB_READER_ERR_SYSTEM, "stat %s: %s", region_dir, strerror(errno));
	if (any_owner)
		owner = st.st_uid;
	if (!S_ISDIR(st.st_mode))
		return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "%s is not a directory (mode %o)", region_dir, (unsigned)st.st_mode);
	if ((rc = mmsb_reader__check_owner(region_dir, &st, owner)) != MMSB_READER_OK)
		return rc;
	r = (mmsb_reader *)calloc(1, sizeof *r);
	if (r == NULL)
		return mmsb_reader__fail(MMSB_READER_ERR_NOMEM, "open");
	MMSB_READER__OPENING(r);
	r->dirfd = -1; /* 0 is a descriptor: close must not close it */
	strcpy(r->region, region_dir);
	r->owner = owner;
	if (opts != NULL)
		r->o = *opts;
	if (r->o.writer_timeout_ns <= 0) r->o.writer_timeout_ns = 200000000;
	if (r->o.liveness_interval_ns <= 0) r->o.liveness_interval_ns = 10000000;
	if (r->o.busy_timeout_ns <= 0) r->o.busy_timeout_ns = 1000000000;
	if (r->o.snapshot_retries <= 0) r->o.snapshot_retries = 100;
	rc = mmsb_reader__open_dir(region_dir, &st, &r->dirfd);
	if (rc == MMSB_READER_OK) {
		struct statfs fs;
		r->tmpfs = fstatfs(r->dirfd, &fs) == 0 && fs.f_type == TMPFS_MAGIC;
		rc = mmsb_reader__map_ro(r->dirfd, region_dir, "header", 0, owner, &r->hdr);
	}
	if (rc == MMSB_READER_ERR_NOT_FOUND && any_owner)
		rc = mmsb_reader__not_bus_dir(region_dir);
	if (rc == MMSB_READER_ERR_NOT_FOUND)
		rc = mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "no shared region %s (no writer runs with Options.Shared)", region_dir);
	if (rc == MMSB_READER_OK)
		rc = mmsb_reader_decode_header(r->hdr.p, r->hdr.n);
	if (rc == MMSB_READER_OK) {
		r->gen = mmsb_reader__le64(r->hdr.p + MMSB_READER__H_GEN);
		r->pid = (int64_t)mmsb_reader__le64(r->hdr.p + MMSB_READER__H_PID);
		r->start = mmsb_reader__le64(r->hdr.p + MMSB_READER__H_START);
		rc = mmsb_reader__map_ro(r->dirfd, region_dir, "chunks", (size_t)(MMSB_READER__MAX_CHUNKS * MMSB_READER__CHUNK_ENTRY_BYTES), owner, &r->ct);
		if (rc == MMSB_READER_ERR_NOT_FOUND && (rc = mmsb_reader__going(r)) == MMSB_READER_OK)
			rc = mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "region %s has no chunk table", region_dir);
	}
	if (rc == MMSB_READER_OK)
		rc = mmsb_reader__remap_slots(r);
	r->tag = MMSB_READER__LIVE_TAG;
	if (rc == MMSB_READER_OK)
		rc = mmsb_reader__alive(r);
	MMSB_READER__OPENING(NULL);
	if (rc != MMSB_READER_OK) {
		char msg[sizeof mmsb_reader__msg];
		memcpy(msg, mmsb_reader__msg, sizeof msg);
		mmsb_reader_close(&r);
		memcpy(mmsb_reader__msg, msg, sizeof msg);
		return rc;
	}
	mmsb_reader__msg[0] = '\0';
	*out = r;
	return MMSB_READER_OK;
}

static inline int mmsb_reader__open(const char *region_dir, int any_owner, uid_t owner, const mmsb_reader_options *opts, mmsb_reader **out) {
	MMSB_READER__GUARDED((mmsb_reader *)NULL, region_dir, mmsb_reader__open_unguarded(region_dir, any_owner, owner, opts, out));
}

/* mmsb_reader_open_region opens the region directory region_dir; opts may
 * be NULL. On success *out is the reader; on failure *out is NULL.
 * WRITER_GONE when no region exists; WRITER_GONE or STALE when its header
 * says closed or superseded (a region being removed, files missing
 * included: mmsb_reader__going). It trusts whoever owns region_dir
 * (its files must have the same owner, and nothing may be writable by
 * group or others): the caller chose the region. To read a bus, prefer
 * mmsb_reader_open, which also checks that the owner of the bus directory
 * owns the region (anyone can create a region under the bus's name). */
static inline MMSB_READER__UNUSED int mmsb_reader_open_region(const char *region_dir, const mmsb_reader_options *opts, mmsb_reader **out) {
	return mmsb_reader__open(region_dir, 1, 0, opts, out);
}

/* mmsb_reader_open opens the region of the bus in bus_dir under shared_dir
 * (NULL: /dev/shm). The region and its files must be owned by the owner of
 * bus_dir (symbolic links followed) and writable by nobody else: FORMAT
 * otherwise (docs/shm.md, "Security: what a reader trusts"). */
static inline MMSB_READER__UNUSED int mmsb_reader_open(const char *bus_dir, const char *shared_dir, const mmsb_reader_options *opts, mmsb_reader **out) {
	char region[PATH_MAX];
	struct stat st;
	int rc;
	if (out != NULL)
		*out = NULL;
	if (out == NULL)
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "open: NULL output pointer");
	if ((rc = mmsb_reader_region_path(bus_dir, shared_dir, region, sizeof region)) != MMSB_READER_OK)
		return rc;
	if (stat(bus_dir, &st) != 0)
		return errno == ENOENT ? mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "no bus directory %s", bus_dir)
		                       : mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "cannot check the owner of the bus directory %s, which must own its region: %s",
		                                           bus_dir, strerror(errno));
	/* Configuration mistakes, as Go's OpenReader and Python's Reader answer
	 * them: they were WRITER_GONE ("no shared region"), retried for ever. */
	if (!S_ISDIR(st.st_mode))
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "the bus directory %s is not a directory (mode %o)", bus_dir, (unsigned)st.st_mode);
	{
		uid_t owner = st.st_uid;
		char *slash = strrchr(region, '/');
		*slash = '\0'; /* the shared directory, as region_path made it */
		if (stat(region[0] ? region : "/", &st) != 0) {
			if (errno == ENOENT)
				return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "shared_dir %s does not exist", region);
			if (errno == ENOTDIR)
				return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "shared_dir %s is not a directory (a file is on its path)", region);
		} else if (!S_ISDIR(st.st_mode)) {
			return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "shared_dir %s is not a directory (mode %o)", region, (unsigned)st.st_mode);
		}
		*slash = '/';
		return mmsb_reader__open(region, 0, owner, opts, out);
	}
}

/* mmsb_reader_close unmaps everything, frees the reader and sets *rp to
 * NULL, so that a later use of the same variable gets MMSB_READER_ERR_INVALID
 * instead of touching freed memory (rp NULL or *rp NULL: nothing to do).
 * Copies of the pointer elsewhere must not be used after close. */
static inline MMSB_READER__UNUSED void mmsb_reader_close(mmsb_reader **rp) {
	mmsb_reader *r;
	if (rp == NULL || !mmsb_reader__valid(*rp))
		return;
	r = *rp;
	*rp = NULL;
	mmsb_reader__free(r);
}

/* mmsb_reader__free releases everything r holds, open or half built. */
static inline void mmsb_reader__free(mmsb_reader *r) {
	size_t i;
	mmsb_reader__unmap(&r->hdr), mmsb_reader__unmap(&r->ct), mmsb_reader__unmap(&r->ids), mmsb_reader__unmap(&r->vers);
	mmsb_reader__unmap(&r->cells), mmsb_reader__unmap(&r->seq);
	if (r->dirfd >= 0)
		close(r->dirfd);
	for (i = 0; i < r->nchunks; i++)
		mmsb_reader__unmap(&r->chunks[i].m);
	free(r->chunks), free(r->keys), free(r->vals);
	r->tag = 0;
	free(r);
}

#define MMSB_READER__CHECK_HANDLE(r, what)                                                     \
	do {                                                                             \
		if (!mmsb_reader__valid(r))                                                     \
			return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "%s: NULL or closed reader", what); \
	} while (0)

/* One seqlock attempt. Outcomes: */
enum { MMSB_READER__OK = 0, MMSB_READER__RETRY = 1, MMSB_READER__MISSING = 2 };

typedef struct mmsb_reader__dst {
	void *buf;
	size_t cap;
	size_t size; /* the page's size */
} mmsb_reader__dst;

static inline int mmsb_reader__read_once(mmsb_reader *r, uint64_t sl, uint64_t id, mmsb_reader__dst *d, mmsb_reader_page_info *info, uint64_t *s1out, int *err) {
	const unsigned char *seqp = r->seq.p + sl * 8;
	uint64_t s1 = mmsb_reader__ld64acq(seqp), cw, epoch, lsn, off = 0;
	uint32_t ref, size;
	mmsb_reader__chunk *c;
	*s1out = s1;
	*err = MMSB_READER_OK;
	if (s1 & 1)
		return MMSB_READER__RETRY;
	if (mmsb_reader__ld64(r->ids.p + sl * 8) != id)
		return mmsb_reader__ld64(seqp) != s1 ? MMSB_READER__RETRY : MMSB_READER__MISSING;
	cw = mmsb_reader__ld64(r->cells.p + sl * 8);
	ref = (uint32_t)cw, size = (uint32_t)(cw >> 32) & MMSB_READER__SIZE_MASK;
	epoch = mmsb_reader__ld64(r->vers.p + sl * 16);
	lsn = mmsb_reader__ld64(r->vers.p + sl * 16 + 8);
	c = mmsb_reader__get_chunk(r, ref >> MMSB_READER__CELL_BITS);
	if (c != NULL)
		off = (uint64_t)(ref & MMSB_READER__CELL_MASK) * c->cell_size;
	/* A page never exceeds its cell: a larger size (a damaged cells
	 * array) would read the next cell's bytes as this page's. */
	if (size == 0 || c == NULL || size > c->cell_size || off + size > c->m.n) {
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (mmsb_reader__ld64(seqp) != s1)
			return MMSB_READER__RETRY;
		if (size == 0)
			return MMSB_READER__MISSING;
		/* The slot still names the page, but its chunk is unpublished or
		 * its file is gone: the writer releases a large page's chunk
		 * before the free moves the slot's word, and its Close releases
		 * every chunk without moving any. Retry: the word moves, or the
		 * check sees the writer closed; mmsb_reader__read bounds a word
		 * that stays put. */
		if (c == NULL)
			return MMSB_READER__RETRY;
		if (off + size <= c->m.n) {
			*err = mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "slot %llu (page %llu): %u bytes in cell %#x of %u bytes", (unsigned long long)sl,
			                         (unsigned long long)id, size, ref, c->cell_size);
			return MMSB_READER__OK;
		}
		*err = mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "slot %llu (page %llu): cell %#x, %u bytes outside its chunk of %zu bytes",
		                  (unsigned long long)sl, (unsigned long long)id, ref, size, c->m.n);
		return MMSB_READER__OK;
	}
	/* The deliberate racy copy; the sequence check below discards it if a
	 * write overlapped. */
	if (d->buf != NULL && size <= d->cap)
		memcpy(d->buf, c->m.p + off, size);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (mmsb_reader__ld64(seqp) != s1)
		return MMSB_READER__RETRY;
	d->size = size;
	if (info != NULL)
		info->epoch = epoch, info->lsn = lsn;
	return MMSB_READER__OK;
}

/* mmsb_reader__read: Go's Reader.read policy. A sequence word odd and unchanged
 * for writer_timeout: WRITER_GONE; moving for busy_timeout: BUSY. An even
 * word fails attempts without moving only while the page's chunk is
 * unavailable (mmsb_reader__read_once): unchanged for writer_timeout, that
 * is a corrupt chunk table (FORMAT), never an endless retry. */
static inline int mmsb_reader__read(mmsb_reader *r, uint64_t id, mmsb_reader__dst *d, mmsb_reader_page_info *info) {
	int64_t deadline = 0, busy_until = 0, pause = 1000, now;
	uint64_t stuck = 0, s1 = 0, sl = 0;
	int have_deadline = 0, still, rc, res, err, forced, tries;
	for (;;) {
		if ((rc = mmsb_reader__check(r)) != MMSB_READER_OK)
			return rc;
		forced = 0, tries = 0;
		for (;;) {
			rc = mmsb_reader__lookup(r, id, &sl);
			if (rc < 0)
				return rc;
			if (rc == 1)
				rc = mmsb_reader__ensure_slot(r, sl);
			if (rc < 0)
				return rc;
			if (rc == 0)
				return mmsb_reader__fail(MMSB_READER_ERR_NOT_FOUND, "page %llu", (unsigned long long)id);
			res = mmsb_reader__read_once(r, sl, id, d, info, &s1, &err);
			if (res == MMSB_READER__OK)
				return err;
			if (res == MMSB_READER__MISSING) {
				if (forced)
					return mmsb_reader__fail(MMSB_READER_ERR_NOT_FOUND, "page %llu", (unsigned long long)id);
				forced = 1; /* the slot no longer holds the page: look again once */
				if ((rc = mmsb_reader__rebuild(r)) != MMSB_READER_OK)
					return rc;
				continue;
			}
			r->retries++;
			if (++tries >= MMSB_READER__TRIES)
				break;
		}
		now = mmsb_reader__now();
		if (busy_until == 0)
			busy_until = mmsb_reader__after(now, r->o.busy_timeout_ns);
		still = s1 == stuck && have_deadline;
		if (!still) {
			stuck = s1, deadline = mmsb_reader__after(now, r->o.writer_timeout_ns), pause = 1000, have_deadline = 1;
		} else if (now > deadline) {
			if ((s1 & 1) == 0)
				return mmsb_reader__fail(MMSB_READER_ERR_FORMAT, "page %llu: its chunk stayed unavailable (sequence %llu) for more than %lld ns",
				                         (unsigned long long)id, (unsigned long long)s1, (long long)r->o.writer_timeout_ns);
			return mmsb_reader__fail(MMSB_READER_ERR_WRITER_GONE, "page %llu mid-write (sequence %llu) for more than %lld ns",
			                  (unsigned long long)id, (unsigned long long)s1, (long long)r->o.writer_timeout_ns);
		}
		/* Any word that moved, odd included: one odd at every look but
		 * moving (a writer rewriting the page faster than the reader
		 * looks) was retried forever. */
		if (!still && now > busy_until)
			return mmsb_reader__fail(MMSB_READER_ERR_BUSY, "page %llu changed under every copy for %lld ns", (unsigned long long)id,
			                  (long long)r->o.busy_timeout_ns);
		if ((s1 & 1) || still) {
			mmsb_reader__sleep_ns(pause);
			pause = pause * 2 < 1000000 ? pause * 2 : 1000000;
		} else {
			sched_yield();
		}
	}
}

/* mmsb_reader_read copies page id consistently into buf[0:cap] and sets
 * *size to the page's size. Page bytes carry no NUL: cap equal to the size
 * suffices. A page larger than cap gives TOO_SMALL with *size set to the
 * size needed (buf NULL with cap 0 asks for the size); the page is not
 * copied. info (may be NULL) receives the page's epoch and last-write LSN,
 * on success only. After an error buf[0:cap] may hold bytes of a copy the
 * sequence check discarded (a page written, or freed and created again,
 * between two tries): its contents are then unspecified. */
static inline int mmsb_reader__read_unguarded(mmsb_reader *r, uint64_t id, void *buf, size_t cap, size_t *size, mmsb_reader_page_info *info) {
	mmsb_reader__dst d;
	mmsb_reader_page_info pi;
	int rc;
	MMSB_READER__CHECK_HANDLE(r, "read");
	if (size == NULL || (buf == NULL && cap != 0))
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "read: NULL size pointer or NULL buffer with capacity %zu", cap);
	d.buf = buf, d.cap = cap, d.size = 0;
	rc = mmsb_reader__read(r, id, &d, &pi);
	if (rc != MMSB_READER_OK)
		return rc;
	*size = d.size;
	if (d.size > cap)
		return mmsb_reader__fail(MMSB_READER_ERR_TOO_SMALL, "page %llu is %zu bytes, buffer holds %zu", (unsigned long long)id, d.size, cap);
	if (info != NULL)
		*info = pi;
	return MMSB_READER_OK;
}

/* mmsb_reader_read: the call above, under the fault guard. */
static inline MMSB_READER__UNUSED int mmsb_reader_read(mmsb_reader *r, uint64_t id, void *buf, size_t cap, size_t *size, mmsb_reader_page_info *info) {
	MMSB_READER__GUARDED(r, "?", mmsb_reader__read_unguarded(r, id, buf, cap, size, info));
}

/* mmsb_reader_last_lsn: the committed LSN the writer published last. */
static inline int mmsb_reader__last_lsn_unguarded(mmsb_reader *r, uint64_t *lsn) {
	MMSB_READER__CHECK_HANDLE(r, "last_lsn");
	if (lsn == NULL)
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "last_lsn: NULL output pointer");
	/* Sticky, as every call: it went on answering OK with the old
	 * region's LSN after a call found the writer gone. */
	if (r->gone)
		return mmsb_reader__check(r);
	*lsn = mmsb_reader__ld64acq(r->hdr.p + MMSB_READER__H_LSN);
	return MMSB_READER_OK;
}

/* mmsb_reader_last_lsn: the call above, under the fault guard. */
static inline MMSB_READER__UNUSED int mmsb_reader_last_lsn(mmsb_reader *r, uint64_t *lsn) {
	MMSB_READER__GUARDED(r, "?", mmsb_reader__last_lsn_unguarded(r, lsn));
}

/* mmsb_reader_wait blocks until the committed LSN exceeds after (then
 * *lsn is it), sleeping on the header's futex word, which the writer wakes
 * at every commit (FUTEX_WAIT only reads the word: the read-only mapping
 * suffices). Each sleep lasts at most 5 ms so writer death is noticed.
 * timeout_ns < 0: no limit. TIMEOUT, WRITER_GONE or STALE otherwise. */
static inline int mmsb_reader__wait_unguarded(mmsb_reader *r, uint64_t after, int64_t timeout_ns, uint64_t *lsn) {
	int64_t end = timeout_ns < 0 ? 0 : mmsb_reader__after(mmsb_reader__now(), timeout_ns), left;
	int rc;
	MMSB_READER__CHECK_HANDLE(r, "wait");
	if (lsn == NULL)
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "wait: NULL output pointer");
	for (;;) {
		const uint32_t *fw = (const uint32_t *)(const void *)(r->hdr.p + MMSB_READER__H_FUTEX);
		uint32_t v = __atomic_load_n(fw, __ATOMIC_ACQUIRE);
		uint64_t l = mmsb_reader__ld64acq(r->hdr.p + MMSB_READER__H_LSN);
		struct timespec ts;
		if (l > after) {
			*lsn = l;
			return MMSB_READER_OK;
		}
		if ((rc = mmsb_reader__check(r)) != MMSB_READER_OK)
			return rc;
		left = 5000000;
		if (timeout_ns >= 0) {
			int64_t rem = end - mmsb_reader__now();
			if (rem <= 0)
				return mmsb_reader__fail(MMSB_READER_ERR_TIMEOUT, "committed LSN still %llu after %lld ns", (unsigned long long)l, (long long)timeout_ns);
			if (rem < left)
				left = rem;
		}
		ts.tv_sec = 0, ts.tv_nsec = (long)left;
		if (syscall(SYS_futex, fw, FUTEX_WAIT, v, &ts, NULL, 0) != 0 && errno != EAGAIN && errno != ETIMEDOUT && errno != EINTR)
			mmsb_reader__sleep_ns(left < 1000000 ? left : 1000000); /* futex refused: poll */
	}
}

/* mmsb_reader_wait: the call above, under the fault guard. */
static inline MMSB_READER__UNUSED int mmsb_reader_wait(mmsb_reader *r, uint64_t after, int64_t timeout_ns, uint64_t *lsn) {
	MMSB_READER__GUARDED(r, "?", mmsb_reader__wait_unguarded(r, after, timeout_ns, lsn));
}

/* mmsb_reader_pages writes the live page IDs, ascending, to ids[0:cap]
 * and their number to *count. TOO_SMALL (with *count set) when cap is
 * smaller; ids NULL with cap 0 asks for the count. */
static inline int mmsb_reader__cmp_u64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}
static inline int mmsb_reader__pages_unguarded(mmsb_reader *r, uint64_t *ids, size_t cap, size_t *count) {
	size_t i, n = 0;
	int rc;
	MMSB_READER__CHECK_HANDLE(r, "pages");
	if (count == NULL || (ids == NULL && cap != 0))
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "pages: NULL count pointer or NULL array with capacity %zu", cap);
	if ((rc = mmsb_reader__check(r)) != MMSB_READER_OK)
		return rc;
	if ((rc = mmsb_reader__rebuild(r)) != MMSB_READER_OK)
		return rc;
	*count = r->live;
	if (r->live > cap)
		return mmsb_reader__fail(MMSB_READER_ERR_TOO_SMALL, "%zu pages, array holds %zu", r->live, cap);
	for (i = 0; i < r->icap; i++)
		if (r->keys[i] != 0)
			ids[n++] = r->keys[i];
	if (n > 1) /* ids may be NULL when there is no page: qsort's argument must not be */
		qsort(ids, n, sizeof *ids, mmsb_reader__cmp_u64);
	return MMSB_READER_OK;
}

/* mmsb_reader_pages: the call above, under the fault guard. */
static inline MMSB_READER__UNUSED int mmsb_reader_pages(mmsb_reader *r, uint64_t *ids, size_t cap, size_t *count) {
	MMSB_READER__GUARDED(r, "?", mmsb_reader__pages_unguarded(r, ids, cap, count));
}

/* mmsb_reader__await_free waits until the writer has published the commit
 * of LSN freed, whose free may be why page id is missing from a snapshot,
 * at most writer_timeout (the commit is normally published microseconds
 * after its operations are applied): SNAPSHOT_BUSY when it is not,
 * WRITER_GONE or STALE when the writer goes, OK when it is published (the
 * caller starts the snapshot over). */
static inline int mmsb_reader__await_free(mmsb_reader *r, uint64_t id, uint64_t freed) {
	uint64_t l;
	int rc = mmsb_reader_wait(r, freed - 1, r->o.writer_timeout_ns, &l);
	if (rc != MMSB_READER_ERR_TIMEOUT)
		return rc;
	return mmsb_reader__fail(MMSB_READER_ERR_SNAPSHOT_BUSY,
	                         "page %llu is gone, freed by the commit of LSN %llu, which the writer did not publish within %lld ns (committed LSN %llu)",
	                         (unsigned long long)id, (unsigned long long)freed, (long long)r->o.writer_timeout_ns,
	                         (unsigned long long)mmsb_reader__ld64acq(r->hdr.p + MMSB_READER__H_LSN));
}

/* mmsb_reader_snapshot copies pages ids[0:n] consistently at one committed
 * LSN (written to *lsn), as Go's Reader.Snapshot: read the committed LSN
 * L, then each page under its seqlock; accepted when no page was written
 * after L, else retried (snapshot_retries, then SNAPSHOT_BUSY). A page
 * missing at L is NOT_FOUND; a page missing because a commit after L freed
 * it (applied before its LSN is published: the header's free word is
 * above L) makes it wait for that commit and start over, and fail with
 * SNAPSHOT_BUSY if the commit is not published within writer_timeout.
 * Page i goes to bufs[i][0:caps[i]], its size to sizes[i], its epoch and
 * LSN to infos[i] (infos may be NULL). TOO_SMALL: sizes[i] holds the size
 * of the first page i larger than caps[i] (its message names i), and that
 * buffer is not written; the other buffers, sizes and infos are then
 * unspecified, as after every error, and *lsn is not written. Each
 * attempt first checks the writer: WRITER_GONE or STALE, n 0 included. */
static inline int mmsb_reader__snapshot_unguarded(mmsb_reader *r, const uint64_t *ids, size_t n, void *const *bufs, const size_t *caps,
                                                 size_t *sizes, mmsb_reader_page_info *infos, uint64_t *lsn) {
	int attempt, rc;
	size_t i;
	MMSB_READER__CHECK_HANDLE(r, "snapshot");
	if (lsn == NULL || (n > 0 && (ids == NULL || bufs == NULL || caps == NULL || sizes == NULL)))
		return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "snapshot: NULL argument");
	for (i = 0; i < n; i++)
		if (bufs[i] == NULL && caps[i] != 0)
			return mmsb_reader__fail(MMSB_READER_ERR_INVALID, "snapshot: NULL buffer %zu with capacity %zu", i, caps[i]);
	for (attempt = 0; attempt < r->o.snapshot_retries; attempt++) {
		uint64_t at;
		int ok = 1;
		/* Checked here, not only by each page's read (as Go's and
		 * Python's snapshots do): a snapshot of no pages read none, and
		 * returned OK with the frozen LSN of a writer that had closed,
		 * died or been superseded. */
		if ((rc = mmsb_reader__check(r)) != MMSB_READER_OK)
			return rc;
		at = mmsb_reader__ld64acq(r->hdr.p + MMSB_READER__H_LSN);
		for (i = 0; i < n && ok; i++) {
			mmsb_reader__dst d;
			mmsb_reader_page_info info;
			d.buf = bufs[i], d.cap = caps[i], d.size = 0;
			rc = mmsb_reader__read(r, ids[i], &d, &info);
			if (rc == MMSB_READER_ERR_NOT_FOUND) {
				uint64_t freed;
				if (mmsb_reader__ld64acq(r->hdr.p + MMSB_READER__H_LSN) != at) {
					ok = 0; /* freed by a commit after at: retry */
					break;
				}
				/* The committed LSN has not moved, but the writer applies a
				 * commit's operations before it publishes the commit's LSN:
				 * the page may have existed at at and been freed by a
				 * commit still being applied. The free word, stored before
				 * the freed slot changes and loaded after the page was
				 * found missing (the fence orders the loads), tells: above
				 * at, wait for that commit and start over; otherwise every
				 * free applied so far is published, and the page was
				 * missing at at. */
				__atomic_thread_fence(__ATOMIC_ACQUIRE);
				freed = mmsb_reader__ld64acq(r->hdr.p + MMSB_READER__H_FREE_LSN);
				if (freed > at) {
					if ((rc = mmsb_reader__await_free(r, ids[i], freed)) != MMSB_READER_OK)
						return rc;
					ok = 0;
					break;
				}
			}
			if (rc != MMSB_READER_OK)
				return rc;
			sizes[i] = d.size;
			if (d.size > caps[i])
				return mmsb_reader__fail(MMSB_READER_ERR_TOO_SMALL, "snapshot: page %llu is %zu bytes, buffer %zu holds %zu",
				                  (unsigned long long)ids[i], d.size, i, caps[i]);
			if (infos != NULL)
				infos[i] = info;
			if (info.lsn > at)
				ok = 0;
		}
		if (ok) {
			*lsn = at;
			return MMSB_READER_OK;
		}
		sched_yield();
	}
	return mmsb_reader__fail(MMSB_READER_ERR_SNAPSHOT_BUSY, "%d attempts over %zu pages", r->o.snapshot_retries, n);
}

/* mmsb_reader_snapshot: the call above, under the fault guard. */
static inline MMSB_READER__UNUSED int mmsb_reader_snapshot(mmsb_reader *r, const uint64_t *ids, size_t n, void *const *bufs,
                                                   const size_t *caps, size_t *sizes, mmsb_reader_page_info *infos, uint64_t *lsn) {
	MMSB_READER__GUARDED(r, "?", mmsb_reader__snapshot_unguarded(r, ids, n, bufs, caps, sizes, infos, lsn));
}

/* mmsb_reader_generation and mmsb_reader_writer_pid describe the region;
 * mmsb_reader_retries counts reads that failed the sequence check. */
static inline MMSB_READER__UNUSED int mmsb_reader_info(mmsb_reader *r, uint64_t *generation, int64_t *writer_pid, uint64_t *retries) {
	MMSB_READER__CHECK_HANDLE(r, "info");
	if (generation != NULL) *generation = r->gen;
	if (writer_pid != NULL) *writer_pid = r->pid;
	if (retries != NULL) *retries = r->retries;
	return MMSB_READER_OK;
}

#ifdef __cplusplus
}
#endif

#endif /* MMSB_READER_H */
