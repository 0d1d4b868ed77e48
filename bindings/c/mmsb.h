/*
 * mmsb.h: the C ABI of MMSB, the Memory-Mapped State Bus (writer side).
 *
 * Build the library with one command from the repository root:
 *
 *     go build -buildmode=c-shared -o build/libmmsb.so ./bindings/c
 *
 * and link with -Lbuild -lmmsb (or dlopen build/libmmsb.so). This header is
 * written by hand and is the contract; the header cgo generates next to the
 * library (build/libmmsb.h) is not meant to be included.
 *
 * Conventions (modelled on LMDB and SQLite):
 *   - Every function returns an int status: MMSB_OK (0) or one of the
 *     mmsb_status codes below. Results come back through out-parameters,
 *     which are written only on success unless a function says otherwise.
 *   - A bus is an opaque integer handle (mmsb_bus), never a pointer: no Go
 *     pointer crosses the boundary. 0 is never a valid handle. Handles are
 *     not reused: a handle that was closed answers MMSB_ERR_CLOSED forever,
 *     any other unknown value MMSB_ERR_INVALID_HANDLE.
 *   - The caller owns every buffer. Functions that return bytes or a
 *     string copy them into a caller buffer buf of capacity cap, by one
 *     rule (snprintf's): *len receives the full length of the result, a
 *     string's without its NUL. Page bytes carry no NUL and fit when
 *     cap >= *len; a string fits only with its NUL, cap >= *len + 1 (cap
 *     equal to the string's length is too small). A result that does not
 *     fit is MMSB_ERR_BUFFER_TOO_SMALL, with *len set, the message naming
 *     the size needed, and nothing written to buf or to the other
 *     out-parameters. buf may be NULL when cap is 0: that asks for the
 *     length. buf NULL with a non-zero cap, and len NULL, are
 *     MMSB_ERR_INVALID_ARGUMENT. Only the result (and a string's NUL) is
 *     written, however large cap is. mmsb_last_error alone truncates, as
 *     snprintf does (it reports a failure, so it cannot fail itself).
 *     An out-parameter must not overlap another buffer of the same call
 *     (mmsb_create_pages' out_ids may be its ids: they are read before any
 *     is written). Pointers passed in are not retained after the call
 *     returns.
 *   - After a call fails, mmsb_last_error() gives a message naming what was
 *     wrong. The message is per thread (thread-local): it describes the
 *     most recent failed call made by the calling thread and is left
 *     untouched by successful calls.
 *   - Every function is safe to call from several threads at once, on the
 *     same or different handles.
 *
 * Caveats of a Go library inside another program:
 *   - One Go runtime per process: load one copy of libmmsb.so per process.
 *     Two different Go c-shared libraries in one process are not supported
 *     by Go (each brings its own runtime and signal handlers).
 *   - No fork() after the library is loaded, except to exec() at once: the
 *     child of a fork has only the forking thread and a Go runtime whose
 *     other threads are gone. Python's multiprocessing must use the "spawn"
 *     start method (multiprocessing.set_start_method("spawn")). Processes
 *     that only read should use the Go-free reader (mmsb_reader.h, or the
 *     pure Python mmsb.Reader), which has no such limits.
 *   - The Go runtime installs signal handlers (SIGSEGV, SIGPROF, ...) with
 *     SA_ONSTACK; a host that installs its own must keep them chained.
 *   - One writer per data directory: a second open fails with
 *     MMSB_ERR_LOCKED.
 *
 * The ABI version is MMSB_ABI_VERSION; mmsb_abi_version() returns the
 * version of the library actually loaded. A program should refuse to run
 * when the major parts differ (see MMSB_ABI_MAJOR). Within one major
 * version functions and enum values are only ever added, and structs
 * carrying a struct_size field only grow at their end. struct_size (the
 * struct's first field) is what the caller's struct holds, and the library
 * takes any size a program built against an older or a newer header sets:
 *   - at least the struct's size in the first ABI that had it (both
 *     mmsb_options and mmsb_stats: ABI 1.0's, today's sizeof), and smaller
 *     than the library's: only the declared bytes are read or written;
 *     fields past them take their defaults;
 *   - larger than the library's: an input struct (mmsb_options) is taken
 *     only when every byte past the library's struct is zero (fields of a
 *     newer ABI left at their defaults), else MMSB_ERR_INVALID_ARGUMENT
 *     naming the first non-zero byte; an output struct (mmsb_stats) gets
 *     zeros in the bytes past the library's struct;
 *   - under the first size, not a multiple of the struct's alignment, or
 *     over 4096: MMSB_ERR_INVALID_ARGUMENT naming struct_size, and nothing
 *     read past struct_size or written.
 */
