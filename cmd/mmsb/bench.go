package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// benchOptions are the flags of `mmsb bench`.
type benchOptions struct {
	pages           int
	pageSize        int
	deltaSize       int
	batch           int
	count           int64
	sync            string
	dir             string
	shared          bool
	shmDir          string
	readers         int
	workers         int
	concurrency     int
	pipeline        int
	seed            uint64
	createOnly      bool
	noVerify        bool
	checkpointBytes int64
	json            bool
	stallTrace      string
	stallThreshold  time.Duration
	stallCauses     bool
	stallThreads    bool
	syncFloor       int
	checkpointRate  int64
	lazyPages       bool
	memCheckpoints  bool
	hugePages       bool

	// growth workload (--workload growth)
	growthPages      string
	growthBatches    string
	growthBatchPages int
	plotDir          string

	// tick workload (--workload tick)
	workload      string
	ticks         int
	deltasPerTick int
	derived       int
	fanin         int

	// The command's flags (benchCmd), for the flags given: validate
	// refuses those the workload does not read (benchFlagWorkloads).
	flags *pflag.FlagSet
}

// benchFlagWorkloads names, for every flag of `mmsb bench`, the workloads
// that read it (nil: all three). validate refuses a flag given to a
// workload not listed, as a usage error naming the flag and the workloads
// that read it: `bench --count 10 --ticks 5` and `bench --workload tick
// --concurrency 4` ran with the flag ignored and exit 0.
// TestBenchFlagsOfOtherWorkloadsRefused holds every flag of the command to
// an entry here, so a new flag is placed before it ships.
var benchFlagWorkloads = map[string][]string{
	"pages": {"commit", "tick"}, "page-size": nil, "delta-size": {"commit", "growth"},
	"batch": {"commit", "growth"}, "count": {"commit", "growth"}, "sync": {"commit", "tick"},
	"dir": {"commit", "tick"}, "shared": {"commit"}, "shm-dir": {"commit"}, "readers": {"commit"},
	"workers": nil, "concurrency": {"commit", "growth"}, "pipeline": {"commit", "growth"}, "seed": nil,
	"create-only": {"commit"}, "no-verify": {"commit", "tick"}, "checkpoint-bytes": nil,
	"checkpoint-rate": {"commit"}, "json": nil, "lazy-page-memory": {"commit", "growth"},
	"memory-checkpoints": {"commit"}, "huge-pages": {"commit", "growth"},
	"stall-trace": {"commit", "growth"}, "stall-threshold": {"commit", "growth"},
	"stall-causes": {"commit"}, "stall-threads": {"commit"}, "sync-floor": {"commit"},
	"workload": nil, "growth-pages": {"growth"}, "growth-batches": {"growth"},
	"growth-batch-pages": {"growth"}, "plot": {"growth"},
	"ticks": {"tick"}, "deltas-per-tick": {"tick"}, "derived": {"tick"}, "fanin": {"tick"},
}

// benchWorkloads are the values of --workload.
var benchWorkloads = []string{"commit", "tick", "growth"}

// otherWorkloadFlag returns a usage error for the first flag given (in
// name order) that --workload does not read, or nil. A --workload that is
// none of benchWorkloads is left to runBench.
func (o *benchOptions) otherWorkloadFlag() error {
	if o.flags == nil || !slices.Contains(benchWorkloads, o.workload) {
		return nil
	}
	var err error
	o.flags.Visit(func(f *pflag.Flag) {
		readers, ok := benchFlagWorkloads[f.Name]
		if err != nil || !ok || readers == nil || slices.Contains(readers, o.workload) {
			return
		}
		err = usageErr("--%s is read by --workload %s only; --workload %s does not read it",
			f.Name, strings.Join(readers, " and "), o.workload)
	})
	return err
}

// maxBenchReaders bounds --readers: each is a process of its own.
const maxBenchReaders = 256

// createChunk is how many pages one CreatePages call creates: large enough
// to amortise the log record, small enough to keep each record modest.
const createChunk = 4096

