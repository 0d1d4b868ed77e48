// writer.cpp: a C++ program writing to an MMSB bus through mmsb.hpp.
//
// It keeps a table of 1,000 counters (one 8-byte slot each, 128 slots per
// 1 KiB page), bumps random counters in batches of 1,000 with commit_array,
// and then shows reads, a read as of an earlier LSN, a checkpoint and the
// replay check. With --shared it publishes the pages in shared memory, so
// that a reader process (reader.cpp, over mmsb_reader.h, without Go) can
// follow them. Build and run: see README.md.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mmsb.hpp"

namespace {
// Set by SIGINT or SIGTERM; the batch loop stops at the next batch.
volatile std::sig_atomic_t interrupted = 0;

extern "C" void on_interrupt(int) { interrupted = 1; }

// The mark on the pages this writer creates (in the batch that creates
// them): "example" (a key of its own, as mmsb.type's reserved prefix
// asks) says whose they are, as python-reader's writer marks its signals
// "python-reader signal"; mmsb.type says they hold 64-bit integers (the
// counters stay far below 2^63, so unsigned and signed read the same).
constexpr const char *mark_key = "example";
constexpr const char *mark_value = "cpp counters";
const mmsb::metadata counters_mark{{mark_key, mark_value}, {"mmsb.type", "i64"}};

// catch_interrupts makes Ctrl-C (SIGINT) and SIGTERM stop the run between
// two commits, so that the bus is closed: killed outright by the signal,
// the writer left its shared-memory region behind in /dev/shm. Installed
// even where the program was started with SIGINT ignored (a script's
// background job), as python-writer's writer.py does. SA_ONSTACK: the
// signal may arrive on a thread of libmmsb's Go runtime, which needs it.
void catch_interrupts() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_ONSTACK | SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

// bus_name reports whether name, in wal/ (sub "wal") or checkpoints/, is
// one a bus writes there: a log segment (20 digits and .log) or the
// newest-segment file in wal/; a checkpoint (checkpoint-, 20 digits,
// .ckpt) or the log-mode file in checkpoints/; each with what may follow
// while it is written (.tmp). A replication node's set-aside mark too.
bool bus_name(const std::string &sub, const std::string &name, bool &reads) {
    auto digits = [&](std::size_t at) {
        if (name.size() < at + 20) return false;
        for (std::size_t i = at; i < at + 20; i++)
            if (name[i] < '0' || name[i] > '9') return false;
        return true;
    };
    if (sub == "wal") {
        if (digits(0) && name.compare(20, 4, ".log") == 0) {
            reads = reads || name.size() == 24;
            return true;
        }
        return name == "newest-segment" || name == "newest-segment.tmp" || name == "set-aside-mark.tmp";
    }
    if (name.rfind("checkpoint-", 0) == 0 && digits(11) && name.compare(31, 5, ".ckpt") == 0) {
        reads = reads || name.size() == 36;
        return true;
    }
    if (name.rfind("log-mode", 0) == 0) {
        reads = reads || name == "log-mode";
        return true;
    }
    return name == "set-aside-mark.tmp";
}

// mount_metadata reports whether e is what a filesystem, a file server or
// a desktop makes in the root of a fresh filesystem or mount (lost+found,
// snapshot and trash directories, macOS's indexes and .DS_Store): nobody's
// data. The list and the rule are mmsb's (cmd/mmsb, mountMetadata): each
// of its kind, not through a symbolic link.
bool mount_metadata(const std::filesystem::directory_entry &e) {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::string name = e.path().filename().string();
    fs::file_type type = e.symlink_status(ec).type();
    if (name == ".DS_Store") return type == fs::file_type::regular;
    if (type != fs::file_type::directory) return false;
    for (const char *m : {"lost+found", ".snapshot", ".snapshots", ".zfs", ".Trash", ".Trashes", ".Spotlight-V100",
                          ".fseventsd", ".TemporaryItems", ".DocumentRevisions-V100"})
        if (name == m) return true;
    std::string uid = name.rfind(".Trash-", 0) == 0 ? name.substr(7) : "";
    return !uid.empty() && uid.find_first_not_of("0123456789") == std::string::npos;
}

// not_a_bus_dir returns why dir is refused ("" when it is not): a
// directory that exists and holds files no bus makes, and no bus. libmmsb
// makes a bus in any directory, so `cpp-writer /tmp/x` wrote LOCK, wal/
// and checkpoints/ beside another program's files; mmsb serve --dir
// refuses such a directory, and this is its rule and its words (see
// docs/cli.md, "Data directories"; cmd/mmsb requireBusDirToWrite):
// accepted are a directory not there yet, one that cannot be listed
// (Open says why), an empty one (what a fresh filesystem holds,
// mount_metadata, counts as empty), a bus (a file a bus reads in wal/ or
// checkpoints/, or one of them that cannot be listed), a replication
// node's directory, and one holding only names a bus makes.
std::string not_a_bus_dir(const std::string &dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return "";  // absent (made by the bus), or Open says why
    std::vector<std::string> foreign;
    bool reads = false;  // a log segment or a checkpoint: a bus
    // DIR's entries (sub "") and those of its wal/ and checkpoints/.
    for (std::string sub : {std::string(), std::string("wal"), std::string("checkpoints")}) {
        std::error_code lec;
        fs::directory_iterator it(fs::path(dir) / sub, lec), end;
        if (lec) {
            if (sub.empty()) return "";  // Open says why
            // Not there: nothing of a bus's; one that cannot be listed
            // counts as a bus's (Open reports it), as mmsb decides.
            if (lec != std::errc::no_such_file_or_directory) reads = true;
            continue;
        }
        for (; !lec && it != end; it.increment(lec)) {
            std::string name = it->path().filename().string();
            std::error_code sec;
            fs::file_type type = it->symlink_status(sec).type();
            if (mount_metadata(*it)) continue;
            if (sub.empty()) {
                if (name == "replicate-stream" || name == "replicate-term") return "";  // a node's: the node decides
                if (name == "replicate-stream.tmp" || name == "replicate-term.tmp") continue;
                if (name == "LOCK" && type == fs::file_type::regular && it->file_size(sec) == 0) continue;
                // wal/ or checkpoints/, a directory or a symbolic link to
                // one (or to nothing: a disk not mounted, Open says so).
                if ((name == "wal" || name == "checkpoints") &&
                    (type == fs::file_type::directory ||
                     (type == fs::file_type::symlink && (fs::is_directory(it->path(), sec) || !fs::exists(it->path(), sec)))))
                    continue;
                foreign.push_back(name);
            } else if (!bus_name(sub, name, reads)) {
                foreign.push_back(sub + "/" + name);
            }
        }
    }
    if (foreign.empty() || reads) return "";
    std::sort(foreign.begin(), foreign.end());
    std::string named;
    std::size_t most = 3;
    for (std::size_t i = 0; i < foreign.size() && i < most; i++) named += (i ? ", " : "") + foreign[i];
    if (foreign.size() > most) named += " and " + std::to_string(foreign.size() - most) + " more";
    return "not an MMSB data directory: " + dir + ": it holds " + named +
           ", and no bus: a bus is made only in a new or empty directory (give one, e.g. a subdirectory); nothing was changed";
}
}  // namespace