#ifndef MMSB_H
#define MMSB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version: major * 10000 + minor (1.1: status codes 26..30; 1.2:
 * page metadata, mmsb_meta_entry and the four functions using it). */
#define MMSB_ABI_VERSION 10002
#define MMSB_ABI_MAJOR(v) ((v) / 10000)

/* An open bus. 0 is never a valid handle. */
typedef uint64_t mmsb_bus;

/*
 * Status codes. MMSB_ERR_PAGE_NOT_FOUND .. MMSB_ERR_RECORD_TOO_LARGE map
 * one to one to the Go sentinel errors of package mmsb (ErrPageNotFound ...
 * ErrRecordTooLarge); where the bus wraps one sentinel in another, the
 * more specific one is reported, except that a failed bus is always
 * MMSB_ERR_FAILED. The codes from 100 up belong to the ABI itself.
 */
typedef enum mmsb_status {
    MMSB_OK = 0,
    MMSB_ERR_PAGE_NOT_FOUND = 1,      /* ErrPageNotFound */
    MMSB_ERR_PAGE_EXISTS = 2,         /* ErrPageExists */
    MMSB_ERR_INVALID_PAGE = 3,        /* ErrInvalidPage */
    MMSB_ERR_INVALID_DELTA = 4,       /* ErrInvalidDelta */
    MMSB_ERR_OUT_OF_RANGE = 5,        /* ErrOutOfRange (a write past the end of its page) */
    MMSB_ERR_CONFLICT = 6,            /* ErrConflict */
    MMSB_ERR_CORRUPTION = 7,          /* ErrCorruption */
    MMSB_ERR_CYCLE = 8,               /* ErrCycle */
    MMSB_ERR_CLOSED = 9,              /* ErrClosed (also: a handle already closed) */
    MMSB_ERR_FAILED = 10,             /* ErrFailed (sticky: a write or fsync failed) */
    MMSB_ERR_LOCKED = 11,             /* ErrLocked (another writer holds the directory) */
    MMSB_ERR_UNKNOWN_FUNC = 12,       /* ErrUnknownFunc */
    MMSB_ERR_PAGE_IN_USE = 13,        /* ErrPageInUse */
    MMSB_ERR_NOT_DERIVED = 14,        /* ErrNotDerived */
    MMSB_ERR_RECOMPUTE = 15,          /* ErrRecompute */
    MMSB_ERR_LOG_TRUNCATED = 16,      /* ErrLogTruncated */
    MMSB_ERR_BUSY = 17,               /* ErrBusy */
    MMSB_ERR_NO_CHECKPOINT = 18,      /* ErrNoCheckpoint */
    MMSB_ERR_INVALID_OPTION = 19,     /* ErrInvalidOption */
    MMSB_ERR_CHECKPOINT_FAILING = 20, /* ErrCheckpointFailing */
    MMSB_ERR_WRITER_GONE = 21,        /* ErrWriterGone */
    MMSB_ERR_STALE = 22,              /* ErrStale */
    MMSB_ERR_SHARED_CORRUPT = 23,     /* ErrSharedCorrupt */
    MMSB_ERR_SNAPSHOT_BUSY = 24,      /* ErrSnapshotBusy */
    MMSB_ERR_NO_SPACE = 25,           /* ErrNoSpace (no memory or tmpfs space for new pages; nothing was logged) */
    /* Since ABI 1.1 (10001): the sentinels of replication.go. */
    MMSB_ERR_REPLICATION = 26,        /* ErrReplication (reported as MMSB_ERR_FAILED, which wraps it, once the bus failed) */
    MMSB_ERR_FOLLOWER = 27,           /* ErrFollower (a write to a read-only follower) */
    MMSB_ERR_REPLICA_ORDER = 28,      /* ErrReplicaOrder */
    MMSB_ERR_REPLICA_DIVERGED = 29,   /* ErrReplicaDiverged (reported as MMSB_ERR_FAILED, which wraps it) */
    MMSB_ERR_RECORD_TOO_LARGE = 30,   /* ErrRecordTooLarge (a batch larger than one log record holds; nothing changed: commit smaller batches) */

    MMSB_ERR_INVALID_HANDLE = 100,    /* 0, or a value no open returned */
    MMSB_ERR_INVALID_ARGUMENT = 101,  /* NULL pointer, bad size, count or struct_size */
    MMSB_ERR_BUFFER_TOO_SMALL = 102,  /* the size needed was stored in the size out-parameter */
    MMSB_ERR_IO = 103,                /* an error that wraps no sentinel (e.g. a directory that cannot be created) */
    MMSB_ERR_INTERNAL = 104           /* a defect in the library (a recovered panic); please report it */
} mmsb_status;