// benchResult is what `mmsb bench --json` prints: the workload, then the
// measurements. Durations are in seconds (float) or nanoseconds (integer,
// the _ns fields).
type benchResult struct {
	Pages           int    `json:"pages"`
	PageSize        int    `json:"page_size"`
	DeltaSize       int    `json:"delta_size"`
	Batch           int    `json:"batch"`
	Count           int64  `json:"count"`
	Sync            string `json:"sync"`
	Dir             string `json:"dir"`
	InMemory        bool   `json:"in_memory"`
	Shared          bool   `json:"shared"`
	Workers         int    `json:"workers"`
	Concurrency     int    `json:"concurrency"`
	Pipeline        int    `json:"pipeline"`
	Seed            uint64 `json:"seed"`
	CreateOnly      bool   `json:"create_only"`
	CheckpointBytes int64  `json:"checkpoint_bytes"`
	CheckpointRate  int64  `json:"checkpoint_rate,omitempty"`
	LazyPageMemory  bool   `json:"lazy_page_memory"`
	HugePages       bool   `json:"huge_pages"`
	MemCheckpoints  bool   `json:"memory_checkpoints,omitempty"`
	StallTrace      string `json:"stall_trace,omitempty"`
	// What the committing thread did in commits (--stall-causes).
	*StallCauses
	Readers int `json:"readers,omitempty"`

	CreateSec    float64 `json:"create_sec"`
	PagesPerSec  float64 `json:"pages_per_sec"`
	Deltas       int64   `json:"deltas"`
	Batches      int64   `json:"batches"`
	DurationSec  float64 `json:"duration_sec"`
	DeltasPerSec float64 `json:"deltas_per_sec"`
	MBPerSec     float64 `json:"mb_per_sec"` // delta payload, 10^6 bytes
	LatencyP50NS int64   `json:"latency_p50_ns"`
	LatencyP99NS int64   `json:"latency_p99_ns"`
	LatencyMaxNS int64   `json:"latency_max_ns"`
	// The same over the commits that overlapped a checkpoint
	// (Bus.CheckpointRunning at their start or end); zero when none did.
	CheckpointCommits uint64 `json:"checkpoint_commits"`
	CheckpointP50NS   int64  `json:"checkpoint_latency_p50_ns"`
	CheckpointP99NS   int64  `json:"checkpoint_latency_p99_ns"`
	CheckpointMaxNS   int64  `json:"checkpoint_latency_max_ns"`
	GCPauseMaxNS      int64  `json:"gc_pause_max_ns"`
	GCCycles          uint32 `json:"gc_cycles"`
	// What the machine did meanwhile (see hostState and hostDelta).
	hostDelta
	RSSBytes     int64  `json:"rss_bytes"`
	RSSPeakBytes int64  `json:"rss_peak_bytes"`
	LogBytes     uint64 `json:"log_bytes"`
	LogSyncs     uint64 `json:"log_syncs"`
	// In-memory log segments' rooms taken from the recycled ones and
	// newly allocated during the load (vfs.RoomCounts).
	LogRoomsReused int64  `json:"log_rooms_reused"`
	LogRoomsMade   int64  `json:"log_rooms_made"`
	Checkpoints    uint64 `json:"checkpoints"`
	// Time checkpoints slept to hold --checkpoint-rate (Stats.CheckpointPaced).
	CheckpointPacedSec float64 `json:"checkpoint_paced_sec"`
	// --sync-floor: appends of the log's mean bytes per sync, each synced,
	// with no bus running, and their latency: the device's floor.
	SyncFloorBytes int    `json:"sync_floor_bytes,omitempty"`
	SyncFloorSyncs uint64 `json:"sync_floor_syncs,omitempty"`
	SyncFloorP50NS int64  `json:"sync_floor_p50_ns,omitempty"`
	SyncFloorP99NS int64  `json:"sync_floor_p99_ns,omitempty"`
	SyncFloorMaxNS int64  `json:"sync_floor_max_ns,omitempty"`
	LastLSN        uint64 `json:"last_lsn"`
	StateHash      string `json:"state_hash"`

	// One entry per reader process (--readers): consistent page
	// copies per second while the load committed, and retried reads.
	ReaderCopiesPerSec []float64 `json:"reader_copies_per_sec,omitempty"`
	ReaderRetries      []uint64  `json:"reader_retries,omitempty"`

	ReplayChecked     bool     `json:"replay_checked"`
	ReplayEqual       bool     `json:"replay_equal"`
	ReplaySec         float64  `json:"replay_sec"`
	ReplayDifferences []string `json:"replay_differences,omitempty"`
}

func (a *app) benchCmd() *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure commit throughput, latency, memory and GC on a real bus",
		Long: `bench creates --pages pages of --page-size bytes, then commits --count real
deltas (--delta-size random bytes at a random offset of a random page, seeded
by --seed) through the bus's normal commit path, in batches of --batch.

It reports throughput (deltas/s and payload MB/s), commit latency per batch
(p50, p99, max), process RSS (VmRSS), the longest Go GC pause during the run,
log bytes and fsyncs, and then replays the log and checks that the replay
equals the live state bit for bit (exit status 1 if it does not).

The bus is in memory unless --dir names a directory (which must be absent or
empty: bench always measures a fresh bus). --concurrency N commits from N
goroutines at once; with --sync group they share fsyncs. With --concurrency 1
the final state is a pure function of the flags (same --seed, same state
hash). --create-only times page creation alone.`,
		Example: `  mmsb bench
  mmsb bench --count 1000000 --json
  mmsb bench --dir /tmp/mmsb-bench --sync always --batch 100 --count 100000
  mmsb bench --concurrency 8 --sync group --dir /tmp/mmsb-bench
  mmsb bench --pipeline 4 --sync group --dir /tmp/mmsb-bench
  mmsb bench --create-only --pages 1000000
  mmsb bench --workload tick --pages 100000 --derived 1000 --deltas-per-tick 10000 --ticks 200
  mmsb bench --workload growth --count 5000000 --checkpoint-bytes -1 --plot docs/img`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runBench(cmd.Context(), o) },
	}
	f := cmd.Flags()
	o.flags = f
	intVar(f, &o.pages, "pages", 65536, "number of pages to create")
	intVar(f, &o.pageSize, "page-size", 1024, "bytes per page")
	intVar(f, &o.deltaSize, "delta-size", 16, "bytes written by each delta")
	intVar(f, &o.batch, "batch", 1000, "deltas per commit (one log record)")
	f.Int64Var(&o.count, "count", 10_000_000, "total deltas to commit")
	f.StringVar(&o.sync, "sync", "group", "log sync mode: group, always or none")
	f.StringVar(&o.dir, "dir", "", "run an on-disk bus in this (absent or empty) directory; default: in-memory bus")
	f.BoolVar(&o.shared, "shared", false, "shared mode: pages in shared memory for reader processes (needs --dir)")
	f.StringVar(&o.shmDir, "shm-dir", "", "with --shared: directory of shared regions (default "+mmsb.DefaultSharedDir+")")
	intVar(f, &o.readers, "readers", 0, "with --shared: reader processes copying random pages (Reader.ReadPage) while the load commits; each reports copies/s")
	intVar(f, &o.workers, "workers", 1, "goroutines that check and apply each large batch inside the bus (2 or more: pipelined, see docs/operations.md)")
	intVar(f, &o.concurrency, "concurrency", 1, "goroutines committing batches at the same time")
	intVar(f, &o.pipeline, "pipeline", 1, "batches each goroutine keeps in flight (CommitAsync, then WaitDurable N batches later)")
	f.Uint64Var(&o.seed, "seed", 1, "random seed of the workload")
	f.BoolVar(&o.createOnly, "create-only", false, "only time creating the pages")
	f.BoolVar(&o.noVerify, "no-verify", false, "skip the replay check at the end")
	f.Int64Var(&o.checkpointBytes, "checkpoint-bytes", 0, "automatic checkpoint after this much log (0: bus default, -1: never)")
	f.Int64Var(&o.checkpointRate, "checkpoint-rate", 0, "on disk: bytes per second a checkpoint writes at most (0: bus default, 64 MiB/s; -1: unlimited; at least 1 MiB/s) (Options.CheckpointWriteRate)")
	f.BoolVar(&o.json, "json", false, "print one JSON object instead of a table")
	f.BoolVar(&o.lazyPages, "lazy-page-memory", false, "fault page memory in at first write instead of pre-faulting it when pages are created (Options.LazyPageMemory)")
	f.BoolVar(&o.memCheckpoints, "memory-checkpoints", false, "in-memory bus: keep its checkpoints in RAM instead of scratch files in $TMPDIR (Options.MemoryCheckpoints)")
	f.BoolVar(&o.hugePages, "huge-pages", false, "ask for transparent huge pages for page memory (Options.HugePages)")
	f.StringVar(&o.stallTrace, "stall-trace", "", "keep a runtime/trace flight recorder and write its last seconds to this file at the first commit slower than --stall-threshold")
	f.BoolVar(&o.stallCauses, "stall-causes", false, "report the commits slower than --stall-threshold, the slowest with the time the hypervisor took from the VM's CPUs meanwhile (steal); Linux, --concurrency 1, no --pipeline")
	f.BoolVar(&o.stallThreads, "stall-threads", false, "with --stall-causes: lock the committing goroutine to its thread and classify slow commits by the thread's CPU time, run-queue wait and page faults (perturbs lock hand-offs: latencies run higher)")
	intVar(f, &o.syncFloor, "sync-floor", 0, "on disk (--dir): after the load, time this many appends of the log's mean bytes per sync, each synced as the log syncs, with no bus running: the device's floor under commit latency")
	f.DurationVar(&o.stallThreshold, "stall-threshold", 16*time.Millisecond, "the commit latency that counts as a stall (for --stall-trace, and for the report's count of long scheduler waits)")
	f.StringVar(&o.workload, "workload", "commit", "commit: batches of deltas through Commit; tick: ticks through the orchestrator with propagation; growth: commit throughput and latency next to a bare Go loop as pages and batches grow")
	f.StringVar(&o.growthPages, "growth-pages", "65536,262144,1048576,4194304", "growth workload: page counts measured at --batch")
	f.StringVar(&o.growthBatches, "growth-batches", "1,10,100,1000,10000", "growth workload: batch sizes measured at --growth-batch-pages")
	intVar(f, &o.growthBatchPages, "growth-batch-pages", 1048576, "growth workload: pages of the batch-size sweep")
	f.StringVar(&o.plotDir, "plot", "", "growth workload: write PNG charts into this directory")
	intVar(f, &o.ticks, "ticks", 200, "tick workload: number of ticks")
	intVar(f, &o.deltasPerTick, "deltas-per-tick", 10000, "tick workload: deltas submitted per tick")
	intVar(f, &o.derived, "derived", 1000, "tick workload: derived pages (f64.sum of --fanin source pages)")
	intVar(f, &o.fanin, "fanin", 4, "tick workload: parents per derived page")
	return cmd
}

