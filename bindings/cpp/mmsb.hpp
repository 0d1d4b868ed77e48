// mmsb.hpp: header-only C++20 wrapper of the MMSB C ABI (bindings/c/mmsb.h).
//
//     mmsb::bus bus("./data", {.sync = mmsb::sync_mode::group});
//     auto ids = bus.create_pages(1000, 1024);
//     bus.commit({{ids[0], 0, mmsb::bytes("hello")}});
//     std::vector<std::uint8_t> page = bus.read(ids[0]);
//
// RAII: a bus closes in its destructor (errors there are swallowed: call
// close() to see them). Every failed call throws a subclass of mmsb::error,
// one class per status code (mmsb::page_not_found for
// MMSB_ERR_PAGE_NOT_FOUND, ...), carrying the code and the library's
// message. Link with -lmmsb (build/libmmsb.so, see docs/bindings.md); the
// caveats of mmsb.h apply (one Go runtime per process, no fork after open).
#ifndef MMSB_HPP
#define MMSB_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mmsb.h"

// The Go-free shared-memory reader (Tier 0, bindings/c/mmsb_reader.h), when
// present, is wrapped by mmsb::reader below. Its C names live in their own
// namespace (mmsb_reader_*, MMSB_READER_*), so it and mmsb.h can be
// included in any order, here or in the program itself.
#if defined(__linux__) && __has_include("mmsb_reader.h") && !defined(MMSB_HPP_NO_READER)
#define MMSB_HPP_HAS_READER 1
#include "mmsb_reader.h"
#endif