/* Sync modes (mmsb_options.sync); see the Go package documentation. */
enum {
    MMSB_SYNC_GROUP = 0,  /* a commit returns after an fsync covering it, shared by concurrent committers */
    MMSB_SYNC_ALWAYS = 1, /* every commit is written and fsynced on its own */
    MMSB_SYNC_NONE = 2    /* a commit returns once written to the OS */
};

/* Options for mmsb_open. Zero everything, set struct_size to
 * sizeof(mmsb_options), then the fields wanted; a zero field means the
 * default. A newer library reads only struct_size bytes; an older one
 * refuses a non-zero field it does not know (see the top of this file). */
typedef struct mmsb_options {
    uint32_t struct_size;     /* sizeof(mmsb_options) */
    int32_t sync;             /* MMSB_SYNC_* (default group) */
    int32_t shared;           /* non-zero: publish pages in shared memory for readers (Options.Shared) */
    int32_t shared_group;     /* non-zero: shared files readable by the owner's group */
    const char *shared_dir;   /* tmpfs directory of shared regions (NULL: /dev/shm) */
    int64_t checkpoint_bytes; /* automatic checkpoint after this much log (0: 256 MiB; < 0: never) */
    int64_t segment_bytes;    /* log segment size (0 or negative: 64 MiB, 4 MiB in memory; a positive one at least 64 bytes) */
    int32_t workers;          /* goroutines applying a large batch (0: 1; at most 1024) */
    int32_t reserved;         /* must be 0 */
} mmsb_options;

/* One write of a batch: len bytes of data at offset of page. A len over
 * the largest page (16 MiB) is MMSB_ERR_OUT_OF_RANGE naming the write,
 * refused before data is read. */
typedef struct mmsb_write {
    uint64_t page;
    uint32_t offset;
    uint32_t len;
    const uint8_t *data; /* may be NULL only when len is 0 */
} mmsb_write;

/* Flags of mmsb_commit and mmsb_commit_array. */
enum {
    /* Return once the batch is logged and applied, before it is durable;
     * call mmsb_wait_durable(bus, info.last_lsn) before treating it as
     * acknowledged (Bus.CommitAsync). */
    MMSB_COMMIT_ASYNC = 1
};

/* An expect_epochs entry that checks nothing (the write applies whatever
 * the page's epoch). */
#define MMSB_ANY_EPOCH UINT64_MAX

/* What a commit did. */
typedef struct mmsb_commit_info {
    uint64_t first_lsn; /* LSN of the batch's first write */
    uint64_t last_lsn;  /* LSN of its last write */
    int64_t time;       /* commit time, ns since the Unix epoch */
} mmsb_commit_info;

/* A page's description. */
typedef struct mmsb_page_info {
    uint64_t id;
    uint64_t size;
    uint64_t epoch;    /* +1 per applied write */
    uint64_t last_lsn; /* LSN of the last operation that wrote the page */
    uint32_t flags;    /* MMSB page flags (stale 1, sync-pending 2, ir-invalid 4) */
    uint32_t derived;  /* 1: bound to a recompute function */
} mmsb_page_info;