// validate checks flag values before any work starts.
func (o *benchOptions) validate() error {
	// Ignored, a flag of another workload said nothing: the tick
	// workload ran its ticks past --create-only, the commit workload
	// drew no --plot chart.
	if err := o.otherWorkloadFlag(); err != nil {
		return err
	}
	switch {
	case o.pages < 1:
		return usageErr("--pages must be at least 1, got %d", o.pages)
	case o.pageSize < 1 || o.pageSize > mmsb.MaxPageSize:
		return usageErr("--page-size must be in 1..%d, got %d", mmsb.MaxPageSize, o.pageSize)
	case o.workload != "tick" && (o.deltaSize < 1 || o.deltaSize > o.pageSize):
		// The tick workload writes float64s (its --page-size >= 8 is
		// checked with its flags): the default --delta-size 16 refused
		// --page-size 8 there, naming a flag it does not use.
		return usageErr("--delta-size must be in 1..page size (%d), got %d", o.pageSize, o.deltaSize)
	case o.batch < 1:
		return usageErr("--batch must be at least 1, got %d", o.batch)
	case o.count < 0:
		return usageErr("--count must not be negative, got %d", o.count)
	case o.workers < 1 || o.workers > mmsb.MaxWorkers:
		// The bus refuses more too, but only once opened (exit 1).
		return usageErr("--workers must be in 1..%d, got %d", mmsb.MaxWorkers, o.workers)
	case o.concurrency < 1:
		return usageErr("--concurrency must be at least 1, got %d", o.concurrency)
	case o.pipeline < 1:
		return usageErr("--pipeline must be at least 1, got %d", o.pipeline)
	case o.workload == "commit" && min(int64(o.batch), o.count) > tlog.MaxRecordBytes/int64(o.deltaSize):
		// One batch is one log record: a larger one is refused by the
		// bus at its first commit, after its buffers were allocated
		// (--batch 10^9 --count 10^9 asked for about 90 GB first).
		return usageErr("--batch %d × --delta-size %d: more than the %d bytes a log record holds (commit smaller batches)",
			min(int64(o.batch), o.count), o.deltaSize, tlog.MaxRecordBytes)
	case o.stallThreshold < 0:
		// 0 counts every commit as a stall (a trace on demand); a
		// negative latency means nothing.
		return usageErr("--stall-threshold must not be negative (0: every commit), got %s", o.stallThreshold)
	case o.checkpointRate > 0 && o.checkpointRate < mmsb.MinCheckpointWriteRate:
		// The bus refuses it too, but only once opened: a flag value
		// is a usage error, found before any work (docs/cli.md).
		return usageErr("--checkpoint-rate must be 0 (bus default), -1 (unlimited) or at least %d (1 MiB/s), got %d",
			mmsb.MinCheckpointWriteRate, o.checkpointRate)
	case o.checkpointRate < -1:
		// Every negative rate is "unlimited" to the bus, so -2 (a slip
		// for 2, or for a limit) ran unpaced without a word; -1 is the
		// one documented (as mmsb checkpoint --rate).
		return usageErr("--checkpoint-rate %d: -1 means unlimited and 0 the bus default; a limit must be at least %d (1 MiB/s)",
			o.checkpointRate, mmsb.MinCheckpointWriteRate)
	case o.workload == "growth" && o.growthBatchPages < 1:
		return usageErr("--growth-batch-pages must be at least 1, got %d", o.growthBatchPages)
	case o.workload == "growth" && o.count < 1:
		// Every point commits min(--count, 20,000 batches) deltas: 0
		// measured nothing and printed rates of 0 and a ratio of 0.
		return usageErr("--count must be at least 1 with --workload growth (each point commits that many deltas), got %d", o.count)
	case o.workload == "tick" && o.derived > 0 && o.fanin > o.pages:
		// Each derived page takes --fanin distinct source pages: more
		// than there are could never be drawn.
		return usageErr("--fanin %d: a derived page's parents are distinct source pages, and --pages is %d", o.fanin, o.pages)
	}
	switch o.workload {
	case "commit":
		// With --shared the region's tmpfs space is allocated when pages
		// are created, lazy or not (Options.LazyPageMemory): only the
		// mapping is lazy, so the pages' bytes count.
		if err := checkPageMemory("--pages", o.pages, o.pageSize, o.lazyPages && !o.shared); err != nil {
			return err
		}
	case "tick":
		if o.derived > math.MaxInt-o.pages {
			return usageErr("--pages %d + --derived %d: more pages than an int counts", o.pages, o.derived)
		}
		// The tick workload's bus pre-faults its pages (no --lazy-page-memory there).
		if err := checkPageMemory("--pages + --derived", o.pages+max(o.derived, 0), o.pageSize, false); err != nil {
			return err
		}
	}
	if _, err := syncFlag(o.sync); err != nil {
		return err
	}
	if o.shared && o.dir == "" {
		return usageErr("--shared needs --dir (shared mode needs an on-disk bus)")
	}
	if o.readers < 0 || (o.readers > 0 && (!o.shared || o.workload != "commit")) {
		return usageErr("--readers %d: needs --shared and the commit workload, and cannot be negative", o.readers)
	}
	if o.readers > maxBenchReaders {
		// Each reader is a process running this binary: --readers 100000
		// started them one at a time, and was still at it ten minutes on.
		return usageErr("--readers %d: at most %d reader processes", o.readers, maxBenchReaders)
	}
	if o.stallCauses && !threadUsageSupported {
		return usageErr("--stall-causes needs Linux (/proc/stat, per-thread CPU time and faults)")
	}
	if o.syncFloor < 0 || (o.syncFloor > 0 && (o.dir == "" || o.workload != "commit")) {
		return usageErr("--sync-floor %d: needs --dir and the commit workload, and cannot be negative", o.syncFloor)
	}
	if o.stallTrace != "" {
		// The trace is written at a stall, during the run: a bad path
		// failed the bench after it ran ("--stall-trace: open ...").
		if err := checkOutputFile(o.stallTrace); err != nil {
			return usageErr("--stall-trace %s: %v", o.stallTrace, err)
		}
		// The trace replaces what the path holds (renameOutput, which
		// checks again at the stall): a bus's log segment there was
		// lost.
		if err := checkReplaceable(o.stallTrace, traceMagic, traceWhat); err != nil {
			return usageErr("--stall-trace %s: %v", o.stallTrace, err)
		}
	}
	if o.stallThreads && !o.stallCauses {
		return usageErr("--stall-threads needs --stall-causes")
	}
	if o.stallCauses && (o.workload != "commit" || o.concurrency != 1 || o.pipeline != 1) {
		return usageErr("--stall-causes needs the commit workload with --concurrency 1 and --pipeline 1 (one committing thread)")
	}
	if o.dir != "" {
		names, err := os.ReadDir(o.dir)
		if err != nil && !os.IsNotExist(err) {
			// A flag value that names no usable directory (a file, one
			// that cannot be read): exit 2 like --dir not empty, where it
			// exited 1 as if the bench had run and failed.
			return usageErr("--dir %s: %v", o.dir, err)
		}
		if len(names) > 0 {
			return usageErr("--dir %s is not empty: bench measures a fresh bus and never writes into existing data", o.dir)
		}
	}
	return nil
}