namespace mmsb {

// error is the base of every exception thrown by this header.
class error : public std::runtime_error {
public:
    error(int code, const std::string &message) : std::runtime_error(message), code_(code) {}
    // The C ABI status code (MMSB_ERR_...).
    int code() const noexcept { return code_; }
    // The status code's name ("MMSB_ERR_CONFLICT"; "MMSB_READER_ERR_TIMEOUT"
    // for the reader's own codes, which mmsb_status_name does not know).
    const char *code_name() const noexcept {
#ifdef MMSB_HPP_HAS_READER
        switch (code_) {
        case MMSB_READER_ERR_INVALID: return "MMSB_READER_ERR_INVALID";
        case MMSB_READER_ERR_WRITER_GONE: return "MMSB_READER_ERR_WRITER_GONE";
        case MMSB_READER_ERR_STALE: return "MMSB_READER_ERR_STALE";
        case MMSB_READER_ERR_NOT_FOUND: return "MMSB_READER_ERR_NOT_FOUND";
        case MMSB_READER_ERR_FORMAT: return "MMSB_READER_ERR_FORMAT";
        case MMSB_READER_ERR_BUSY: return "MMSB_READER_ERR_BUSY";
        case MMSB_READER_ERR_SNAPSHOT_BUSY: return "MMSB_READER_ERR_SNAPSHOT_BUSY";
        case MMSB_READER_ERR_TIMEOUT: return "MMSB_READER_ERR_TIMEOUT";
        case MMSB_READER_ERR_TOO_SMALL: return "MMSB_READER_ERR_TOO_SMALL";
        case MMSB_READER_ERR_SYSTEM: return "MMSB_READER_ERR_SYSTEM";
        case MMSB_READER_ERR_NOMEM: return "MMSB_READER_ERR_NOMEM";
        default: break;
        }
#endif
        return mmsb_status_name(code_);
    }

private:
    int code_;
};

class bus;

// error_of<status> is the base of status's class: what a class carries
// beyond code and message goes into its specialization.
template <int Status> class error_of : public error {
protected:
    explicit error_of(const std::string &message) : error(Status, message) {}
};

// mmsb::failed: the bus failed (a write, fsync or replication failed;
// sticky). From bus::create_pages it may name the pages the batch created.
template <> class error_of<MMSB_ERR_FAILED> : public error {
public:
    // The IDs of the pages create_pages created before the bus failed: the
    // batch was logged and applied (the pages exist, and are in the log
    // that may not be durable), then its fsync or replication failed.
    // Empty when nothing was created, and from every other call.
    std::span<const std::uint64_t> page_ids() const noexcept {
        if (!ids_) return {};
        return *ids_;
    }

protected:
    explicit error_of(const std::string &message) : error(MMSB_ERR_FAILED, message) {}

private:
    friend class bus;
    // Shared, so that copying the exception cannot throw.
    std::shared_ptr<const std::vector<std::uint64_t>> ids_;
};

#define MMSB_HPP_ERROR(cls, status)                                                    \
    class cls : public error_of<status> {                                              \
    public:                                                                            \
        static constexpr int status_code = status;                                     \
        explicit cls(const std::string &message) : error_of<status>(message) {}        \
    };
MMSB_HPP_ERROR(page_not_found, MMSB_ERR_PAGE_NOT_FOUND)
MMSB_HPP_ERROR(page_exists, MMSB_ERR_PAGE_EXISTS)
MMSB_HPP_ERROR(invalid_page, MMSB_ERR_INVALID_PAGE)
MMSB_HPP_ERROR(invalid_delta, MMSB_ERR_INVALID_DELTA)
MMSB_HPP_ERROR(out_of_range, MMSB_ERR_OUT_OF_RANGE)
MMSB_HPP_ERROR(conflict, MMSB_ERR_CONFLICT)
MMSB_HPP_ERROR(corruption, MMSB_ERR_CORRUPTION)
MMSB_HPP_ERROR(cycle, MMSB_ERR_CYCLE)
MMSB_HPP_ERROR(closed, MMSB_ERR_CLOSED)
MMSB_HPP_ERROR(failed, MMSB_ERR_FAILED)
MMSB_HPP_ERROR(locked, MMSB_ERR_LOCKED)
MMSB_HPP_ERROR(unknown_func, MMSB_ERR_UNKNOWN_FUNC)
MMSB_HPP_ERROR(page_in_use, MMSB_ERR_PAGE_IN_USE)
MMSB_HPP_ERROR(not_derived, MMSB_ERR_NOT_DERIVED)
MMSB_HPP_ERROR(recompute, MMSB_ERR_RECOMPUTE)
MMSB_HPP_ERROR(log_truncated, MMSB_ERR_LOG_TRUNCATED)
MMSB_HPP_ERROR(busy, MMSB_ERR_BUSY)
MMSB_HPP_ERROR(no_checkpoint, MMSB_ERR_NO_CHECKPOINT)
MMSB_HPP_ERROR(invalid_option, MMSB_ERR_INVALID_OPTION)
MMSB_HPP_ERROR(checkpoint_failing, MMSB_ERR_CHECKPOINT_FAILING)
MMSB_HPP_ERROR(writer_gone, MMSB_ERR_WRITER_GONE)
MMSB_HPP_ERROR(stale, MMSB_ERR_STALE)
MMSB_HPP_ERROR(shared_corrupt, MMSB_ERR_SHARED_CORRUPT)
MMSB_HPP_ERROR(snapshot_busy, MMSB_ERR_SNAPSHOT_BUSY)
MMSB_HPP_ERROR(no_space, MMSB_ERR_NO_SPACE)
MMSB_HPP_ERROR(replication, MMSB_ERR_REPLICATION)
MMSB_HPP_ERROR(follower, MMSB_ERR_FOLLOWER)
MMSB_HPP_ERROR(replica_order, MMSB_ERR_REPLICA_ORDER)
MMSB_HPP_ERROR(replica_diverged, MMSB_ERR_REPLICA_DIVERGED)
MMSB_HPP_ERROR(record_too_large, MMSB_ERR_RECORD_TOO_LARGE)
MMSB_HPP_ERROR(invalid_handle, MMSB_ERR_INVALID_HANDLE)
MMSB_HPP_ERROR(invalid_argument, MMSB_ERR_INVALID_ARGUMENT)
MMSB_HPP_ERROR(buffer_too_small, MMSB_ERR_BUFFER_TOO_SMALL)
MMSB_HPP_ERROR(io_error, MMSB_ERR_IO)
MMSB_HPP_ERROR(internal_error, MMSB_ERR_INTERNAL)
#undef MMSB_HPP_ERROR

// last_error is the calling thread's last error message (mmsb_last_error).
inline std::string last_error() {
    std::string msg(mmsb_last_error(nullptr, 0), '\0');
    mmsb_last_error(msg.data(), msg.size() + 1);
    return msg;
}

// throw_status throws the exception of status with the calling thread's
// last error message (see mmsb_last_error).
[[noreturn]] inline void throw_status(int status) {
    std::string msg = last_error();
    switch (status) {
    case MMSB_ERR_PAGE_NOT_FOUND: throw page_not_found(msg);
    case MMSB_ERR_PAGE_EXISTS: throw page_exists(msg);
    case MMSB_ERR_INVALID_PAGE: throw invalid_page(msg);
    case MMSB_ERR_INVALID_DELTA: throw invalid_delta(msg);
    case MMSB_ERR_OUT_OF_RANGE: throw out_of_range(msg);
    case MMSB_ERR_CONFLICT: throw conflict(msg);
    case MMSB_ERR_CORRUPTION: throw corruption(msg);
    case MMSB_ERR_CYCLE: throw cycle(msg);
    case MMSB_ERR_CLOSED: throw closed(msg);
    case MMSB_ERR_FAILED: throw failed(msg);
    case MMSB_ERR_LOCKED: throw locked(msg);
    case MMSB_ERR_UNKNOWN_FUNC: throw unknown_func(msg);
    case MMSB_ERR_PAGE_IN_USE: throw page_in_use(msg);
    case MMSB_ERR_NOT_DERIVED: throw not_derived(msg);
    case MMSB_ERR_RECOMPUTE: throw recompute(msg);
    case MMSB_ERR_LOG_TRUNCATED: throw log_truncated(msg);
    case MMSB_ERR_BUSY: throw busy(msg);
    case MMSB_ERR_NO_CHECKPOINT: throw no_checkpoint(msg);
    case MMSB_ERR_INVALID_OPTION: throw invalid_option(msg);
    case MMSB_ERR_CHECKPOINT_FAILING: throw checkpoint_failing(msg);
    case MMSB_ERR_WRITER_GONE: throw writer_gone(msg);
    case MMSB_ERR_STALE: throw stale(msg);
    case MMSB_ERR_SHARED_CORRUPT: throw shared_corrupt(msg);
    case MMSB_ERR_SNAPSHOT_BUSY: throw snapshot_busy(msg);
    case MMSB_ERR_NO_SPACE: throw no_space(msg);
    case MMSB_ERR_REPLICATION: throw replication(msg);
    case MMSB_ERR_FOLLOWER: throw follower(msg);
    case MMSB_ERR_REPLICA_ORDER: throw replica_order(msg);
    case MMSB_ERR_REPLICA_DIVERGED: throw replica_diverged(msg);
    case MMSB_ERR_RECORD_TOO_LARGE: throw record_too_large(msg);
    case MMSB_ERR_INVALID_HANDLE: throw invalid_handle(msg);
    case MMSB_ERR_INVALID_ARGUMENT: throw invalid_argument(msg);
    case MMSB_ERR_BUFFER_TOO_SMALL: throw buffer_too_small(msg);
    case MMSB_ERR_IO: throw io_error(msg);
    case MMSB_ERR_INTERNAL: throw internal_error(msg);
    default: throw error(status, msg);
    }
}

// check throws for a status other than MMSB_OK.
inline void check(int status) {
    if (status != MMSB_OK) throw_status(status);
}

// bytes views a string's characters as bytes (for literals in writes).
namespace detail {

// read_retries bounds how often read_growing grows its buffer and asks again.
inline constexpr int read_retries = 8;

// read_growing reads into buf with call(data, capacity, &size), which
// returns too_small with the size needed when the buffer is too small;
// buf ends up holding exactly the page. A page freed and created again,
// larger, between two calls (another thread, another process) makes the
// second call too small as well: a single retry threw buffer_too_small
// for a page that exists. It grows and asks again while the size keeps
// changing, at most read_retries times (each retry needs another
// re-creation to land between two calls; the bound turns a source that
// reports sizes it then refuses into an error). Returns call's last
// status.
template <class F> int read_growing(std::vector<std::uint8_t> &buf, int too_small, F call) {
    if (buf.size() < 4096) buf.resize(4096);
    std::size_t n = 0;
    int st = call(buf.data(), buf.size(), &n);
    for (int i = 0; i < read_retries && st == too_small; i++) {
        buf.resize(n);
        st = call(buf.data(), buf.size(), &n);
    }
    if (st == 0) buf.resize(n);
    return st;
}

} // namespace detail

inline std::span<const std::uint8_t> bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t *>(s.data()), s.size()};
}

