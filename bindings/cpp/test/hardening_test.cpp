// hardening_test.cpp: misuse of bindings/cpp/mmsb.hpp that a caller can
// reach must throw a named mmsb::error subclass (or not compile), never
// narrow, crash or misreport. Run by bindings/c's Go tests
// (TestCPPHardening), plain and under ASan + UBSan:
//
//     hardening_test DIR                      the misuse cases
//     hardening_test DIR fail-fsync group     create_pages on a bus whose fsync fails
//     hardening_test DIR fail-fsync always    (its control: fails before the pages exist)
//
// Prints "hardening_test: ok" when every check passed, "hardening_test:
// skip: why" when the fsync filter cannot be installed; exits non-zero on
// a failed check.
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mmsb.hpp"

static int failures;

#define TRUE(cond)                                                                     \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);   \
            failures++;                                                                \
        }                                                                              \
    } while (0)

// THROWS(expr, cls): expr throws cls (caught as mmsb::error otherwise).
#define THROWS(expr, cls)                                                              \
    do {                                                                               \
        try {                                                                          \
            (void)(expr);                                                              \
            std::fprintf(stderr, "%s:%d: %s did not throw\n", __FILE__, __LINE__, #expr); \
            failures++;                                                                \
        } catch (const cls &) {                                                        \
        } catch (const mmsb::error &e_) {                                              \
            std::fprintf(stderr, "%s:%d: %s threw %s (%s), want %s\n", __FILE__,       \
                         __LINE__, #expr, e_.code_name(), e_.what(), #cls);            \
            failures++;                                                                \
        }                                                                              \
    } while (0)

// Handles own a resource: copying one would close it twice.
static_assert(!std::is_copy_constructible_v<mmsb::bus> && !std::is_copy_assignable_v<mmsb::bus>);
static_assert(std::is_nothrow_move_constructible_v<mmsb::bus> && std::is_nothrow_move_assignable_v<mmsb::bus>);
static_assert(std::is_nothrow_destructible_v<mmsb::bus>);
#ifdef MMSB_HPP_HAS_READER
static_assert(!std::is_copy_constructible_v<mmsb::reader> && !std::is_copy_assignable_v<mmsb::reader>);
static_assert(std::is_nothrow_move_constructible_v<mmsb::reader> && std::is_nothrow_destructible_v<mmsb::reader>);
#endif
// An exception is copied when thrown and caught by value: that must not throw.
static_assert(std::is_nothrow_copy_constructible_v<mmsb::failed>);

// opaque hides a value from the compiler, so that a narrowing conversion
// happens at run time (a constant one is a -Woverflow error).
template <class T> static T opaque(T v) {
    volatile T x = v;
    return x;
}

static void misuse(const std::string &dir) {
    mmsb::bus bus(dir + "/misuse", {.sync = mmsb::sync_mode::none});

    // A page size above 4 GiB was cut to its low 32 bits: 2^32 + 64 made a
    // page of 64 bytes.
    THROWS(bus.create_pages(1, opaque<std::uint64_t>((std::uint64_t(1) << 32) + 64)), mmsb::invalid_argument);
    THROWS(bus.create_pages(1, opaque<std::uint64_t>(std::uint64_t(1) << 32)), mmsb::invalid_argument);
    TRUE(bus.get_stats().pages == 0);
    TRUE(bus.create_pages(1, opaque<std::uint64_t>(64)).size() == 1 && bus.info(1).size == 64);
    THROWS(bus.create_pages(1, opaque<std::uint64_t>((std::uint64_t(16) << 20) + 1)), mmsb::invalid_page);

    // Moved-from and closed buses throw closed; closing again is a no-op,
    // and so is the destructor afterwards.
    mmsb::bus other = std::move(bus);
    THROWS(bus.create_pages(1, 8), mmsb::closed);
    THROWS(bus.commit({{1, 0, mmsb::bytes("x")}}), mmsb::closed);
    bus.close();
    bus = std::move(other);  // a moved-from bus takes a new one
    TRUE(bus.is_open() && !other.is_open());
    bus = std::move(bus);    // self-move keeps it
    TRUE(bus.is_open() && bus.read(1).size() == 64);
    bus.close();
    bus.close();
    THROWS(bus.read(1), mmsb::closed);

    // Spans of the wrong size are refused before the library reads them.
    mmsb::bus mem("", {.sync = mmsb::sync_mode::none});
    mem.create_pages(2, 16);
    const std::uint64_t lsn = mem.last_lsn();
    std::vector<std::uint32_t> sizes{8, 8};
    std::vector<std::uint64_t> one_id{0};
    THROWS(mem.create_pages(sizes, one_id), mmsb::invalid_argument);
    std::vector<std::uint64_t> three_epochs{1, 1, 1};
    THROWS(mem.commit({{1, 0, mmsb::bytes("a")}, {2, 0, mmsb::bytes("b")}}, true, three_epochs), mmsb::invalid_argument);
    std::vector<std::uint64_t> pages{1, 2};
    std::vector<std::uint32_t> offs{0};
    THROWS(mem.commit_array(pages, offs, mmsb::bytes("ab")), mmsb::invalid_argument);
    TRUE(mem.last_lsn() == lsn);

    // A write over 4 GiB is refused naming it (which of the batch, its
    // page, its size): the message was "a write longer than 4 GiB". Its
    // bytes are a reserved mapping, never touched.
    {
        const std::size_t n = (std::size_t(1) << 32) + 1;
        void *p = mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        TRUE(p != MAP_FAILED);
        if (p != MAP_FAILED) {
            std::span<const std::uint8_t> huge(static_cast<const std::uint8_t *>(p), n);
            try {
                mem.commit({{1, 0, mmsb::bytes("a")}, {2, 3, huge}});
                std::fprintf(stderr, "%s:%d: a write of %zu bytes did not throw\n", __FILE__, __LINE__, n);
                failures++;
            } catch (const mmsb::invalid_argument &e) {
                const std::string msg = e.what();
                if (msg.find("write 1 (page 2, offset 3) is 4294967297 bytes") == std::string::npos) {
                    std::fprintf(stderr, "%s:%d: a write of %zu bytes: \"%s\" does not name it\n", __FILE__,
                                 __LINE__, n, msg.c_str());
                    failures++;
                }
            }
            munmap(p, n);
        }
        TRUE(mem.last_lsn() == lsn);
    }

    // The reader's own codes are named (code_name() said MMSB_ERR_UNKNOWN).
#ifdef MMSB_HPP_HAS_READER
    // A timeout of seconds::max() ("forever") overflowed when converted to
    // nanoseconds (UBSan: signed integer overflow); it now saturates. The
    // wait returns at once: the committed LSN is already past after.
    {
        char shm[] = "/dev/shm/mmsb-cpp-hardening-XXXXXX";
        TRUE(mkdtemp(shm) != nullptr);
        mmsb::bus w(dir + "/shared", {.sync = mmsb::sync_mode::none, .shared = true, .shared_dir = shm});
        w.create_pages(1, 8);
        auto c = w.commit({{1, 0, mmsb::bytes("x")}});
        mmsb::reader r(dir + "/shared", shm);
        TRUE(r.wait(c.last_lsn - 1, std::chrono::seconds::max()) == c.last_lsn);
        TRUE(r.wait(c.last_lsn - 1, std::chrono::hours(-3)) == c.last_lsn);
        TRUE(r.wait(c.last_lsn - 1, std::chrono::duration<double>(1e30)) == c.last_lsn);
        THROWS(r.wait(c.last_lsn, std::chrono::milliseconds(1)), mmsb::timeout);
        THROWS(r.wait(c.last_lsn, std::chrono::duration<double>(std::nan(""))), mmsb::invalid_argument);
        THROWS(r.wait(c.last_lsn, std::chrono::duration<double, std::milli>(0.5)), mmsb::timeout);
        r.close();
        w.close();
        std::filesystem::remove_all(shm);
    }
    try {
        mmsb::throw_reader_status(MMSB_READER_ERR_TIMEOUT);
    } catch (const mmsb::timeout &e) {
        TRUE(std::strcmp(e.code_name(), "MMSB_READER_ERR_TIMEOUT") == 0);
    }
    try {
        mmsb::throw_reader_status(MMSB_READER_ERR_BUSY);
    } catch (const mmsb::read_busy &e) {
        TRUE(std::strcmp(e.code_name(), "MMSB_READER_ERR_BUSY") == 0);
    }
#endif
    // failed from any call but create_pages names no pages.
    try {
        mmsb::throw_status(MMSB_ERR_FAILED);
    } catch (const mmsb::failed &e) {
        TRUE(e.page_ids().empty());
    }
}

// fail_fsync installs a seccomp filter on every thread of the process
// (the Go runtime's too: TSYNC) that answers fsync and fdatasync with
// EIO; it cannot be removed. Returns "" or why it could not.
static std::string fail_fsync() {
#if defined(__x86_64__)
    sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fsync, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fdatasync, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EIO),
    };
    sock_fprog fprog{static_cast<unsigned short>(sizeof prog / sizeof prog[0]), prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return std::string("prctl: ") + std::strerror(errno);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog) != 0)
        return std::string("seccomp: ") + std::strerror(errno);
    return "";