func (a *app) runBench(ctx context.Context, o *benchOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	switch o.workload {
	case "commit":
	case "tick":
		return a.runTickBench(ctx, o)
	case "growth":
		return a.runGrowthBench(ctx, o)
	default:
		return usageErr("--workload must be commit, tick or growth, got %q", o.workload)
	}
	mode, _ := mmsb.ParseSyncMode(o.sync)
	bus, err := mmsb.Open(o.dir, &mmsb.Options{Sync: mode, Workers: o.workers, CheckpointBytes: o.checkpointBytes,
		CheckpointWriteRate: o.checkpointRate, Shared: o.shared, SharedDir: o.shmDir, LazyPageMemory: o.lazyPages, HugePages: o.hugePages,
		MemoryCheckpoints: o.memCheckpoints})
	if err != nil {
		return fmt.Errorf("open bus: %w", err)
	}
	defer bus.Close() //nolint:errcheck // nothing written through it is lost by a failed close

	res := &benchResult{Pages: o.pages, PageSize: o.pageSize, DeltaSize: o.deltaSize, Batch: o.batch,
		Count: o.count, Sync: mode.String(), Dir: o.dir, InMemory: o.dir == "", Shared: o.shared, Workers: o.workers,
		Concurrency: o.concurrency, Pipeline: o.pipeline, Seed: o.seed, CreateOnly: o.createOnly, CheckpointBytes: o.checkpointBytes,
		CheckpointRate: o.checkpointRate, LazyPageMemory: o.lazyPages, HugePages: o.hugePages, MemCheckpoints: o.memCheckpoints}

	gc0, host0 := readGCState(), readHostState()
	reused0, made0 := vfs.RoomCounts()
	ids, err := a.benchCreate(ctx, bus, o, res)
	if err != nil {
		return err
	}
	if !o.createOnly && o.count > 0 {
		var readers []*readerProc
		if o.readers > 0 {
			res.Readers = o.readers
			if readers, err = startBenchReaders(ctx, o.readers, o.dir, o.shmDir, ids[0], len(ids), o.seed); err != nil {
				return err
			}
			if err := goBenchReaders(readers); err != nil {
				stopBenchReaders(readers)
				return err
			}
		}
		err := a.benchCommit(ctx, bus, o, ids, res)
		if readers != nil {
			reports, rerr := finishBenchReaders(readers)
			for _, r := range reports {
				res.ReaderCopiesPerSec = append(res.ReaderCopiesPerSec, float64(r.Copies)/max(r.Seconds, 1e-9))
				res.ReaderRetries = append(res.ReaderRetries, r.Retries)
			}
			if err == nil {
				err = rerr
			}
		}
		if err != nil {
			return err
		}
	}
	gc1 := readGCState()
	res.GCPauseMaxNS, res.GCCycles = gcPauseMax(gc0, gc1)
	res.hostDelta = diffHost(host0, readHostState(), o.stallThreshold.Seconds())
	res.RSSBytes, res.RSSPeakBytes = readRSS()
	reused1, made1 := vfs.RoomCounts()
	res.LogRoomsReused, res.LogRoomsMade = reused1-reused0, made1-made0
	// Let an automatic checkpoint that was running (or started by the last
	// commits) when the load ended finish, so that "checkpoints" counts it
	// (RSS is read before).
	for bus.CheckpointRunning() {
		time.Sleep(time.Millisecond)
	}
	st := bus.Stats()
	res.LogBytes, res.LogSyncs, res.Checkpoints = st.Log.Bytes, st.Log.Syncs, st.Checkpoints
	res.CheckpointPacedSec = st.CheckpointPaced.Seconds()
	res.LastLSN = uint64(bus.LastLSN())
	if res.StateHash, err = stateHash(bus); err != nil {
		return err
	}
	if o.syncFloor > 0 && res.LogSyncs > 0 {
		// The bus is idle (no commit, no checkpoint) but open: its LOCK
		// keeps the directory to this run.
		size := int(res.LogBytes / res.LogSyncs)
		h, err := syncFloor(ctx, vfs.Default, o.dir, o.syncFloor, size)
		if err != nil {
			return err
		}
		res.SyncFloorBytes, res.SyncFloorSyncs = size, h.n
		res.SyncFloorP50NS, res.SyncFloorP99NS, res.SyncFloorMaxNS = h.quantile(0.50), h.quantile(0.99), h.max
	}

	if !o.noVerify {
		if !o.json && a.terminal && !a.noProgress {
			fmt.Fprintln(a.stderr, "verifying replay...")
		}
		start := time.Now()
		rep, err := bus.VerifyReplay(ctx, false)
		if err != nil {
			return fmt.Errorf("replay check: %w", err)
		}
		res.ReplaySec = time.Since(start).Seconds()
		res.ReplayChecked, res.ReplayEqual = true, rep.Equal()
		res.ReplayDifferences = rep.Differences
	}
	if o.json {
		if err := a.printJSON(res); err != nil {
			return err
		}
	} else {
		a.printBench(res)
	}
	if res.ReplayChecked && !res.ReplayEqual {
		return &exitError{code: exitFailure, msg: "replay of the log differs from the live state"}
	}
	return nil
}