enum class sync_mode : std::int32_t {
    group = MMSB_SYNC_GROUP,
    always = MMSB_SYNC_ALWAYS,
    none = MMSB_SYNC_NONE,
};

// options of bus::bus; the defaults are the library's.
struct options {
    sync_mode sync = sync_mode::group;
    bool shared = false;          // publish pages in shared memory for readers
    std::string shared_dir{};     // "" : /dev/shm (initialized: {.sync = ...} is -Wextra clean)
    bool shared_group = false;
    std::int64_t checkpoint_bytes = 0;
    std::int64_t segment_bytes = 0;
    std::int32_t workers = 0;
};

// write is one write of a batch: data at offset of page. data must stay
// valid for the commit call only.
struct write {
    std::uint64_t page;
    std::uint32_t offset;
    std::span<const std::uint8_t> data;
};

// any_epoch in expect_epochs: that write applies whatever the page's epoch.
inline constexpr std::uint64_t any_epoch = MMSB_ANY_EPOCH;

// meta_entry is one key/value metadata pair of a page (ABI 1.2). The value
// is bytes (std::string holds any); a key must hold no NUL byte
// (invalid_argument). Keys starting with "mmsb." are the bus's own
// ("mmsb.type": the element type, e.g. "f64"): use a prefix of your own.
struct meta_entry {
    std::string key;
    std::string value;
    bool operator==(const meta_entry &) const = default;
};

// metadata is a page's entries, in order (bus::meta, bus::set_metadata).
using metadata = std::vector<meta_entry>;

// meta_value returns (a copy of) the value of key in m, or nullopt when m
// has none. A copy: bus::meta returns a temporary, which a pointer into it
// would outlive.
inline std::optional<std::string> meta_value(const metadata &m, std::string_view key) {
    for (const auto &e : m)
        if (e.key == key) return e.value;
    return std::nullopt;
}

using commit_info = mmsb_commit_info;
using page_info = mmsb_page_info;
using checkpoint_info = mmsb_checkpoint_info;
using replay_report = mmsb_replay_report;
using stats = mmsb_stats;

