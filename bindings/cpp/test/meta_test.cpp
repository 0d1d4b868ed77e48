// meta_test.cpp: page metadata through bindings/cpp/mmsb.hpp (ABI 1.2):
// create_pages with metadata, meta(), set_metadata(), meta_value(), and
// the bad input a caller can pass (a NUL in a key, too many entries, too
// much) throwing a named exception with nothing changed. Run by
// bindings/c's Go tests (TestCPPMetadata), plain and under ASan + UBSan:
//
//     meta_test DIR
//
// Prints "meta_test: ok" when every check passed; exits non-zero on a
// failed check.
#include <cstdint>
#include <cstdio>
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

// THROWS(expr, cls, text): expr throws cls whose message contains text.
#define THROWS(expr, cls, text)                                                        \
    do {                                                                               \
        try {                                                                          \
            (void)(expr);                                                              \
            std::fprintf(stderr, "%s:%d: %s did not throw\n", __FILE__, __LINE__, #expr); \
            failures++;                                                                \
        } catch (const cls &e_) {                                                      \
            if (std::string(e_.what()).find(text) == std::string::npos) {             \
                std::fprintf(stderr, "%s:%d: %s: message %s lacks %s\n", __FILE__,     \
                             __LINE__, #expr, e_.what(), text);                        \
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
        std::fprintf(stderr, "usage: meta_test DIR\n");
        return 2;
    }
    std::string dir = argv[1];
    const mmsb::metadata mark{{"example", "cpp counters"}, {"mmsb.type", "u64"}};
    try {
        {
            mmsb::bus bus(dir);
            auto ids = bus.create_pages(2, 64, mark);
            TRUE(ids.size() == 2 && bus.meta(ids[0]) == mark && bus.meta(ids[1]) == mark);
            auto plain = bus.create_pages(1, 64);
            TRUE(bus.meta(plain[0]).empty());
            const std::uint32_t sizes[] = {32};
            const std::uint64_t want[] = {40};
            TRUE(bus.create_pages(sizes, mark, want)[0] == 40 && bus.meta(40) == mark);
            // Code written for ABI 1.1 still compiles and means the same:
            // create_pages(sizes, {}) is "no IDs" (it was ambiguous with
            // the metadata overload, a compile error), and a braced list
            // of entries picks the metadata overload.
            const std::uint32_t two[] = {16, 16};
            auto noids = bus.create_pages(two, {});
            TRUE(noids.size() == 2 && bus.meta(noids[0]).empty() && bus.meta(noids[1]).empty());
            const std::uint64_t at[] = {50, 51};
            TRUE(bus.create_pages(two, at) == std::vector<std::uint64_t>(at, at + 2) && bus.meta(50).empty());
            auto braced = bus.create_pages(two, {{"example", "braced"}});
            TRUE(braced.size() == 2 && (bus.meta(braced[1]) == mmsb::metadata{{"example", "braced"}}));
            auto v = mmsb::meta_value(bus.meta(ids[0]), "example");
            TRUE(v && *v == "cpp counters");
            TRUE(!mmsb::meta_value(bus.meta(plain[0]), "example"));

            // Values are bytes (NULs included); a key twice: first place, last value.
            bus.set_metadata(ids[1], {{"a", std::string("x\0y", 3)}, {"b", ""}, {"a", "z"}});
            TRUE((bus.meta(ids[1]) == mmsb::metadata{{"a", "z"}, {"b", ""}}));
            bus.set_metadata(ids[1], {});
            TRUE(bus.meta(ids[1]).empty());
            // Larger than read_growing's first buffer (4096 bytes).
            mmsb::metadata big{{"k", std::string(60000, 'v')}};
            bus.set_metadata(ids[1], big);
            TRUE(bus.meta(ids[1]) == big);

            // Bad input: a named exception, nothing changed or created.
            auto lsn = bus.last_lsn();
            auto pages = bus.get_stats().pages;
            THROWS(bus.set_metadata(ids[0], {{std::string("a\0b", 3), "v"}}), mmsb::invalid_argument,
                   "NUL byte at offset 1");
            THROWS(bus.create_pages(1, 64, {{std::string("\0", 1), "v"}}), mmsb::invalid_argument, "NUL byte");
            THROWS(bus.set_metadata(ids[0], mmsb::metadata(8192)), mmsb::invalid_page, "at most 8191");
            THROWS(bus.set_metadata(ids[0], {{"k", std::string(65536, 'v')}}), mmsb::invalid_page,
                   "past 65536 bytes");
            THROWS(bus.create_pages(1, 64, {{"k", std::string(65536, 'v')}}), mmsb::invalid_page,
                   "past 65536 bytes");
            THROWS(bus.set_metadata(999, mark), mmsb::page_not_found, "999");
            THROWS(bus.meta(999), mmsb::page_not_found, "999");
            TRUE(bus.last_lsn() == lsn && bus.get_stats().pages == pages);
            TRUE(bus.meta(ids[0]) == mark);
            bus.close();
            THROWS(bus.meta(ids[0]), mmsb::closed, "closed");
        }
        // Logged: a reopened bus has it.
        mmsb::bus again(dir);
        TRUE(again.meta(1) == mark && again.meta(2).size() == 1);
    } catch (const mmsb::error &e) {
        std::fprintf(stderr, "meta_test: unexpected %s: %s\n", e.code_name(), e.what());
        return 1;
    }
    if (failures) {
        std::fprintf(stderr, "meta_test: %d failures\n", failures);
        return 1;
    }
    std::printf("meta_test: ok\n");
    return 0;
}