// pageMemoryLimit is the memory a bus may pre-fault for its pages, as the
// bus itself bounds it (page.PhysicalMemory: RAM, or the cgroup's
// memory.max when smaller; 0 where unknown). A variable for tests.
var pageMemoryLimit = page.PhysicalMemory

// pageBookkeepingBytes is the least memory a page costs beyond its bytes,
// whether they are pre-faulted or lazy: its entry in the bus's page table
// and metadata, and its ID in this command's list. Measured: about 100
// bytes a page (4 Mi lazy pages of 64 bytes: 421 MB max RSS); the bound
// uses less, so that it refuses only counts that could never be held.
const pageBookkeepingBytes = 64

// checkPageMemory refuses, as a usage error naming flag, a page count
// whose pages of pageSize bytes could never be held: more bytes than an
// int64 counts, or more than pageMemoryLimit, counting each page's
// bookkeeping and, with page memory pre-faulted (not lazy), its bytes. The
// bus refuses pre-faulted memory past the limit too, but only at the
// create call that crosses it, after it has pre-faulted the machine's
// memory up to there; and the page IDs were preallocated from the flag
// first, which panicked (makeslice: cap out of range) past 2^48 bytes.
// Lazy page memory is not held until written, but the bookkeeping is:
// --lazy-page-memory bounded nothing, so --pages 10000000000 was accepted
// though its bookkeeping alone needs about a terabyte.
func checkPageMemory(flag string, pages, pageSize int, lazy bool) error {
	if pages > 0 && pageSize > 0 && int64(pages) > math.MaxInt64/(int64(pageSize)+pageBookkeepingBytes) {
		return usageErr("%s %d of %d bytes: more page memory than an int64 counts", flag, pages, pageSize)
	}
	perPage := int64(pageBookkeepingBytes)
	if !lazy {
		perPage += int64(pageSize)
	}
	need := int64(pages) * perPage
	if limit := pageMemoryLimit(); limit > 0 && need > limit {
		if lazy {
			return usageErr("%s %d: %s of bookkeeping (at least %d bytes a page, even with --lazy-page-memory), more than the %s of this machine",
				flag, pages, humanBytes(need), pageBookkeepingBytes, humanBytes(limit))
		}
		return usageErr("%s %d of %d bytes: %s of page memory and bookkeeping (%d bytes a page), more than the %s of this machine that page memory held from creation (pre-faulted, or --shared's tmpfs space) must fit in",
			flag, pages, pageSize, humanBytes(need), pageBookkeepingBytes, humanBytes(limit))
	}
	return nil
}

// benchCreate creates the pages in chunks and records how long it took.
func (a *app) benchCreate(ctx context.Context, bus *mmsb.Bus, o *benchOptions, res *benchResult) ([]mmsb.PageID, error) {
	// Grown as the bus creates pages, not sized from the flag up front:
	// the bus, not a preallocation, is what refuses too many.
	ids := make([]mmsb.PageID, 0, min(o.pages, 1<<20))
	specs := make([]mmsb.PageSpec, min(createChunk, o.pages))
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: o.pageSize}
	}
	bar := a.progress(int64(o.pages), "creating pages", "pages")
	defer bar.finish()
	start := time.Now()
	for len(ids) < o.pages {
		n := min(createChunk, o.pages-len(ids))
		got, err := bus.CreatePages(ctx, specs[:n])
		if err != nil {
			// Counted from 1, of how many: "create pages 0..7" read as
			// page IDs, which start at 1 (TestGrowthChartTitlesSayOnePage).
			return nil, fmt.Errorf("create pages %d to %d of %d: %w", len(ids)+1, len(ids)+n, o.pages, err)
		}
		ids = append(ids, got...)
		bar.add(int64(n))
	}
	el := time.Since(start)
	res.CreateSec = el.Seconds()
	res.PagesPerSec = float64(o.pages) / max(el.Seconds(), 1e-9)
	return ids, nil
}