// bus is an open bus (RAII; movable, not copyable). Its methods may be
// called from several threads at once (the library is thread-safe, and a
// call racing a close of the same handle throws mmsb::closed), but close(),
// a move and the destructor need the object to themselves, as for any
// standard library object: they write the handle the others read.
class bus {
public:
    // Opens (or creates) the bus in dir ("" : in memory).
    explicit bus(const std::string &dir, const options &o = {}) {
        // c_str() of a string holding a NUL ends there: "data\0x" would
        // open "data", another bus than the one named.
        no_nul(dir, "dir");
        no_nul(o.shared_dir, "shared_dir");
        mmsb_options co{};
        co.struct_size = sizeof co;
        co.sync = static_cast<std::int32_t>(o.sync);
        co.shared = o.shared ? 1 : 0;
        co.shared_group = o.shared_group ? 1 : 0;
        co.shared_dir = o.shared_dir.empty() ? nullptr : o.shared_dir.c_str();
        co.checkpoint_bytes = o.checkpoint_bytes;
        co.segment_bytes = o.segment_bytes;
        co.workers = o.workers;
        check(mmsb_open(dir.c_str(), &co, &h_));
    }
    // Adopts a handle from mmsb_open (ownership moves to the bus).
    static bus adopt(mmsb_bus h) noexcept { return bus(h); }