#else
    return "the fsync filter knows x86-64's system call numbers only";
#endif
}

// failed_create: with sync group the batch is logged and applied before
// the shared fsync fails, so the pages exist and mmsb::failed names them;
// with sync always the fsync fails first, nothing is applied and it names
// none. A later create on the failed bus is refused before logging.
// Returns false when the filter could not be installed (nothing tested).
static bool failed_create(const std::string &dir, const std::string &sync) {
    mmsb::bus bus(dir + "/failing-" + sync,
                  {.sync = sync == "always" ? mmsb::sync_mode::always : mmsb::sync_mode::group});
    bus.create_pages(1, 16);
    if (std::string why = fail_fsync(); !why.empty()) {
        std::printf("hardening_test: skip: %s\n", why.c_str());
        return false;
    }
    std::vector<std::uint32_t> sizes{32, 48};
    try {
        auto ids = bus.create_pages(sizes);
        std::fprintf(stderr, "create_pages with a failing fsync returned %zu IDs\n", ids.size());
        failures++;
    } catch (const mmsb::failed &e) {
        std::vector<std::uint64_t> got(e.page_ids().begin(), e.page_ids().end());
        std::printf("failed: %s; page_ids:", e.what());
        for (auto id : got) std::printf(" %llu", static_cast<unsigned long long>(id));
        std::printf("\n");
        TRUE(std::strstr(e.what(), "fsync") != nullptr);
        if (sync == "group") {
            TRUE((got == std::vector<std::uint64_t>{2, 3}));
            TRUE(got.size() == 2 && bus.info(2).size == 32 && bus.info(3).size == 48);
        } else {
            TRUE(got.empty());
            THROWS(bus.info(2), mmsb::page_not_found);
        }
    }
    try {
        bus.create_pages(1, 8);
        std::fprintf(stderr, "create_pages on a failed bus succeeded\n");
        failures++;
    } catch (const mmsb::failed &e) {
        TRUE(e.page_ids().empty());
    }
    return true;
}

int main(int argc, char **argv) {
    if (argc != 2 && !(argc == 4 && std::strcmp(argv[2], "fail-fsync") == 0)) {
        std::fprintf(stderr, "usage: hardening_test DIR [fail-fsync group|always]\n");
        return 2;
    }
    try {
        if (argc == 2)
            misuse(argv[1]);
        else if (!failed_create(argv[1], argv[3]))
            return 0;  // skipped: no ok line
    } catch (const mmsb::error &e) {
        std::fprintf(stderr, "unexpected %s: %s\n", e.code_name(), e.what());
        return 1;
    }
    if (failures) {
        std::fprintf(stderr, "hardening_test: %d failures\n", failures);
        return 1;
    }
    std::printf("hardening_test: ok\n");
    return 0;
}