/* Since ABI 1.2 (10002). One key/value metadata entry of a page: key_len
 * bytes at key and value_len bytes at value, neither NUL-terminated. An
 * entry passed in (mmsb_set_metadata, mmsb_create_pages_meta) must have a
 * key without NUL bytes; key and value may be NULL when their length is 0.
 * Keys starting with "mmsb." are reserved for the bus's own meanings
 * ("mmsb.type": a page's element type, e.g. "f64"); use a prefix of your
 * own. An entry from mmsb_meta_decode points into the buffer decoded (a key
 * set through the Go API may hold any byte, NUL included). The struct is an
 * array element: it never grows within ABI major version 1. */
typedef struct mmsb_meta_entry {
    const char *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} mmsb_meta_entry;

/* What a checkpoint wrote. */
typedef struct mmsb_checkpoint_info {
    uint64_t lsn;              /* LSN the checkpoint covers */
    uint64_t pages;
    uint64_t bytes;            /* size of the checkpoint file */
    uint64_t segments_removed; /* log segments removed because it covers them */
    int64_t duration_ns;
} mmsb_checkpoint_info;

/* A replay of the log compared with the live state (Bus.VerifyReplay). */
typedef struct mmsb_replay_report {
    uint64_t lsn;             /* every operation up to this LSN was compared */
    uint64_t checkpoint_lsn;  /* the checkpoint the replay started from (0: from LSN 1) */
    uint64_t live_hash;
    uint64_t replay_hash;
    uint64_t pages;           /* pages compared */
    uint64_t pages_differing;
    int64_t bytes_differing;
    double l2_divergence;     /* over float64 pages */
    int32_t graph_equal;      /* 1: same edges and bindings */
    int32_t equal;            /* 1: the replay matched the live state exactly */
} mmsb_replay_report;

/* Statistics of a bus. Set struct_size to sizeof(mmsb_stats) before the
 * call: the library writes struct_size bytes, zeros past the fields it
 * knows; a size no mmsb_stats has is MMSB_ERR_INVALID_ARGUMENT (see the
 * top of this file). */
typedef struct mmsb_stats {
    uint32_t struct_size;
    int32_t sync;                 /* MMSB_SYNC_* */
    uint64_t pages;
    int64_t logical_bytes;
    uint64_t last_lsn;
    uint64_t written_lsn;         /* handed to the OS */
    uint64_t durable_lsn;         /* covered by an fsync */
    uint64_t log_records;
    uint64_t log_bytes;
    uint64_t log_syncs;
    uint64_t log_segments;
    uint64_t checkpoints;
    uint64_t last_checkpoint_lsn;
    uint64_t checkpoint_failures;
    uint64_t edges;
    uint64_t bindings;
    uint64_t heap_bytes;          /* Go heap in use */
    int64_t arena_bytes;          /* bytes mapped for page data */
    int32_t in_memory;            /* 1: opened with dir "" */
    int32_t failed;               /* 1: writes refused after a failed write or fsync */
} mmsb_stats;

#ifndef MMSB_BUILDING_LIBRARY /* the Go side (cgo) declares the exported functions itself */

/* The ABI version of the loaded library (MMSB_ABI_VERSION it was built with). */
uint32_t mmsb_abi_version(void);

/* A static, NUL-terminated name of a status code ("MMSB_ERR_CONFLICT"), or
 * "MMSB_ERR_UNKNOWN" for a value not in mmsb_status. Never NULL. */
const char *mmsb_status_name(int status);

/* Copies the calling thread's last error message into buf (at most cap - 1
 * bytes and a NUL; nothing when cap is 0 or buf is NULL) and returns its
 * full length without the NUL, as snprintf: a value >= cap means the copy
 * was cut (call again with the value + 1). 0: no call of this thread has
 * failed yet. A message longer than 4095 bytes is kept cut to 4095, and
 * that is the length returned. */
size_t mmsb_last_error(char *buf, size_t cap);

/* Opens the bus in dir (created if missing), recovering its state; dir ""
 * opens an in-memory bus. opts may be NULL (defaults). On success *out holds
 * the handle. */
int mmsb_open(const char *dir, const mmsb_options *opts, mmsb_bus *out);

/* Syncs the log and releases the directory (no checkpoint). The handle is
 * dead afterwards: every call with it returns MMSB_ERR_CLOSED. */