    bus(const bus &) = delete;
    bus &operator=(const bus &) = delete;
    bus(bus &&o) noexcept : h_(std::exchange(o.h_, 0)) {}
    bus &operator=(bus &&o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, 0);
        }
        return *this;
    }
    ~bus() { reset(); }

    // Closes the bus; throws what mmsb_close reports. A closed or moved-from
    // bus throws mmsb::closed from every other method.
    void close() {
        if (h_ == 0) return;
        check(mmsb_close(std::exchange(h_, 0)));
    }
    bool is_open() const noexcept { return h_ != 0; }
    mmsb_bus handle() const noexcept { return h_; }

    // Creates n pages of size bytes with the next free IDs; returns them.
    std::vector<std::uint64_t> create_pages(std::size_t n, std::uint64_t size) {
        // Checked before the vector of n sizes is allocated: a garbage count
        // threw std::bad_alloc (or took gigabytes) instead of mmsb::error.
        if (n == 0 || n > max_create_pages)
            throw invalid_argument("mmsb: page count " + std::to_string(n) + " is outside 1.." +
                                   std::to_string(max_create_pages));
        // A uint32_t parameter cut 2^32 + 64 to 64: a page of 64 bytes. The
        // library checks the range it accepts (1 B .. 16 MiB: invalid_page).
        if (size > UINT32_MAX)
            throw invalid_argument("mmsb: page size " + std::to_string(size) + " does not fit in 32 bits");
        std::vector<std::uint32_t> sizes(n, static_cast<std::uint32_t>(size));
        return create_pages(sizes);
    }
    // Creates n pages of size bytes, each carrying meta from its creation
    // (one logged batch: no page exists without it).
    std::vector<std::uint64_t> create_pages(std::size_t n, std::uint64_t size, const metadata &meta) {
        if (n == 0 || n > max_create_pages)
            throw invalid_argument("mmsb: page count " + std::to_string(n) + " is outside 1.." +
                                   std::to_string(max_create_pages));
        if (size > UINT32_MAX)
            throw invalid_argument("mmsb: page size " + std::to_string(size) + " does not fit in 32 bits");
        std::vector<std::uint32_t> sizes(n, static_cast<std::uint32_t>(size));
        return create_pages(sizes, meta);
    }
    // Creates one page per size (ids empty: assign; else one ID per size, 0: assign).
    std::vector<std::uint64_t> create_pages(std::span<const std::uint32_t> sizes,
                                            std::span<const std::uint64_t> ids = {}) {
        return create(sizes, ids, nullptr);
    }
    // create_pages(sizes, {}) and create_pages(sizes, {id, ...}): IDs as a
    // braced list. Without this overload create_pages(sizes, {}), valid
    // code before the metadata overload below, was ambiguous between the
    // two (a compile error); an initializer_list is the better match.
    std::vector<std::uint64_t> create_pages(std::span<const std::uint32_t> sizes,
                                            std::initializer_list<std::uint64_t> ids) {
        return create(sizes, std::span<const std::uint64_t>(ids.begin(), ids.size()), nullptr);
    }
    // create_pages with every page carrying meta from its creation.
    std::vector<std::uint64_t> create_pages(std::span<const std::uint32_t> sizes, const metadata &meta,
                                            std::span<const std::uint64_t> ids = {}) {
        return create(sizes, ids, &meta);
    }
    // Returns page's metadata entries, in order (empty: none).
    metadata meta(std::uint64_t page) {
        std::vector<std::uint8_t> enc = read_sized([&](std::uint8_t *b, std::size_t c, std::size_t *n) {
            return mmsb_page_meta(live(), page, b, c, n);
        });
        std::size_t n = 0;
        int st = mmsb_meta_decode(enc.data(), enc.size(), nullptr, 0, &n);
        if (st != MMSB_ERR_BUFFER_TOO_SMALL) check(st);
        std::vector<mmsb_meta_entry> es(n);
        check(mmsb_meta_decode(enc.data(), enc.size(), es.data(), es.size(), &n));
        metadata out;
        out.reserve(n);
        for (std::size_t i = 0; i < n; i++)
            out.push_back({std::string(es[i].key, es[i].key_len),
                           std::string(reinterpret_cast<const char *>(es[i].value), es[i].value_len)});
        return out;
    }
    // Replaces page's metadata (logged); an empty meta clears it. A key
    // given twice keeps its first place and its last value.
    void set_metadata(std::uint64_t page, const metadata &meta) {
        auto es = c_meta(meta);
        check(mmsb_set_metadata(live(), page, es.data(), es.size()));
    }
    void free_page(std::uint64_t page) { check(mmsb_free_page(live(), page)); }

    // Commits writes as one atomic batch (wait=false: before it is durable;
    // then call wait_durable(info.last_lsn)). expect_epochs, when not
    // empty, holds one expected page epoch per write (any_epoch: no check);
    // a mismatch throws mmsb::conflict and nothing applies.
    commit_info commit(std::span<const write> writes, bool wait = true,
                       std::span<const std::uint64_t> expect_epochs = {}) {
        std::vector<mmsb_write> ws;
        ws.reserve(writes.size());
        for (std::size_t i = 0; i < writes.size(); i++) {
            const auto &w = writes[i];
            // Named: "a write longer than 4 GiB" did not say which of a batch.
            if (w.data.size() > UINT32_MAX)
                throw invalid_argument("mmsb: write " + std::to_string(i) + " (page " + std::to_string(w.page) +
                                       ", offset " + std::to_string(w.offset) + ") is " +
                                       std::to_string(w.data.size()) + " bytes, more than a write can carry (" +
                                       std::to_string(UINT32_MAX) + ")");
            ws.push_back({w.page, w.offset, static_cast<std::uint32_t>(w.data.size()), w.data.data()});
        }
        return commit_raw(ws, wait, expect_epochs);
    }
    commit_info commit(std::initializer_list<write> writes, bool wait = true,
                       std::span<const std::uint64_t> expect_epochs = {}) {
        return commit(std::span<const write>(writes.begin(), writes.size()), wait, expect_epochs);
    }
    // Commits C structs as they are (no copy).
    commit_info commit_raw(std::span<const mmsb_write> writes, bool wait = true,
                           std::span<const std::uint64_t> expect_epochs = {}) {
        commit_info info{};
        check(mmsb_commit(live(), writes.data(), writes.size(), expectations(expect_epochs, writes.size()),
                          wait ? 0 : MMSB_COMMIT_ASYNC, &info));
        return info;
    }
    // Commits pages.size() fixed-width writes: data holds pages.size() * width bytes.
    commit_info commit_array(std::span<const std::uint64_t> pages, std::span<const std::uint32_t> offsets,
                             std::span<const std::uint8_t> data, bool wait = true,
                             std::span<const std::uint64_t> expect_epochs = {}) {
        if (pages.size() != offsets.size())
            throw invalid_argument("mmsb: " + std::to_string(pages.size()) + " pages but " +
                                   std::to_string(offsets.size()) + " offsets");
        if (pages.empty() || data.size() % pages.size() != 0)
            throw invalid_argument("mmsb: " + std::to_string(data.size()) + " data bytes do not split into " +
                                   std::to_string(pages.size()) + " equal writes");
        commit_info info{};
        check(mmsb_commit_array(live(), pages.data(), offsets.data(), data.data(), pages.size(),
                                data.size() / pages.size(), expectations(expect_epochs, pages.size()),
                                wait ? 0 : MMSB_COMMIT_ASYNC, &info));
        return info;
    }
    void wait_durable(std::uint64_t lsn) { check(mmsb_wait_durable(live(), lsn)); }
    void flush() { check(mmsb_flush(live())); }

    // Copies page's bytes into out; returns the byte count (buffer_too_small
    // if out cannot hold them). epoch, when given, receives the page's epoch.
    std::size_t read_into(std::uint64_t page, std::span<std::uint8_t> out, std::uint64_t *epoch = nullptr) {
        std::size_t n = 0;
        check(mmsb_read(live(), page, out.data(), out.size(), &n, epoch));
        return n;
    }
    // Returns page's bytes.
    std::vector<std::uint8_t> read(std::uint64_t page, std::uint64_t *epoch = nullptr) {
        return read_sized([&](std::uint8_t *b, std::size_t c, std::size_t *n) {
            return mmsb_read(live(), page, b, c, n, epoch);
        });
    }
    // Returns page's bytes as of LSN lsn.
    std::vector<std::uint8_t> read_at(std::uint64_t page, std::uint64_t lsn, std::uint64_t *epoch = nullptr) {
        return read_sized([&](std::uint8_t *b, std::size_t c, std::size_t *n) {
            return mmsb_read_at(live(), page, lsn, b, c, n, epoch);
        });
    }
    page_info info(std::uint64_t page) {
        page_info pi{};
        check(mmsb_page_info_get(live(), page, &pi));
        return pi;
    }
    std::uint64_t last_lsn() {
        std::uint64_t v = 0;
        check(mmsb_last_lsn(live(), &v));
        return v;
    }
    std::uint64_t state_hash() {
        std::uint64_t v = 0;
        check(mmsb_state_hash(live(), &v));
        return v;
    }
    checkpoint_info checkpoint() {
        checkpoint_info ci{};
        check(mmsb_checkpoint(live(), &ci));
        return ci;
    }
    replay_report verify_replay(bool from_newest_checkpoint = false) {
        replay_report r{};
        check(mmsb_verify_replay(live(), from_newest_checkpoint ? 1 : 0, &r));
        return r;
    }
    stats get_stats() {
        stats s{};
        s.struct_size = sizeof s;
        check(mmsb_stats_get(live(), &s));
        return s;
    }
    std::string shared_path() {
        std::size_t n = 0;
        int st = mmsb_shared_path(live(), nullptr, 0, &n);
        if (st != MMSB_ERR_BUFFER_TOO_SMALL) check(st);
        std::string s(n, '\0');
        check(mmsb_shared_path(live(), s.data(), n + 1, &n));
        return s;
    }

    // The most pages one create_pages call makes (the library's bound:
    // 2^24, 2^20 where size_t has 32 bits).
    static constexpr std::size_t max_create_pages =
        sizeof(std::size_t) >= 8 ? std::size_t(1) << 24 : std::size_t(1) << 20;

