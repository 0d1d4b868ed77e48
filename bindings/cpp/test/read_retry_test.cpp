// read_retry_test.cpp: mmsb::bus::read (and read_at) and mmsb::reader::read
// follow a page that is freed and created again, larger, between two of
// their calls. This program does not link libmmsb: it defines the few C
// functions mmsb.hpp calls for bus::read itself, as a stand-in library
// whose page grows a chosen number of times. Run by bindings/c's Go tests
// (TestCPPReadFollowsGrowingPage), plain and under ASan + UBSan. Prints
// "read_retry_test: ok" when every check passed; exits non-zero otherwise.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "mmsb.hpp"

static int failures;

// How many growths bus::read follows (mmsb::detail::read_retries; spelled
// out so that this part also builds against a header without it).
constexpr int follows = 8;

#define TRUE(cond)                                                                     \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);   \
            failures++;                                                                \
        }                                                                              \
    } while (0)

// The stand-in library: page 7 grows by 1,000 bytes at each of the first
// `grows` calls, as a page freed and created again larger between two
// calls does: each of those calls finds the caller's buffer, sized by the
// answer before, too small. Byte i holds i % 251.
static int grows;
static int calls;

static std::size_t page_size() { return 4096 + 1000 * static_cast<std::size_t>(calls < grows ? calls : grows); }

static int stand_in_read(std::uint8_t *buf, std::size_t cap, std::size_t *len) {
    calls++;
    std::size_t n = page_size();
    *len = n;
    if (cap < n) return MMSB_ERR_BUFFER_TOO_SMALL;
    for (std::size_t i = 0; i < n; i++) buf[i] = static_cast<std::uint8_t>(i % 251);
    return MMSB_OK;
}

extern "C" {
int mmsb_read(mmsb_bus, uint64_t page, uint8_t *buf, size_t cap, size_t *len, uint64_t *epoch) {
    if (page != 7) return MMSB_ERR_PAGE_NOT_FOUND;
    if (epoch != nullptr) *epoch = 3;
    return stand_in_read(buf, cap, len);
}
int mmsb_read_at(mmsb_bus h, uint64_t page, uint64_t, uint8_t *buf, size_t cap, size_t *len, uint64_t *epoch) {
    return mmsb_read(h, page, buf, cap, len, epoch);
}
int mmsb_close(mmsb_bus) { return MMSB_OK; }
size_t mmsb_last_error(char *buf, size_t cap) {
    static const char msg[] = "stand-in: buffer too small";
    if (buf != nullptr && cap > 0) {
        std::size_t n = sizeof msg - 1 < cap - 1 ? sizeof msg - 1 : cap - 1;
        std::memcpy(buf, msg, n);
        buf[n] = 0;
    }
    return sizeof msg - 1;
}
const char *mmsb_status_name(int) { return "stand-in"; }
}

// read_bus reads page 7, which grows at its first g calls: the size of
// what bus::read (or read_at) returned, or -1 when it threw
// buffer_too_small.
static long read_bus(int g, bool at) {
    grows = g, calls = 0;
    mmsb::bus b = mmsb::bus::adopt(1);
    try {
        std::vector<std::uint8_t> v = at ? b.read_at(7, 1) : b.read(7);
        for (std::size_t i = 0; i < v.size(); i++)
            if (v[i] != static_cast<std::uint8_t>(i % 251)) return -2;
        return static_cast<long>(v.size());
    } catch (const mmsb::buffer_too_small &) {
        return -1;
    }
}

int main() {
    for (bool at : {false, true}) {
        // A page larger than the first buffer (g = 1), and one that also
        // grew between the calls (g > 1): read follows it (before, the
        // second call's buffer_too_small was thrown for g = 2).
        for (int g = 0; g <= follows; g++) {
            long n = read_bus(g, at);
            if (n != 4096 + 1000 * g) {
                std::fprintf(stderr, "read%s of a page that grew at %d calls: %s\n", at ? "_at" : "", g,
                             n == -1 ? "threw buffer_too_small" : "wrong size or contents");
                failures++;
            }
        }
        // A source that never stops reporting larger sizes: an error, not
        // an endless loop.
        TRUE(read_bus(follows + 1, at) == -1);
        TRUE(calls == follows + 1);
    }
#ifdef MMSB_HPP_HAS_READER
    static_assert(mmsb::detail::read_retries == follows);
    // mmsb::reader::read grows through the same helper with the reader's
    // code: checked here on the stand-in source.
    for (int g = 0; g <= mmsb::detail::read_retries + 1; g++) {
        grows = g, calls = 0;
        std::vector<std::uint8_t> buf;
        int st = mmsb::detail::read_growing(buf, MMSB_READER_ERR_TOO_SMALL,
                                            [](std::uint8_t *b, std::size_t c, std::size_t *n) {
                                                int rc = stand_in_read(b, c, n);
                                                return rc == MMSB_ERR_BUFFER_TOO_SMALL ? int(MMSB_READER_ERR_TOO_SMALL) : rc;
                                            });
        if (g <= mmsb::detail::read_retries) {
            TRUE(st == MMSB_READER_OK && buf.size() == 4096 + 1000 * static_cast<std::size_t>(g));
        } else {
            TRUE(st == MMSB_READER_ERR_TOO_SMALL);
        }
    }
#endif
    if (failures != 0) {
        std::fprintf(stderr, "read_retry_test: %d failures\n", failures);
        return 1;
    }
    std::printf("read_retry_test: ok\n");
    return 0;
}
