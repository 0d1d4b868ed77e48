// cpp_test.cpp: exercises bindings/cpp/mmsb.hpp (the C++ wrapper of the C
// ABI): every method, RAII and moves, and one exception class per error it
// can provoke. Exits non-zero on the first unexpected result. Run by
// bindings/c's Go tests:  cpp_test DIR
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "mmsb.hpp"

static int failures;

#define TRUE(cond)                                                                     \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);   \
            failures++;                                                                \
        }                                                                              \
    } while (0)

// THROWS(expr, cls): expr throws exactly cls (caught as mmsb::error).
#define THROWS(expr, cls)                                                              \
    do {                                                                               \
        try {                                                                          \
            (void)(expr);                                                              \
            std::fprintf(stderr, "%s:%d: %s did not throw\n", __FILE__, __LINE__, #expr); \
            failures++;                                                                \
        } catch (const cls &e_) {                                                      \
            if (e_.code() != cls::status_code || std::strlen(e_.what()) == 0) {        \
                std::fprintf(stderr, "%s:%d: %s: code %d message '%s'\n", __FILE__,    \
                             __LINE__, #expr, e_.code(), e_.what());                   \
                failures++;                                                            \
            }                                                                          \
        } catch (const mmsb::error &e_) {                                              \
            std::fprintf(stderr, "%s:%d: %s threw %s (%s), want %s\n", __FILE__,       \
                         __LINE__, #expr, e_.code_name(), e_.what(), #cls);            \
            failures++;                                                                \
        }                                                                              \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: cpp_test DIR\n");
        return 2;
    }
    std::string dir = argv[1];
    std::uint64_t hash = 0;
    try {
        mmsb::bus bus(dir, {.sync = mmsb::sync_mode::group});
        THROWS(mmsb::bus(dir), mmsb::locked);

        auto ids = bus.create_pages(3, 64);
        TRUE(ids.size() == 3 && ids[0] == 1 && ids[2] == 3);
        std::vector<std::uint32_t> sizes{128};
        std::vector<std::uint64_t> want{10};
        TRUE(bus.create_pages(sizes, want)[0] == 10);
        THROWS(bus.create_pages(sizes, want), mmsb::page_exists);
        THROWS(bus.create_pages(1, 0), mmsb::invalid_page);
        THROWS(bus.create_pages(sizes, std::vector<std::uint64_t>{1, 2}), mmsb::invalid_argument);
        bus.free_page(10);
        THROWS(bus.free_page(10), mmsb::page_not_found);

        auto ci = bus.commit({{1, 0, mmsb::bytes("hello")}, {2, 8, mmsb::bytes("world")}});
        TRUE(ci.last_lsn == ci.first_lsn + 1);
        THROWS(bus.commit({{99, 0, mmsb::bytes("x")}}), mmsb::page_not_found);
        THROWS(bus.commit({{1, 62, mmsb::bytes("long")}}), mmsb::out_of_range);
        THROWS(bus.commit(std::span<const mmsb::write>{}), mmsb::invalid_argument);
        THROWS(bus.commit({{1, 0, {}}}), mmsb::invalid_delta);
        // Optimistic concurrency: page 2 is at epoch 1.
        std::vector<std::uint64_t> e1{1}, e_any{mmsb::any_epoch}, e_two{1};
        bus.commit({{2, 40, mmsb::bytes("e")}}, true, e1);
        THROWS(bus.commit({{2, 40, mmsb::bytes("e")}}, true, e1), mmsb::conflict);
        bus.commit({{2, 40, mmsb::bytes("e")}}, true, e_any);
        THROWS(bus.commit({{2, 40, mmsb::bytes("e")}, {2, 41, mmsb::bytes("f")}}, true, e_two), mmsb::invalid_argument);
        std::vector<std::uint64_t> p2{2};
        std::vector<std::uint32_t> o2{42};
        std::vector<std::uint64_t> stale{2};
        THROWS(bus.commit_array(p2, o2, mmsb::bytes("g"), true, stale), mmsb::conflict);
        std::vector<std::uint64_t> fresh{3};
        bus.commit_array(p2, o2, mmsb::bytes("g"), true, fresh);

        std::vector<std::uint64_t> pages{1, 3};
        std::vector<std::uint32_t> offs{16, 0};
        std::vector<std::uint8_t> data(16);
        for (int i = 0; i < 16; i++) data[i] = static_cast<std::uint8_t>(i + 1);
        auto ai = bus.commit_array(pages, offs, data, false);
        bus.wait_durable(ai.last_lsn);
        bus.flush();
        THROWS(bus.commit_array(pages, std::vector<std::uint32_t>{0}, data), mmsb::invalid_argument);
        THROWS(bus.commit_array(pages, offs, std::span<const std::uint8_t>(data.data(), 15)), mmsb::invalid_argument);
        std::vector<std::uint32_t> far{0, 1000};
        THROWS(bus.commit_array(pages, far, data), mmsb::out_of_range);
        mmsb_write raw{3, 8, 1, data.data()};
        bus.commit_raw(std::span<const mmsb_write>(&raw, 1));

        std::uint64_t epoch = 0;
        auto p1 = bus.read(1, &epoch);
        TRUE(p1.size() == 64 && epoch == 2 && std::memcmp(p1.data(), "hello", 5) == 0 && p1[16] == 1);
        auto old = bus.read_at(1, ci.last_lsn);
        TRUE(old.size() == 64 && old[16] == 0);
        std::vector<std::uint8_t> small(8), big(64);
        THROWS(bus.read_into(1, small), mmsb::buffer_too_small);
        TRUE(bus.read_into(3, big) == 64 && big[0] == 9 && big[8] == 1);
        THROWS(bus.read(42), mmsb::page_not_found);
        THROWS(bus.read_at(1, 1000000000), mmsb::invalid_option); // not yet committed

        auto pi = bus.info(3);
        TRUE(pi.size == 64 && pi.epoch == 2);
        TRUE(bus.last_lsn() == bus.info(3).last_lsn);
        hash = bus.state_hash();
        auto cp = bus.checkpoint();
        TRUE(cp.lsn == bus.last_lsn() && cp.pages == 3);
        auto rr = bus.verify_replay(true);
        TRUE(rr.equal == 1 && rr.live_hash == hash);
        auto st = bus.get_stats();
        TRUE(st.pages == 3 && st.sync == MMSB_SYNC_GROUP);
        TRUE(bus.shared_path().empty());

        // Moves keep one owner; the moved-from bus is closed.
        mmsb::bus moved = std::move(bus);
        TRUE(moved.is_open() && !bus.is_open());
        THROWS(bus.state_hash(), mmsb::closed);
        TRUE(moved.state_hash() == hash);
        // A handle that another owner closed: the library says closed.
        mmsb::bus twin = mmsb::bus::adopt(moved.handle());
        moved.close();
        THROWS(twin.state_hash(), mmsb::closed);
        THROWS(twin.close(), mmsb::closed);
        THROWS(moved.read(1), mmsb::closed);
        // A handle no open returned.
        mmsb::bus bogus = mmsb::bus::adopt(987654321);
        THROWS(bogus.state_hash(), mmsb::invalid_handle);
        THROWS(bogus.close(), mmsb::invalid_handle);
    } catch (const mmsb::error &e) {
        std::fprintf(stderr, "unexpected %s: %s\n", e.code_name(), e.what());
        return 1;
    }

    // RAII: the destructor closed the bus, so it reopens with the same state.
    {
        mmsb::bus again(dir);
        TRUE(again.state_hash() == hash);
    }
    {
        mmsb::bus mem("", {.sync = mmsb::sync_mode::none});
        TRUE(mem.get_stats().in_memory == 1);
    }
    THROWS(mmsb::bus(dir, {.sync = static_cast<mmsb::sync_mode>(9)}), mmsb::invalid_option);
    THROWS(mmsb::bus("/dev/null/x"), mmsb::io_error);
    // A NUL inside a path: c_str() ends there, and the bus opened in dir/nul.
    {
        std::string cut = dir + "/nul";
        std::string named = cut + std::string("\0rest", 5);
        THROWS(mmsb::bus(named), mmsb::invalid_argument);
        TRUE(!std::filesystem::exists(cut));
        THROWS(mmsb::bus(cut, {.shared = true, .shared_dir = std::string("/dev/shm\0x", 10)}), mmsb::invalid_argument);
        TRUE(!std::filesystem::exists(cut));
    }
    // A garbage page count is mmsb::invalid_argument before anything is
    // allocated (it was std::bad_alloc from the vector of sizes).
    {
        mmsb::bus mem("", {.sync = mmsb::sync_mode::none});
        THROWS(mem.create_pages(std::size_t(1) << 40, 64), mmsb::invalid_argument);
        THROWS(mem.create_pages(0, 64), mmsb::invalid_argument);
        TRUE(mem.get_stats().pages == 0);
    }

#ifdef MMSB_HPP_HAS_READER
    // The Go-free reader (mmsb_reader.h) over a writer in this process.
    {
        char shm[] = "/dev/shm/mmsb-cpp-test-XXXXXX";
        if (mkdtemp(shm) == nullptr) {
            std::perror("mkdtemp /dev/shm");
            return 1;
        }
        std::string bus_dir = dir + "/shared-bus";
        try {
            mmsb::bus w(bus_dir, {.sync = mmsb::sync_mode::none, .shared = true, .shared_dir = shm});
            w.create_pages(3, 64);
            auto c1 = w.commit({{1, 0, mmsb::bytes("shared")}, {3, 60, mmsb::bytes("tail")}});
            mmsb::reader r(bus_dir, shm);
            auto p = r.read(1);
            std::uint64_t epoch = 0;
            auto direct = w.read(1, &epoch);
            TRUE(p.data == direct && p.epoch == epoch && p.lsn == c1.first_lsn);
            TRUE(r.last_lsn() == w.last_lsn());
            TRUE((r.pages() == std::vector<std::uint64_t>{1, 2, 3}));
            std::uint64_t at = 0;
            std::vector<std::uint64_t> want{1, 3};
            auto snap = r.snapshot(want, &at);
            TRUE(at == c1.last_lsn && snap.size() == 2 && snap[1].data.size() == 64 &&
                 std::memcmp(snap[1].data.data() + 60, "tail", 4) == 0);
            THROWS(r.wait(at, std::chrono::milliseconds(1)), mmsb::timeout);
            auto c2 = w.commit({{2, 0, mmsb::bytes("x")}});
            TRUE(r.wait(at, std::chrono::seconds(5)) == c2.last_lsn);
            THROWS(r.read(99), mmsb::page_not_found);
            std::vector<std::uint8_t> small(4);
            THROWS(r.read_into(1, small), mmsb::buffer_too_small);
            // A NUL cut the path short: "bus\0x" opened bus's region.
            THROWS(mmsb::reader(bus_dir + std::string("\0x", 2), shm), mmsb::invalid_argument);
            THROWS(mmsb::reader(bus_dir, std::string(shm) + std::string("\0x", 2)), mmsb::invalid_argument);
            THROWS(mmsb::reader::open_region(w.shared_path() + std::string("\0x", 2)), mmsb::invalid_argument);
            // Every code has its class (the replication ones came with ABI 1.1).
            THROWS(mmsb::throw_status(MMSB_ERR_RECORD_TOO_LARGE), mmsb::record_too_large);
            THROWS(mmsb::throw_status(MMSB_ERR_FOLLOWER), mmsb::follower);
            auto r2 = mmsb::reader::open_region(w.shared_path());
            TRUE(r2.read(2).data[0] == 'x' && r2.info().writer_pid > 0);
            w.close();  // the writer leaves: readers notice
            THROWS(r.read(1), mmsb::writer_gone);
            mmsb::reader moved = std::move(r);
            THROWS(r.last_lsn(), mmsb::closed);
            moved.close();
            THROWS(moved.read(1), mmsb::closed);
            THROWS(mmsb::reader(dir + "/no-such-bus", shm), mmsb::writer_gone);
        } catch (const mmsb::error &e) {
            std::fprintf(stderr, "reader: unexpected %s: %s\n", e.code_name(), e.what());
            failures++;
        }
        std::filesystem::remove_all(shm);
    }
#else
    std::printf("cpp_test: mmsb_reader.h absent: reader wrapper not tested\n");
#endif

    if (failures) {
        std::fprintf(stderr, "cpp_test: %d failures\n", failures);
        return 1;
    }
    std::printf("cpp_test: ok\n");
    return 0;
}