private:
    explicit bus(mmsb_bus h) noexcept : h_(h) {}
    // create is create_pages, with metadata when meta is not null.
    std::vector<std::uint64_t> create(std::span<const std::uint32_t> sizes, std::span<const std::uint64_t> ids,
                                      const metadata *meta) {
        if (!ids.empty() && ids.size() != sizes.size())
            throw invalid_argument("mmsb: " + std::to_string(ids.size()) + " ids for " +
                                   std::to_string(sizes.size()) + " sizes");
        std::vector<std::uint64_t> out(sizes.size());  // zeros: no page ID is 0
        const std::uint64_t *idp = ids.empty() ? nullptr : ids.data();
        int st;
        if (meta == nullptr) {
            st = mmsb_create_pages(live(), idp, sizes.data(), sizes.size(), out.data());
        } else {
            auto es = c_meta(*meta);
            st = mmsb_create_pages_meta(live(), idp, sizes.data(), sizes.size(), es.data(), es.size(), out.data());
        }
        // The library fills out also when the batch was logged and created
        // before the bus failed: the pages exist, and the exception says so.
        if (st == MMSB_ERR_FAILED && !out.empty() && std::find(out.begin(), out.end(), 0) == out.end()) {
            failed e(last_error());
            e.ids_ = std::make_shared<const std::vector<std::uint64_t>>(std::move(out));
            throw e;
        }
        check(st);
        return out;
    }
    // c_meta views meta as the C ABI's entries (valid while meta is).
    static std::vector<mmsb_meta_entry> c_meta(const metadata &meta) {
        std::vector<mmsb_meta_entry> es;
        es.reserve(meta.size());
        for (const auto &e : meta)
            es.push_back({e.key.data(), e.key.size(), reinterpret_cast<const std::uint8_t *>(e.value.data()),
                          e.value.size()});
        return es;
    }
    static void no_nul(const std::string &s, const char *what) {
        if (s.find('\0') != std::string::npos)
            throw invalid_argument(std::string("mmsb: ") + what + " contains a NUL byte");
    }
    static const std::uint64_t *expectations(std::span<const std::uint64_t> e, std::size_t n) {
        if (e.empty()) return nullptr;
        if (e.size() != n)
            throw invalid_argument("mmsb: " + std::to_string(e.size()) + " expected epochs for " + std::to_string(n) +
                                   " writes");
        return e.data();
    }
    void reset() noexcept {
        if (h_ != 0) mmsb_close(std::exchange(h_, 0));
    }
    mmsb_bus live() const {
        if (h_ == 0) throw closed("mmsb: the bus is closed (or was moved from)");
        return h_;
    }
    template <class F> std::vector<std::uint8_t> read_sized(F call) {
        std::vector<std::uint8_t> buf;
        check(detail::read_growing(buf, MMSB_ERR_BUFFER_TOO_SMALL, call));
        return buf;
    }

    mmsb_bus h_ = 0;
};

#ifdef MMSB_HPP_HAS_READER

// read_busy: a page kept changing under the reader for longer than its
// busy timeout (reader only; code() is the reader's negative status).
class read_busy : public error {
public:
    static constexpr int status_code = MMSB_READER_ERR_BUSY;
    explicit read_busy(const std::string &message) : error(MMSB_READER_ERR_BUSY, message) {}
};

// timeout: reader::wait reached its timeout (code() is the reader's status).
class timeout : public error {
public:
    static constexpr int status_code = MMSB_READER_ERR_TIMEOUT;
    explicit timeout(const std::string &message) : error(MMSB_READER_ERR_TIMEOUT, message) {}
};