int main(int argc, char **argv) {
    // Arguments: [DIR] [--shared]. Anything else is refused: a mistyped
    // --shared was ignored (a run without shared memory, which no reader
    // can follow), and `cpp-writer --shared` made a bus in a directory
    // named --shared.
    if (argc > 3 || (argc > 1 && argv[1][0] == '-') || (argc > 2 && std::strcmp(argv[2], "--shared") != 0)) {
        std::fprintf(stderr, "usage: %s [DIR] [--shared]\n", argv[0]);
        return 1;
    }
    std::string dir = argc > 1 ? argv[1] : "counters-data";
    bool shared = argc > 2;
    if (auto why = not_a_bus_dir(dir); !why.empty()) {
        std::fprintf(stderr, "cpp-writer: %s\n", why.c_str());
        return 1;
    }
    constexpr std::uint32_t page_size = 1024, slots_per_page = page_size / 8, counters = 1000;
    constexpr std::uint64_t npages = (counters + slots_per_page - 1) / slots_per_page;
    catch_interrupts();
    try {
        mmsb::bus bus(dir, {.sync = mmsb::sync_mode::group, .shared = shared});
        std::vector<std::uint64_t> pages;
        if (auto n = bus.get_stats().pages; n == 0) {
            pages = bus.create_pages(npages, page_size, counters_mark);
        } else {
            // A bus of another shape is refused in one line. It was taken
            // for this table: pages of another size were read past their
            // end and then refused mid-batch, and another example's bus
            // of larger pages (python-writer's heat grid) had 100,000
            // increments written into its first pages, with status 0.
            if (n != npages) {
                std::fprintf(stderr, "cpp-writer: bus %s has %llu pages, want %llu (pages 1..%llu of %u bytes): not this example's counters\n",
                             dir.c_str(), (unsigned long long)n, (unsigned long long)npages, (unsigned long long)npages, page_size);
                return 1;
            }
            for (std::uint64_t p = 1; p <= npages; p++) {
                mmsb::page_info pi{};
                try {
                    pi = bus.info(p);
                } catch (const mmsb::page_not_found &) {
                    std::fprintf(stderr, "cpp-writer: bus %s has no page %llu (want pages 1..%llu of %u bytes): not this example's counters\n",
                                 dir.c_str(), (unsigned long long)p, (unsigned long long)npages, page_size);
                    return 1;
                }
                if (pi.size != page_size) {
                    std::fprintf(stderr, "cpp-writer: bus %s page %llu is %llu bytes, want %u: not this example's counters\n",
                                 dir.c_str(), (unsigned long long)p, (unsigned long long)pi.size, page_size);
                    return 1;
                }
                // The right shape is not enough: python-reader's writer
                // run with -pages 8 makes pages 1..8 of 1 KiB too, and
                // its float64 signals were summed as counters and
                // overwritten. Only pages carrying this writer's mark
                // are taken.
                if (mmsb::meta_value(bus.meta(p), mark_key) != mark_value) {
                    std::fprintf(stderr, "cpp-writer: bus %s page %llu has no metadata %s=\"%s\" (pages this writer creates have it): not this example's counters; give a new directory\n",
                                 dir.c_str(), (unsigned long long)p, mark_key, mark_value);
                    return 1;
                }
                pages.push_back(p);
            }
        }
        std::vector<std::uint64_t> values(counters);
        for (std::uint32_t c = 0; c < counters; c++) {
            auto page = bus.read(pages[c / slots_per_page]);
            std::memcpy(&values[c], page.data() + (c % slots_per_page) * 8, 8);
        }

        std::mt19937_64 rng(42);
        int steps = shared ? 130 : 100;  // shared: 30 more batches, 100 ms apart, for a reader to follow
        std::vector<std::uint64_t> batch_pages(1000);
        std::vector<std::uint32_t> batch_offsets(1000);
        std::vector<std::uint64_t> batch_values(1000);
        mmsb::commit_info first{}, last{};
        for (int step = 0; step < steps; step++) {
            if (step >= 100) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (interrupted) {
                // The batches committed so far stay (close makes them
                // durable): the next run continues from them.
                auto lsn = bus.last_lsn();
                bus.close();
                std::fprintf(stderr, "cpp-writer: interrupted after %d batches (LSN %llu); the next run continues from them\n",
                             step, (unsigned long long)lsn);
                return 130;
            }
            for (std::size_t i = 0; i < batch_pages.size(); i++) {
                std::uint32_t c = rng() % counters;
                values[c]++;
                batch_pages[i] = pages[c / slots_per_page];
                batch_offsets[i] = (c % slots_per_page) * 8;
                batch_values[i] = values[c];  // a counter hit twice in a batch: the later write wins
            }
            last = bus.commit_array(batch_pages, batch_offsets,
                                    std::span(reinterpret_cast<const std::uint8_t *>(batch_values.data()),
                                              batch_values.size() * 8));
            if (step == 0) first = last;
        }
        std::uint64_t total = 0;
        for (auto v : values) total += v;
        auto now = bus.read(pages[0]);
        auto then = bus.read_at(pages[0], first.last_lsn);
        std::uint64_t now0, then0;
        std::memcpy(&now0, now.data(), 8);
        std::memcpy(&then0, then.data(), 8);
        std::printf("%d batches of 1,000 increments; sum of counters %llu\n", steps, (unsigned long long)total);
        std::printf("counter 0: %llu now, %llu after the first batch (LSN %llu)\n", (unsigned long long)now0,
                    (unsigned long long)then0, (unsigned long long)first.last_lsn);
        auto cp = bus.checkpoint();
        auto rr = bus.verify_replay(true);
        std::printf("checkpoint at LSN %llu (%llu bytes); replay from it equal: %s\n", (unsigned long long)cp.lsn,
                    (unsigned long long)cp.bytes, rr.equal ? "yes" : "NO");
        std::printf("state hash  %016llx\n", (unsigned long long)bus.state_hash());
        if (shared) std::printf("shared region %s\n", bus.shared_path().c_str());
        try {
            bus.read(999999);
        } catch (const mmsb::page_not_found &e) {
            std::printf("reading a missing page throws mmsb::page_not_found: %s\n", e.what());
        }
        if (!rr.equal) return 2;  // as the Go examples: a failed check is exit status 2
    } catch (const mmsb::error &e) {
        std::fprintf(stderr, "%s: %s\n", e.code_name(), e.what());
        return 1;
    }
    return 0;
}
