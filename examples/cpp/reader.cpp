// reader.cpp: follows the counters of writer.cpp from another process
// through shared memory, without Go (mmsb::reader over mmsb_reader.h).
// Each time the writer commits, it takes a consistent snapshot of the 8
// counter pages at one LSN and prints the sum of the counters, until the
// writer leaves. Every delta writer.cpp commits is one increment with one
// LSN, so between two snapshots the sum grows by exactly the LSNs between
// them; the reader checks it and exits with status 2 if a snapshot
// disagrees. A snapshot that finds the pages busy (snapshot_busy, read_busy:
// a writer committing faster than the reader copies) is tried again at the
// next commit. Build and run: see README.md.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "mmsb.hpp"

static int follow(const std::string &dir);

int main(int argc, char **argv) {
    // One argument at most, the writer's bus directory: a flag or a second
    // argument was ignored, and a flag taken for the directory waited 5 s
    // for a writer that could never come.
    if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
        std::fprintf(stderr, "usage: %s [DIR]\n", argv[0]);
        return 1;
    }
    std::string dir = argc > 1 ? argv[1] : "counters-data";
    // One line at a time, also into a pipe or a file: a reader follows a
    // writer, and its lines are worth seeing as they happen.
    std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
    try {
        return follow(dir);
    } catch (const mmsb::error &e) {
        // A damaged or foreign region (shared_corrupt), a new writer
        // (stale), no writer within 5 s (writer_gone at open): one line
        // and status 1. They escaped main, and std::terminate aborted the
        // program ("terminate called after throwing an instance of
        // 'mmsb::shared_corrupt'", status 134).
        std::fprintf(stderr, "reader: %s (status %d)\n", e.what(), e.code());
        return 1;
    }
}

static int follow(const std::string &dir) {
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
    std::uint64_t seen = 0, printed = 0;
    std::uint64_t first_at = 0, first_sum = 0;  // the first snapshot: later ones are checked against it
    bool first = true;
    std::vector<std::uint64_t> pages;
    try {
        // A reader started beside the writer may attach before the writer
        // has created its pages: wait for them (a reader that read the page
        // list once printed sums of no pages, 0, for ever).
        while ((pages = rd.pages()).empty()) seen = rd.wait(seen, std::chrono::seconds(5));
        std::printf("attached: writer pid %lld, %zu pages\n", (long long)rd.info().writer_pid, pages.size());
        for (;;) {
            std::uint64_t lsn = rd.wait(seen, std::chrono::seconds(5));
            if (auto now = rd.pages(); now != pages) {  // the writer was still creating pages: start the check again
                pages = now;
                first = true;
            }
            std::uint64_t at = 0;
            std::vector<mmsb::page_copy> snap;
            std::string busy;  // why no snapshot was taken this time
            try {
                snap = rd.snapshot(pages, &at);
            } catch (const mmsb::snapshot_busy &e) {
                // Every attempt met a page written after the LSN it started
                // from (a writer committing faster than this reader copies)
                // or a free the writer had not published yet.
                busy = e.what();
            } catch (const mmsb::read_busy &e) {
                busy = e.what();  // a page changed under every copy
            }
            if (!busy.empty()) {
                // Nothing is wrong with the bus: try again at the next
                // commit. (It ended the reader with status 1.)
                std::printf("snapshot busy after LSN %llu (%s): retrying at the next commit\n", (unsigned long long)lsn,
                            busy.c_str());
                seen = lsn;
                continue;
            }
            std::uint64_t sum = 0;
            for (const auto &p : snap)
                for (std::size_t off = 0; off + 8 <= p.data.size(); off += 8) {
                    std::uint64_t v;
                    std::memcpy(&v, p.data.data() + off, 8);
                    sum += v;
                }
            if (first) {
                first = false;
                first_at = at;
                first_sum = sum;
            } else if (sum - first_sum != at - first_at) {
                std::printf("MISMATCH: snapshot at LSN %llu: sum of counters %llu, want %llu\n", (unsigned long long)at,
                            (unsigned long long)sum, (unsigned long long)(first_sum + (at - first_at)));
                return 2;
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