// throw_reader_status throws the exception of a mmsb_reader.h status with
// the reader's message: the same classes as the writer's wherever the
// meaning is the same (page_not_found, writer_gone, stale, shared_corrupt,
// snapshot_busy, buffer_too_small, invalid_argument, io_error), whose code()
// is then the mmsb.h code of that class.
[[noreturn]] inline void throw_reader_status(int status) {
    std::string msg = mmsb_reader_errmsg();
    switch (status) {
    case MMSB_READER_ERR_INVALID: throw invalid_argument(msg);
    case MMSB_READER_ERR_WRITER_GONE: throw writer_gone(msg);
    case MMSB_READER_ERR_STALE: throw stale(msg);
    case MMSB_READER_ERR_NOT_FOUND: throw page_not_found(msg);
    case MMSB_READER_ERR_FORMAT: throw shared_corrupt(msg);
    case MMSB_READER_ERR_BUSY: throw read_busy(msg);
    case MMSB_READER_ERR_SNAPSHOT_BUSY: throw snapshot_busy(msg);
    case MMSB_READER_ERR_TIMEOUT: throw timeout(msg);
    case MMSB_READER_ERR_TOO_SMALL: throw buffer_too_small(msg);
    case MMSB_READER_ERR_SYSTEM: throw io_error(msg);
    case MMSB_READER_ERR_NOMEM: throw std::bad_alloc();
    default: throw error(status, msg);
    }
}

inline void check_reader(int status) {
    if (status != MMSB_READER_OK) throw_reader_status(status);
}

// reader_options of reader::reader; zero fields take the defaults.
struct reader_options {
    std::chrono::nanoseconds writer_timeout{0};    // page mid-write this long: writer_gone; a snapshot waiting this long for the commit of a free: snapshot_busy (200 ms)
    std::chrono::nanoseconds liveness_interval{0}; // writer process checked this often (10 ms)
    std::chrono::nanoseconds busy_timeout{0};      // page changing under every copy this long: read_busy (1 s)
    int snapshot_retries = 0;                      // snapshot attempts (100)
};

// page_copy is one page read by a reader: its bytes, epoch and the LSN of
// its last write.
struct page_copy {
    std::uint64_t id = 0;
    std::vector<std::uint8_t> data;
    std::uint64_t epoch = 0;
    std::uint64_t lsn = 0;
};

