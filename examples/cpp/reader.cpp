// reader.cpp: follows the counters of writer.cpp from another process
// through shared memory, without Go (mmsb::reader over mmsb_reader.h).
// Each time the writer commits, it takes a consistent snapshot of the 8
// counter pages at one LSN and prints the sum of the counters, until the
// writer leaves. Build and run: see README.md.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "mmsb.hpp"

int main(int argc, char **argv) {
    std::string dir = argc > 1 ? argv[1] : "counters-data";
    mmsb::reader rd = [&] {
        for (int i = 0;; i++) {  // the writer may not have published its region yet
            try {
                return mmsb::reader(dir);
            } catch (const mmsb::writer_gone &) {
                if (i == 50) throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
    }();
    std::vector<std::uint64_t> pages = rd.pages();
    std::printf("attached: writer pid %lld, %zu pages\n", (long long)rd.info().writer_pid, pages.size());
    std::uint64_t seen = 0, printed = 0;
    try {
        for (;;) {
            std::uint64_t lsn = rd.wait(seen, std::chrono::seconds(5));
            std::uint64_t at = 0;
            auto snap = rd.snapshot(pages, &at);
            std::uint64_t sum = 0;
            for (const auto &p : snap)
                for (std::size_t off = 0; off + 8 <= p.data.size(); off += 8) {
                    std::uint64_t v;
                    std::memcpy(&v, p.data.data() + off, 8);
                    sum += v;
                }
            if (printed == 0 || at >= printed + 10000) {
                printed = at;
                std::printf("LSN %llu: sum of counters %llu (snapshot at LSN %llu)\n", (unsigned long long)lsn,
                            (unsigned long long)sum, (unsigned long long)at);
            }
            seen = at;
        }
    } catch (const mmsb::writer_gone &e) {
        std::printf("writer gone after LSN %llu: %s\n", (unsigned long long)seen, e.what());
    } catch (const mmsb::timeout &) {
        std::printf("no commit for 5 s after LSN %llu\n", (unsigned long long)seen);
    }
    return 0;
}