// benchCommitFault, when a test sets it, runs before each batch is
// committed; an error it returns is that batch's commit failure.
var benchCommitFault func(batch int64) error

// benchCommit runs the commit workload from o.concurrency goroutines.
func (a *app) benchCommit(ctx context.Context, bus *mmsb.Bus, o *benchOptions, ids []mmsb.PageID, res *benchResult) error {
	batches := ceilDiv(o.count, int64(o.batch))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64 // next batch index to commit
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	// No batch holds more than --count deltas, and no goroutine past the
	// number of batches has one to commit: a --batch or --concurrency far
	// larger than the run must not size the buffers (--batch 10^8 asked
	// for 20 GB).
	largest := int(min(int64(o.batch), o.count))
	workers := make([]*benchWorker, min(int64(o.concurrency), max(batches, 1)))
	for w := range workers {
		workers[w] = newBenchWorker(largest, o.deltaSize)
	}
	stalls, err := startStallRecorder(o.stallTrace, o.stallThreshold)
	if err != nil {
		return err
	}
	bar := a.progress(o.count, "committing deltas", "deltas")
	defer bar.finish()
	start := time.Now()
	var causes *StallCauses
	if o.stallCauses {
		causes = &StallCauses{ThreadCounters: o.stallThreads} // one worker (validate)
	}
	ckptsDone := func() uint64 { return bus.Stats().Checkpoints }
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var counters *threadCounters
			var u0 threadUsage // the counters as the last commit ended, or before it
			if causes != nil {
				if o.stallThreads {
					// Per-thread counters need the commits on one thread.
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
				}
				counters = openThreadCounters(o.stallThreads)
				defer counters.close()
				u0 = counters.read()
			}
			// With --pipeline N, up to N batches per goroutine are committed
			// with CommitAsync and awaited (WaitDurable) N batches later;
			// latency is from the commit call to durability either way.
			type inflight struct {
				lsn   mmsb.LSN
				start time.Time
				n     int
				ckpt  bool // a checkpoint ran when it started
			}
			var pending []inflight
			fail := func(b int64, err error) {
				errOnce.Do(func() { firstErr = fmt.Errorf("commit batch %d: %w", b, err) })
				cancel()
			}
			drain := func(keep int) bool {
				for len(pending) > keep {
					p := pending[0]
					if err := bus.WaitDurable(ctx, p.lsn); err != nil {
						fail(-1, err)
						return false
					}
					lat := time.Since(p.start).Nanoseconds()
					w.lat.record(lat)
					if p.ckpt || bus.CheckpointRunning() {
						w.latCkpt.record(lat)
					}
					stalls.observe(lat)
					bar.add(int64(p.n))
					pending = pending[1:]
				}
				return true
			}
			defer drain(0)
			for {
				b := next.Add(1) - 1
				if b >= batches || ctx.Err() != nil {
					return
				}
				n := int(min(int64(o.batch), o.count-b*int64(o.batch)))
				ds := w.fill(o.seed, uint64(b), n, ids, o.pageSize)
				ckpt := bus.CheckpointRunning()
				if o.stallThreads {
					// The thread's CPU time must not include making the
					// batch; steal is read only as commits end (a read of
					// /proc/stat costs about 12 µs).
					u0 = counters.read()
				}
				t0 := time.Now()
				if benchCommitFault != nil {
					if err := benchCommitFault(b); err != nil {
						fail(b, err)
						return
					}
				}
				if o.pipeline <= 1 {
					if _, err := bus.Commit(ctx, ds); err != nil {
						fail(b, err)
						return
					}
					lat := time.Since(t0).Nanoseconds()
					ckpt = ckpt || bus.CheckpointRunning()
					if causes != nil {
						u1 := counters.read()
						causes.note(time.Duration(lat), o.stallThreshold, ckpt, ckptsDone, u0, u1)
						u0 = u1
					}
					w.lat.record(lat)
					if ckpt {
						w.latCkpt.record(lat)
					}
					stalls.observe(lat)
					bar.add(int64(n))
					continue
				}
				info, err := bus.CommitAsync(ctx, ds)
				if err != nil {
					fail(b, err)
					return
				}
				pending = append(pending, inflight{lsn: info.LastLSN, start: t0, n: n, ckpt: ckpt})
				if !drain(o.pipeline - 1) {
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	wrote, terr := stalls.stop()
	if terr != nil || firstErr != nil {
		// Both are reported: the trace's error alone hid the commit
		// failure that ended the run (until 2026-12-07).
		return errors.Join(firstErr, terr) // terr names --stall-trace and its path
	}
	if wrote {
		res.StallTrace = o.stallTrace
	}
	if causes != nil {
		causes.finish()
	}
	res.StallCauses = causes
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bench interrupted: %w", err)
	}
	var lat, latCkpt latencyHist
	for _, w := range workers {
		lat.merge(&w.lat)
		latCkpt.merge(&w.latCkpt)
	}
	res.Deltas, res.Batches = o.count, batches
	res.DurationSec = el.Seconds()
	res.DeltasPerSec = float64(o.count) / max(el.Seconds(), 1e-9)
	res.MBPerSec = res.DeltasPerSec * float64(o.deltaSize) / 1e6
	res.LatencyP50NS, res.LatencyP99NS, res.LatencyMaxNS = lat.quantile(0.50), lat.quantile(0.99), lat.max
	if res.CheckpointCommits = latCkpt.n; res.CheckpointCommits > 0 {
		res.CheckpointP50NS, res.CheckpointP99NS, res.CheckpointMaxNS = latCkpt.quantile(0.50), latCkpt.quantile(0.99), latCkpt.max
	}
	return nil
}

// benchWorker owns one committing goroutine's reusable buffers: the delta
// slice, one run per delta and the payload bytes are allocated once and
// refilled for every batch, so that the workload adds no allocation per
// delta to what the bus itself does.
type benchWorker struct {
	rng  rand.PCG
	ds   []mmsb.Delta
	runs []mmsb.Run
	data []byte
	lat  latencyHist
	// latCkpt: the commits that overlapped a checkpoint (one was running
	// when the commit started or when it ended), also counted in lat.
	latCkpt latencyHist
}

// ceilDiv is n/d rounded up, for n >= 0 and d >= 1, without the overflow of
// (n+d-1)/d: with --batch near MaxInt64 that went negative, and bench
// reported "1000 deltas in 0 batches" at a rate while committing none.
func ceilDiv(n, d int64) int64 {
	q := n / d
	if n%d != 0 {
		q++
	}
	return q
}

func newBenchWorker(batch, deltaSize int) *benchWorker {
	w := &benchWorker{
		ds:   make([]mmsb.Delta, batch),
		runs: make([]mmsb.Run, batch),
		data: make([]byte, batch*deltaSize),
	}
	for i := range w.runs {
		w.runs[i].Data = w.data[i*deltaSize : (i+1)*deltaSize : (i+1)*deltaSize]
	}
	return w
}

// fill prepares batch number b (n deltas) and returns it. The content
// depends only on (seed, b), not on which goroutine commits the batch.
func (w *benchWorker) fill(seed, b uint64, n int, ids []mmsb.PageID, pageSize int) []mmsb.Delta {
	w.rng.Seed(seed, b)
	deltaSize := len(w.runs[0].Data)
	span := uint64(pageSize - deltaSize + 1)
	data := w.data[:n*deltaSize]
	k := 0
	for ; k+8 <= len(data); k += 8 {
		binary.LittleEndian.PutUint64(data[k:], w.rng.Uint64())
	}
	if k < len(data) {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], w.rng.Uint64())
		copy(data[k:], tail[:])
	}
	ds := w.ds[:n]
	// Pages created in one run have consecutive IDs: the k-th is then
	// ids[0]+k, and picking it needs no load from ids. A load from ids (8
	// MiB at 1M pages) at a random index missed the cache for every delta:
	// 180 µs per batch of 1,000 on the 2-core VM, a third of a commit's
	// time, spent by the committing goroutine between commits.
	first, consecutive := ids[0], ids[len(ids)-1]-ids[0] == mmsb.PageID(len(ids)-1)
	for i := range ds {
		w.runs[i].Offset = uint32(bounded(w.rng.Uint64(), span))
		k := bounded(w.rng.Uint64(), uint64(len(ids)))
		page := first + mmsb.PageID(k)
		if !consecutive {
			page = ids[k]
		}
		ds[i] = mmsb.Delta{Page: page, Runs: w.runs[i : i+1 : i+1]}
	}
	return ds
}