int mmsb_close(mmsb_bus bus);

/* Creates n pages in one logged batch (all or none). ids may be NULL (every
 * page gets the next free ID) or hold n IDs (0: assign). sizes holds n page
 * sizes (1 B .. 16 MiB). n is 1 .. 2^24 (2^20 on 32-bit platforms); the
 * sizes, and the batch's log record (at most 256 MiB), are checked before
 * anything is allocated for the n pages. out_ids may be NULL or receive the
 * n IDs: also with MMSB_ERR_FAILED when the batch was logged and created
 * before the bus failed (its fsync or replication), as the pages then
 * exist. */
int mmsb_create_pages(mmsb_bus bus, const uint64_t *ids, const uint32_t *sizes, size_t n,
                      uint64_t *out_ids);

/* Since ABI 1.2. mmsb_create_pages with every page created carrying the
 * meta_n metadata entries of meta (meta may be NULL when meta_n is 0), in
 * the same logged batch: a page never exists without them. Bad metadata
 * (see mmsb_set_metadata) creates nothing; so does a batch whose copies
 * of the metadata alone (n times its encoded size) pass what one log
 * record holds (256 MiB): MMSB_ERR_RECORD_TOO_LARGE, refused before they
 * are made. */
int mmsb_create_pages_meta(mmsb_bus bus, const uint64_t *ids, const uint32_t *sizes, size_t n,
                           const mmsb_meta_entry *meta, size_t meta_n, uint64_t *out_ids);

/* Frees a page (MMSB_ERR_PAGE_IN_USE while edges or a binding use it). */
int mmsb_free_page(mmsb_bus bus, uint64_t page);

/* Commits n writes as one atomic batch (one log record, contiguous LSNs in
 * array order). expect_epochs is NULL or holds n epochs for optimistic
 * concurrency: write i applies only if its page's epoch is expect_epochs[i]
 * (counting earlier writes to the same page in this batch), else the whole
 * batch fails with MMSB_ERR_CONFLICT and nothing applies; MMSB_ANY_EPOCH
 * skips the check for that write. flags: 0 or MMSB_COMMIT_ASYNC. info may
 * be NULL. */
int mmsb_commit(mmsb_bus bus, const mmsb_write *writes, size_t n, const uint64_t *expect_epochs,
                uint32_t flags, mmsb_commit_info *info);

/* Commits n fixed-width writes as one atomic batch: write i puts the width
 * bytes at data + i*width at offsets[i] of pages[i]. data holds n*width
 * bytes. The fast path for numpy: three pointers, no per-write struct.
 * expect_epochs, flags and info as for mmsb_commit. */
int mmsb_commit_array(mmsb_bus bus, const uint64_t *pages, const uint32_t *offsets,
                      const uint8_t *data, size_t n, size_t width, const uint64_t *expect_epochs,
                      uint32_t flags, mmsb_commit_info *info);

/* Waits until every operation up to lsn is durable per the sync mode. lsn
 * must have been committed (at most mmsb_last_lsn's): a later one is
 * MMSB_ERR_INVALID_OPTION. */
int mmsb_wait_durable(mmsb_bus bus, uint64_t lsn);

/* Waits until everything committed so far is durable (fsync). */
int mmsb_flush(mmsb_bus bus);

/* Copies page's current bytes into buf (capacity cap) and stores their
 * length in *len and the page's epoch in *epoch (epoch may be NULL). No
 * NUL is added: cap equal to the page's size suffices. When cap is too
 * small: MMSB_ERR_BUFFER_TOO_SMALL with the size needed in *len, nothing
 * written to buf or *epoch (buf may be NULL when cap is 0). */
int mmsb_read(mmsb_bus bus, uint64_t page, uint8_t *buf, size_t cap, size_t *len,
              uint64_t *epoch);

/* mmsb_read as of LSN lsn (replayed from the newest checkpoint at or before
 * it; MMSB_ERR_LOG_TRUNCATED when the log no longer holds it; lsn 0, before
 * every operation, and an lsn after the last committed one are
 * MMSB_ERR_INVALID_OPTION). An lsn inside a batch (a commit of several
 * deltas, a propagation wave) reads the state at the batch's end, as
 * Go's Bus.ReadPageAt: no read sees half a batch. */