// reader reads a bus's committed pages from the shared memory of a writer
// running with options::shared, without Go (mmsb_reader.h), in this or
// another process. RAII, movable; not thread-safe: one per thread.
class reader {
public:
    // Attaches to the region of the bus in bus_dir under shared_dir ("": /dev/shm),
    // which must belong to the owner of bus_dir (docs/shm.md, Security).
    explicit reader(const std::string &bus_dir, const std::string &shared_dir = "", const reader_options &o = {}) {
        // As for bus: c_str() of "bus\0x" is "bus", another bus's region.
        no_nul(bus_dir, "bus_dir");
        no_nul(shared_dir, "shared_dir");
        mmsb_reader_options co = c_options(o);
        check_reader(mmsb_reader_open(bus_dir.c_str(), shared_dir.empty() ? nullptr : shared_dir.c_str(), &co, &r_));
    }
    // Attaches to a region directory (bus::shared_path()), trusting whoever
    // owns it (mmsb_reader_open_region).
    static reader open_region(const std::string &region_dir, const reader_options &o = {}) {
        no_nul(region_dir, "region_dir");
        mmsb_reader_options co = c_options(o);
        mmsb_reader *r = nullptr;
        check_reader(mmsb_reader_open_region(region_dir.c_str(), &co, &r));
        return reader(r);
    }
    reader(const reader &) = delete;
    reader &operator=(const reader &) = delete;
    reader(reader &&o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    reader &operator=(reader &&o) noexcept {
        if (this != &o) {
            mmsb_reader_close(&r_);
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    ~reader() { mmsb_reader_close(&r_); }
    void close() noexcept { mmsb_reader_close(&r_); }
    bool is_open() const noexcept { return r_ != nullptr; }

    // A consistent copy of page id.
    page_copy read(std::uint64_t id) {
        page_copy p;
        p.id = id;
        mmsb_reader_page_info info{};
        mmsb_reader *r = live();
        check_reader(detail::read_growing(p.data, MMSB_READER_ERR_TOO_SMALL,
                                          [&](std::uint8_t *b, std::size_t c, std::size_t *n) {
                                              return mmsb_reader_read(r, id, b, c, n, &info);
                                          }));
        p.epoch = info.epoch;
        p.lsn = info.lsn;
        return p;
    }
    // Copies page id into out; returns its size (buffer_too_small if out is smaller).
    std::size_t read_into(std::uint64_t id, std::span<std::uint8_t> out) {
        std::size_t n = 0;
        check_reader(mmsb_reader_read(live(), id, out.data(), out.size(), &n, nullptr));
        return n;
    }
    // The committed LSN the writer published last.
    std::uint64_t last_lsn() {
        std::uint64_t v = 0;
        check_reader(mmsb_reader_last_lsn(live(), &v));
        return v;
    }
    // Waits until the committed LSN exceeds after and returns it (throws
    // timeout; a negative timeout waits without limit).
    std::uint64_t wait(std::uint64_t after, std::chrono::nanoseconds limit = std::chrono::nanoseconds(-1)) {
        std::uint64_t v = 0;
        check_reader(mmsb_reader_wait(live(), after, limit.count(), &v));
        return v;
    }
    // wait with a timeout of any std::chrono duration: one beyond what
    // nanoseconds hold (std::chrono::seconds::max() for "forever") waits
    // INT64_MAX ns, where converting it to nanoseconds overflowed (UB; it
    // wrapped to -10^9 ns, no limit by chance, or to a short timeout).
    template <class Rep, class Period>
    std::uint64_t wait(std::uint64_t after, std::chrono::duration<Rep, Period> limit) {
        return wait(after, saturate_ns(limit));
    }
    // The live page IDs, ascending.
    std::vector<std::uint64_t> pages() {
        std::vector<std::uint64_t> ids(1024);
        for (;;) {  // grow until the list fits (pages may be created meanwhile)
            std::size_t n = 0;
            int st = mmsb_reader_pages(live(), ids.data(), ids.size(), &n);
            if (st == MMSB_READER_ERR_TOO_SMALL) {
                ids.resize(n + n / 4 + 16);
                continue;
            }
            check_reader(st);
            ids.resize(n);
            return ids;
        }
    }
    // Pages ids consistently at one committed LSN (returned in lsn).
    std::vector<page_copy> snapshot(std::span<const std::uint64_t> ids, std::uint64_t *lsn = nullptr) {
        std::vector<page_copy> out(ids.size());
        std::vector<void *> bufs(ids.size());
        std::vector<std::size_t> caps(ids.size()), sizes(ids.size());
        std::vector<mmsb_reader_page_info> infos(ids.size());
        for (;;) {
            for (std::size_t i = 0; i < ids.size(); i++) {
                out[i].id = ids[i];
                if (out[i].data.size() < 4096) out[i].data.resize(4096);
                bufs[i] = out[i].data.data();
                caps[i] = out[i].data.size();
            }
            std::uint64_t at = 0;
            int st = mmsb_reader_snapshot(live(), ids.data(), ids.size(), bufs.data(), caps.data(), sizes.data(),
                                          infos.data(), &at);
            if (st == MMSB_READER_ERR_TOO_SMALL) {  // grow the buffers that were too small, try again
                for (std::size_t i = 0; i < ids.size(); i++)
                    if (sizes[i] > out[i].data.size()) out[i].data.resize(sizes[i]);
                continue;
            }
            check_reader(st);
            for (std::size_t i = 0; i < ids.size(); i++) {
                out[i].data.resize(sizes[i]);
                out[i].epoch = infos[i].epoch;
                out[i].lsn = infos[i].lsn;
            }
            if (lsn != nullptr) *lsn = at;
            return out;
        }
    }
    // The region's generation, the writer's process ID, and how many reads
    // were retried because the page changed under them.
    struct region_info {
        std::uint64_t generation;
        std::int64_t writer_pid;
        std::uint64_t retries;
    };
    region_info info() {
        region_info ri{};
        check_reader(mmsb_reader_info(live(), &ri.generation, &ri.writer_pid, &ri.retries));
        return ri;
    }

private:
    explicit reader(mmsb_reader *r) noexcept : r_(r) {}
    // saturate_ns converts d to nanoseconds, clamped to what they hold
    // (any negative: -1, no limit) instead of overflowing.
    template <class Rep, class Period> static std::chrono::nanoseconds saturate_ns(std::chrono::duration<Rep, Period> d) {
        using ns = std::chrono::nanoseconds;
        const long double v = std::chrono::duration<long double, std::nano>(d).count();
        if (v != v) throw invalid_argument("mmsb: a timeout that is not a number");
        if (v >= static_cast<long double>(ns::max().count())) return ns::max();
        if (v < 0) return ns(-1);
        return std::chrono::duration_cast<ns>(d);
    }
    static void no_nul(const std::string &s, const char *what) {
        if (s.find('\0') != std::string::npos)
            throw invalid_argument(std::string("mmsb: ") + what + " contains a NUL byte");
    }
    static mmsb_reader_options c_options(const reader_options &o) {
        mmsb_reader_options co{};
        co.writer_timeout_ns = o.writer_timeout.count();
        co.liveness_interval_ns = o.liveness_interval.count();
        co.busy_timeout_ns = o.busy_timeout.count();
        co.snapshot_retries = o.snapshot_retries;
        return co;
    }
    mmsb_reader *live() const {
        if (r_ == nullptr) throw closed("mmsb: the reader is closed (or was moved from)");
        return r_;
    }

    mmsb_reader *r_ = nullptr;
};

#endif // MMSB_HPP_HAS_READER

} // namespace mmsb

#endif // MMSB_HPP