// bounded maps a uniform 64-bit value onto [0, n) by multiply-high
// (Lemire); the bias is below 2^-40 for any n a bench uses.
func bounded(x, n uint64) uint64 {
	hi, _ := bits.Mul64(x, n)
	return hi
}

// latencyHist is a log-linear histogram of nanosecond latencies: exact
// below 16 ns, then 16 buckets per power of two (relative error < 1/16).
// It has a fixed size, so recording never allocates however long the run.
type latencyHist struct {
	counts [latencyBuckets]uint64
	n      uint64
	max    int64
}

const latencyBuckets = 61*16 + 16

func latencyBucket(v uint64) int {
	if v < 16 {
		return int(v)
	}
	e := bits.Len64(v) - 1
	return (e-3)*16 + int(v>>(e-4)&15)
}

// latencyBucketMid returns the midpoint of bucket i's value range.
func latencyBucketMid(i int) int64 {
	if i < 16 {
		return int64(i)
	}
	e, sub := i/16+3, uint64(i%16)
	lo := (16 + sub) << (e - 4)
	width := uint64(1) << (e - 4)
	return int64(lo + width/2)
}

func (h *latencyHist) record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[latencyBucket(uint64(ns))]++
	h.n++
	h.max = max(h.max, ns)
}

func (h *latencyHist) merge(o *latencyHist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q <= 1), clamped to the maximum.
func (h *latencyHist) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(latencyBucketMid(i), h.max)
		}
	}
	return h.max
}

// gcState is a snapshot of the GC pause record.
type gcState struct {
	numGC   uint32
	pauseNs [256]uint64
	hist    *metrics.Float64Histogram
}

// gcPauseMetric is the runtime/metrics histogram of stop-the-world GC
// pauses (the newer name first; older runtimes only have the second).
var gcPauseMetrics = []string{"/sched/pauses/total/gc:seconds", "/gc/pauses:seconds"}

func readGCState() gcState {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := gcState{numGC: ms.NumGC, pauseNs: ms.PauseNs}
	for _, name := range gcPauseMetrics {
		s := []metrics.Sample{{Name: name}}
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindFloat64Histogram {
			st.hist = s[0].Value.Float64Histogram()
			break
		}
	}
	return st
}

// gcPauseMax returns the longest GC pause between two snapshots and the
// number of GC cycles. MemStats keeps the exact pauses of the last 256
// cycles; when more ran, the runtime/metrics histogram (which counts every
// pause) bounds the longest one from above as well.
func gcPauseMax(before, after gcState) (int64, uint32) {
	cycles := after.numGC - before.numGC
	var longest uint64
	for i := uint32(0); i < min(cycles, 256); i++ {
		longest = max(longest, after.pauseNs[(after.numGC-i+255)%256])
	}
	if cycles > 256 && before.hist != nil && after.hist != nil && len(before.hist.Counts) == len(after.hist.Counts) {
		for i := len(after.hist.Counts) - 1; i >= 0; i-- {
			if after.hist.Counts[i] > before.hist.Counts[i] {
				hi := after.hist.Buckets[i+1]
				if math.IsInf(hi, 1) {
					hi = after.hist.Buckets[i]
				}
				longest = max(longest, uint64(hi*1e9))
				break
			}
		}
	}
	return int64(longest), cycles
}

// readRSS returns the process's resident set size and its peak, from
// /proc/self/status (0, 0 where that file does not exist).
func readRSS() (rss, peak int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &rss
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &peak
		default:
			continue
		}
		fields := bytes.Fields(line[6:])
		if len(fields) >= 1 {
			if kb, err := strconv.ParseInt(string(fields[0]), 10, 64); err == nil {
				*dst = kb << 10
			}
		}
	}
	return rss, peak
}

