package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/vfs"
)

// pruneAtFS counts the files with the suffix opened through it and runs
// prune before the n-th: a writer that checkpointed twice (removing the
// oldest checkpoint and the log segments it covered) at that moment of a
// command.
type pruneAtFS struct {
	vfs.FS
	suffix string
	n      int64
	opens  atomic.Int64
	prune  func()
}

func (p *pruneAtFS) Open(name string) (vfs.File, error) {
	if strings.HasSuffix(name, p.suffix) && p.opens.Add(1) == p.n && p.prune != nil {
		p.prune()
	}
	return p.FS.Open(name)
}

// TestReadersBesideAPruningWriter: inspect, graph and read (from the
// files) failed beside a writer whose checkpoints removed old checkpoints
// and log segments while they read ("tlog: open .../wal/...log: no such
// file or directory", "log jumps from LSN 42 to 83"; inspect also took a
// segment gone from its scan for a removed wal/ and refused the
// directory, and counted a checkpoint removed after its listing as one
// that does not verify). They now replay again as check and replay do
// (replayBesideWriter), inspect scans the log again likewise and passes
// over a removed checkpoint. The writer prunes at each segment (or
// checkpoint) open of the command in turn: every stage is met.
func TestReadersBesideAPruningWriter(t *testing.T) {
	saved := filesFS
	defer func() { filesFS = saved }()
	for _, tc := range []struct {
		name   string
		args   []string
		suffix string
	}{
		{"inspect", []string{"inspect", "--json"}, ".log"},
		{"inspect checkpoints", []string{"inspect", "--json"}, ".ckpt"},
		{"graph", []string{"graph"}, ".log"},
		{"read", []string{"read", "--page", "1"}, ".log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(dir string) (cliResult, string) {
				r := runCLI(t, append(tc.args, dir)...)
				if r.code == exitOK && tc.args[0] == "inspect" {
					var rep struct {
						LogProblems        int `json:"log_problems"`
						CheckpointProblems int `json:"checkpoint_problems"`
					}
					if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
						return r, err.Error()
					}
					if rep.LogProblems != 0 || rep.CheckpointProblems != 0 {
						return r, fmt.Sprintf("%d log problems, %d checkpoint problems", rep.LogProblems, rep.CheckpointProblems)
					}
				}
				if r.code != exitOK {
					return r, fmt.Sprintf("exit %d", r.code)
				}
				return r, ""
			}
			// How many such files the command opens in a directory
			// nobody changes.
			dir, _, _, _ := pruningWriter(t)
			count := &pruneAtFS{FS: vfs.Default, suffix: tc.suffix}
			filesFS = count
			if r, bad := run(dir); bad != "" {
				t.Fatalf("%s of a directory nobody changes: %s\n%s%s", tc.name, bad, r.stdout, r.stderr)
			}
			opens := count.opens.Load()
			if opens == 0 {
				t.Fatalf("%s opened no %s file through filesFS: the test tests nothing", tc.name, tc.suffix)
			}
			for n := int64(1); n <= opens; n++ {
				dir, _, prune, oldest := pruningWriter(t)
				first := oldest()
				filesFS = &pruneAtFS{FS: vfs.Default, suffix: tc.suffix, n: n, prune: prune}
				if r, bad := run(dir); bad != "" {
					t.Errorf("%s with the writer pruning at %s open %d of %d: %s\n%s%s", tc.name, tc.suffix, n, opens, bad, r.stdout, r.stderr)
					continue
				}
				if oldest() == first {
					t.Fatalf("open %d: the writer removed no checkpoint: the test tests nothing", n)
				}
			}
		})
	}
}

// sharedBus opens a shared-mode bus in dir with page 1 (8 bytes) written
// once; it is closed when the test ends unless the caller closes it.
func sharedBus(t *testing.T, dir, shm string, fill byte) *mmsb.Bus {
	t.Helper()
	ctx := context.Background()
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	if ids, err := bus.Pages(); err != nil {
		t.Fatal(err)
	} else if len(ids) == 0 {
		if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, []byte{fill})}); err != nil {
		t.Fatal(err)
	}
	return bus
}

// supersede marks the shared region of dir superseded, as a newer writer
// does before it removes it and publishes its own.
func supersede(t *testing.T, dir, shm string) {
	t.Helper()
	path, err := mmsb.SharedRegionPath(dir, shm)
	if err != nil {
		t.Fatal(err)
	}
	if err := page.MarkSuperseded(path); err != nil {
		t.Fatal(err)
	}
}

