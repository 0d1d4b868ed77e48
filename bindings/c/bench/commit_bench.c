/*
 * commit_bench.c: commit throughput through the C ABI on the reference
 * workload of the Go benchmark BenchmarkCommitMemory (bench_test.go in the
 * repository root): an in-memory bus, SyncNone, 65,536 pages of 1 KiB,
 * batches of 16-byte writes at random offsets of random pages, the random
 * batch generated inside the timed loop as the Go benchmark does.
 *
 *     go build -buildmode=c-shared -o build/libmmsb.so ./bindings/c
 *     gcc -O2 -Ibindings/c -o build/commit_bench bindings/c/bench/commit_bench.c \
 *         -Lbuild -lmmsb -Wl,-rpath,'$ORIGIN'
 *     build/commit_bench [batch] [batches] [rounds]
 *
 * Prints one line per round and form: deltas/s of mmsb_commit_array (the
 * numpy-style form) and of mmsb_commit (an array of mmsb_write structs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmsb.h"

enum { PAGES = 65536, PAGE_SIZE = 1024, WIDTH = 16 };

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t next_rand(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (every thread, the Go runtime's included):
 * on a loaded shared machine wall time mostly measures the scheduler. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int st) {
    char msg[512];
    mmsb_last_error(msg, sizeof msg);
    fprintf(stderr, "%s: %s: %s\n", what, mmsb_status_name(st), msg);
    exit(1);
}

int main(int argc, char **argv) {
    size_t batch = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    size_t batches = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (batch == 0 || batches == 0) {
        fprintf(stderr, "usage: commit_bench [batch] [batches] [rounds]\n");
        return 2;
    }
    mmsb_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.sync = MMSB_SYNC_NONE;
    o.checkpoint_bytes = -1;
    mmsb_bus bus;
    int st = mmsb_open("", &o, &bus);
    if (st) die("open", st);
    uint32_t *sizes = malloc(PAGES * sizeof *sizes);
    for (int i = 0; i < PAGES; i++) sizes[i] = PAGE_SIZE;
    if ((st = mmsb_create_pages(bus, NULL, sizes, PAGES, NULL))) die("create", st);

    uint64_t *pages = malloc(batch * sizeof *pages);
    uint32_t *offs = malloc(batch * sizeof *offs);
    uint8_t *data = malloc(batch * WIDTH);
    mmsb_write *ws = malloc(batch * sizeof *ws);
    for (size_t i = 0; i < batch * WIDTH; i++) data[i] = (uint8_t)next_rand();

    /* Round -1 warms up (page faults in the arenas, the Go heap, the
     * scratch pool) untimed, as the Go benchmark's b.N ramp-up does. */
    for (int r = -1; r < rounds; r++) {
        for (int form = 0; form < 2; form++) {
            double t0 = now(), c0 = cpu_now();
            for (size_t b = 0; b < batches; b++) {
                for (size_t i = 0; i < batch; i++) {
                    uint64_t x = next_rand();
                    pages[i] = 1 + (x % PAGES);
                    offs[i] = (uint32_t)((x >> 32) % (PAGE_SIZE - WIDTH));
                }
                if (form == 0) {
                    st = mmsb_commit_array(bus, pages, offs, data, batch, WIDTH, NULL, 0, NULL);
                } else {
                    for (size_t i = 0; i < batch; i++) {
                        ws[i].page = pages[i];
                        ws[i].offset = offs[i];
                        ws[i].len = WIDTH;
                        ws[i].data = data + i * WIDTH;
                    }
                    st = mmsb_commit(bus, ws, batch, NULL, 0, NULL);
                }
                if (st) die("commit", st);
            }
            double dt = now() - t0, dc = cpu_now() - c0;
            if (r < 0) continue;
            printf("c_commit form=%s batch=%zu deltas/s=%.0f ns/batch=%.0f cpu-ns/delta=%.1f\n",
                   form == 0 ? "array" : "struct", batch, (double)(batch * batches) / dt, dt / batches * 1e9,
                   dc / (double)(batch * batches) * 1e9);
        }
    }
    if ((st = mmsb_close(bus))) die("close", st);
    return 0;
}