int mmsb_read_at(mmsb_bus bus, uint64_t page, uint64_t lsn, uint8_t *buf, size_t cap,
                 size_t *len, uint64_t *epoch);

/* Describes a page. */
int mmsb_page_info_get(mmsb_bus bus, uint64_t page, mmsb_page_info *out);

/* Since ABI 1.2. Copies page's metadata into buf (capacity cap) in its
 * encoded form, the one of the log and checkpoints (docs/page.md,
 * "Metadata encoding"): a u32 entry count, then per entry a u32 key
 * length, the key, a u32 value length and the value, integers
 * little-endian; a page without metadata is 0 bytes.
 * *len receives the size; the buffer rule is mmsb_read's (bytes, no NUL):
 * too small is MMSB_ERR_BUFFER_TOO_SMALL with the size in *len and nothing
 * written, buf may be NULL when cap is 0. Split it with mmsb_meta_decode. */
int mmsb_page_meta(mmsb_bus bus, uint64_t page, uint8_t *buf, size_t cap, size_t *len);

/* Since ABI 1.2. Splits len bytes of encoded metadata (mmsb_page_meta's)
 * into entries (capacity cap entries) that point into meta, in order, and
 * stores their count in *n. Too small an array is
 * MMSB_ERR_BUFFER_TOO_SMALL with the count in *n and nothing written;
 * entries may be NULL when cap is 0. Bytes that are no encoding (cut short,
 * trailing bytes, a zero count, over 64 KiB) are MMSB_ERR_INVALID_ARGUMENT
 * naming the fault. Needs no bus; the entries are valid while meta is. */
int mmsb_meta_decode(const uint8_t *meta, size_t len, mmsb_meta_entry *entries, size_t cap,
                     size_t *n);

/* Since ABI 1.2. Replaces page's metadata with the meta_n entries of meta
 * (logged; meta_n 0 clears it, meta may then be NULL). Entries keep their
 * order; a key given twice keeps its first place and its last value. A
 * NULL key or value with a non-zero length, or a NUL byte in a key, is
 * MMSB_ERR_INVALID_ARGUMENT; more than 8191 entries, or an encoding over
 * 64 KiB (4 bytes, then 8 per entry plus its key and value), is
 * MMSB_ERR_INVALID_PAGE, refused before the entries' bytes are read.
 * Nothing is changed on an error. */
int mmsb_set_metadata(mmsb_bus bus, uint64_t page, const mmsb_meta_entry *meta, size_t meta_n);

/* The LSN of the last applied operation. */
int mmsb_last_lsn(mmsb_bus bus, uint64_t *out);

/* The 64-bit state hash (xxhash over every page in ID order); equal to what
 * `mmsb inspect` prints for the same directory once it is durable. */
int mmsb_state_hash(mmsb_bus bus, uint64_t *out);

/* Writes a checkpoint now. info may be NULL. */
int mmsb_checkpoint(mmsb_bus bus, mmsb_checkpoint_info *info);

/* Replays the log and compares it with the live state bit for bit
 * (from_newest_checkpoint: start from the newest checkpoint instead of LSN
 * 1). A mismatch is MMSB_OK with report->equal == 0. */
int mmsb_verify_replay(mmsb_bus bus, int from_newest_checkpoint, mmsb_replay_report *report);

/* Fills *out (whose struct_size the caller set). */
int mmsb_stats_get(mmsb_bus bus, mmsb_stats *out);

/* Copies the directory of the bus's shared region (NUL-terminated) into buf
 * and stores its length (without the NUL) in *len; "" unless opened with
 * shared set. It fits only with its NUL: cap <= *len (cap 0, and cap equal
 * to the length, included) is MMSB_ERR_BUFFER_TOO_SMALL with *len set and
 * nothing written to buf; then call with cap = *len + 1. buf may be NULL
 * when cap is 0 (the size query). */
int mmsb_shared_path(mmsb_bus bus, char *buf, size_t cap, size_t *len);

#endif /* MMSB_BUILDING_LIBRARY */

#ifdef __cplusplus
}
#endif

#endif /* MMSB_H */