// TestReadSharedWriterGoneOrReplaced: `mmsb read` fell back to the files
// only when no writer's region was found. A region superseded by a newer
// writer (ErrStale at the open, or at the read after the open), and a
// writer that closed between the open and the read (ErrWriterGone), failed
// the read (exit 1: "shared region superseded by a newer writer",
// "shared-memory writer gone"). It now opens the newer writer's region
// (a bounded number of times) and reads the files otherwise.
func TestReadSharedWriterGoneOrReplaced(t *testing.T) {
	saved := openReader
	defer func() { openReader = saved }()
	for _, tc := range []struct {
		name string
		// step runs at open number call, before (before) or after the
		// real open.
		step       func(t *testing.T, call int, before bool, bus **mmsb.Bus, dir, shm string)
		wantSource string
		wantByte   byte
	}{
		{"stale at open, then the newer writer's region", func(t *testing.T, call int, before bool, bus **mmsb.Bus, dir, shm string) {
			switch {
			case call == 1 && before:
				supersede(t, dir, shm)
			case call == 2 && before:
				_ = (*bus).Close()
				*bus = sharedBus(t, dir, shm, 2)
			}
		}, "source shared memory", 2},
		{"stale at the read, then the newer writer's region", func(t *testing.T, call int, before bool, bus **mmsb.Bus, dir, shm string) {
			switch {
			case call == 1 && !before:
				supersede(t, dir, shm)
			case call == 2 && before:
				_ = (*bus).Close()
				*bus = sharedBus(t, dir, shm, 2)
			}
		}, "source shared memory", 2},
		{"stays stale", func(t *testing.T, call int, before bool, bus **mmsb.Bus, dir, shm string) {
			if call == 1 && !before {
				supersede(t, dir, shm)
			}
		}, "source files", 1},
		{"writer closed after the open", func(t *testing.T, call int, before bool, bus **mmsb.Bus, dir, shm string) {
			if call == 1 && !before {
				_ = (*bus).Close()
			}
		}, "source files", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, shm := t.TempDir(), shmDirForTest(t)
			bus := sharedBus(t, dir, shm, 1)
			calls := 0
			openReader = func(d string, o *mmsb.ReaderOptions) (*mmsb.Reader, error) {
				calls++
				tc.step(t, calls, true, &bus, dir, shm)
				rd, err := mmsb.OpenReader(d, o)
				tc.step(t, calls, false, &bus, dir, shm)
				return rd, err
			}
			r := runCLI(t, "read", dir, "--page", "1", "--shm-dir", shm)
			if r.code != exitOK {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if want := fmt.Sprintf("00000000  %02x 00", tc.wantByte); !strings.Contains(r.stdout, tc.wantSource) || !strings.Contains(r.stdout, want) {
				t.Fatalf("want %q and %q:\n%s", tc.wantSource, want, r.stdout)
			}
			if calls > sharedAttempts {
				t.Fatalf("%d opens, at most %d", calls, sharedAttempts)
			}
		})
	}
}

// TestWatchOpensTheNewerWritersRegion: watch failed at once when the
// region it found was superseded (ErrStale: a newer writer took the bus
// over between finding it and mapping it); it now opens again and
// follows the newer writer, also when an open falls between that
// writer's removal of the old region and the publication of its own
// (ErrWriterGone after ErrStale).
func TestWatchOpensTheNewerWritersRegion(t *testing.T) {
	saved := openReader
	defer func() { openReader = saved }()
	for _, gap := range []bool{false, true} {
		t.Run(fmt.Sprintf("gap=%v", gap), func(t *testing.T) {
			dir, shm := t.TempDir(), shmDirForTest(t)
			bus := sharedBus(t, dir, shm, 1)
			var stop atomic.Bool
			var wg sync.WaitGroup
			defer func() { stop.Store(true); wg.Wait() }()
			calls := 0
			newerAt := 2
			if gap {
				newerAt = 3
			}
			openReader = func(d string, o *mmsb.ReaderOptions) (*mmsb.Reader, error) {
				calls++
				switch {
				case calls == 1:
					supersede(t, dir, shm)
				case calls == 2 && gap:
					_ = bus.Close() // removes the region: none is published
				case calls == newerAt:
					_ = bus.Close()
					bus = sharedBus(t, dir, shm, 2)
					newer := bus
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := byte(3); !stop.Load(); i++ {
							if _, err := newer.Commit(context.Background(), []mmsb.Delta{mmsb.Write(1, 0, []byte{i})}); err != nil {
								t.Error(err)
								return
							}
						}
					}()
				}
				return mmsb.OpenReader(d, o)
			}
			r := runCLI(t, "watch", dir, "--page", "1", "--count", "2", "--shm-dir", shm)
			stop.Store(true)
			wg.Wait()
			r.mustCode(t, exitOK)
			if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "lsn=") {
				t.Fatalf("want 2 change lines:\n%s", r.stdout)
			}
			if calls != newerAt {
				t.Fatalf("%d opens, want %d", calls, newerAt)
			}
		})
	}
}