func (a *app) printBench(r *benchResult) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	where := "in-memory"
	if !r.InMemory {
		where = "dir " + r.Dir
	}
	if r.Shared {
		where += ", shared memory"
	}
	fmt.Fprintf(tw, "workload\t%s x %d B, %s of %d B in batches of %d\n", counted(r.Pages, "page", "pages"), r.PageSize, counted(r.Count, "delta", "deltas"), r.DeltaSize, r.Batch)
	fmt.Fprintf(tw, "bus\t%s, sync=%s, workers=%d, concurrency=%d, seed=%d\n", where, r.Sync, r.Workers, r.Concurrency, r.Seed)
	fmt.Fprintf(tw, "create\t%s in %.3f s (%s pages/s)\n", counted(r.Pages, "page", "pages"), r.CreateSec, humanCount(r.PagesPerSec))
	if !r.CreateOnly && r.Deltas > 0 {
		fmt.Fprintf(tw, "commit\t%s in %s, %.3f s\n", counted(r.Deltas, "delta", "deltas"), counted(r.Batches, "batch", "batches"), r.DurationSec)
		fmt.Fprintf(tw, "throughput\t%s deltas/s, %.1f MB/s of payload\n", humanCount(r.DeltasPerSec), r.MBPerSec)
		fmt.Fprintf(tw, "latency\tp50 %s, p99 %s, max %s per batch commit\n", ms(r.LatencyP50NS), ms(r.LatencyP99NS), ms(r.LatencyMaxNS))
		if r.CheckpointCommits > 0 {
			fmt.Fprintf(tw, "during checkpoints\t%s: p50 %s, p99 %s, max %s\n", counted(r.CheckpointCommits, "commit", "commits"), ms(r.CheckpointP50NS), ms(r.CheckpointP99NS), ms(r.CheckpointMaxNS))
		}
	}
	for i, c := range r.ReaderCopiesPerSec {
		fmt.Fprintf(tw, "reader %d\t%s consistent page copies/s in its own process, %d retried\n", i, humanCount(c), r.ReaderRetries[i])
	}
	fmt.Fprintf(tw, "memory\tRSS %s (peak %s)\n", humanBytes(r.RSSBytes), humanBytes(r.RSSPeakBytes))
	fmt.Fprintf(tw, "gc\tmax pause %s over %s\n", ms(r.GCPauseMaxNS), counted(r.GCCycles, "cycle", "cycles"))
	fmt.Fprintf(tw, "scheduler\tlongest runnable wait >= %s (%d at least the stall threshold)\n", ms(r.SchedWaitMaxNS), r.SchedWaitsOver)
	fmt.Fprintf(tw, "host\t%s, %s and %s, %.2f s stolen by the hypervisor\n", counted(r.InvolSwitches, "involuntary switch", "involuntary switches"),
		counted(r.MinorFaults, "minor fault", "minor faults"), counted(r.MajorFaults, "major fault", "major faults"), r.StealSec)
	fmt.Fprintf(tw, "cpu\t%.2f s user, %.2f s system\n", r.UserSec, r.SysSec)
	if c := r.StallCauses; c != nil {
		fmt.Fprintf(tw, "stall causes\t%s over the threshold, %d with at least half their time taken from the VM's CPUs by the host\n",
			counted(c.Stalls, "commit", "commits"), c.StallsStolen)
		if c.ThreadCounters {
			fmt.Fprintf(tw, "\tthe committing thread: %s in commits; CPU per commit p99 %s (%s during checkpoints)\n",
				counted(c.CommitFaults, "page fault", "page faults"), ms(c.CommitCPUP99NS), ms(c.CheckpointCommitCPUP99NS))
			fmt.Fprintf(tw, "\tstalls: %d off CPU, %d in the kernel, %d in user mode; %d waiting for a CPU\n",
				c.StallsOffCPU, c.StallsInKernel, c.StallsInUser, c.StallsWaitingCPU)
		}
		for _, s := range c.Worst {
			if c.ThreadCounters {
				fmt.Fprintf(tw, "\t%s: %s stolen; %s user, %s system, %s runnable, %s (%s)\n",
					ms(s.LatencyNS), ms(s.StealNS), ms(s.UserNS), ms(s.SysNS), ms(s.RunDelayNS), counted(s.Faults, "fault", "faults"), s.Cause)
			} else {
				fmt.Fprintf(tw, "\t%s: %s stolen\n", ms(s.LatencyNS), ms(s.StealNS))
			}
		}
	}
	fmt.Fprintf(tw, "log\t%s, %s, %s (%.2f s paced)\n", humanBytes(int64(r.LogBytes)), counted(r.LogSyncs, "fsync", "fsyncs"), counted(r.Checkpoints, "checkpoint", "checkpoints"), r.CheckpointPacedSec)
	if r.SyncFloorSyncs > 0 {
		fmt.Fprintf(tw, "device floor\t%s of %d B, each synced, no bus running: p50 %s, p99 %s, max %s\n",
			counted(r.SyncFloorSyncs, "append", "appends"), r.SyncFloorBytes, ms(r.SyncFloorP50NS), ms(r.SyncFloorP99NS), ms(r.SyncFloorMaxNS))
	}
	fmt.Fprintf(tw, "state\tLSN %d, hash %s\n", r.LastLSN, r.StateHash)
	switch {
	case !r.ReplayChecked:
		fmt.Fprintf(tw, "replay\tnot checked (--no-verify)\n")
	case r.ReplayEqual:
		fmt.Fprintf(tw, "replay\tequal to the live state (%.3f s)\n", r.ReplaySec)
	default:
		fmt.Fprintf(tw, "replay\tDIFFERS from the live state (%.3f s)\n", r.ReplaySec)
		for _, d := range r.ReplayDifferences {
			fmt.Fprintf(tw, "\t%s\n", d)
		}
	}
	tw.Flush()
}

// ms formats nanoseconds as milliseconds with microsecond precision, the
// scale at which commit latencies and GC pauses are compared.
func ms(ns int64) string { return fmt.Sprintf("%.3f ms", float64(ns)/1e6) }
