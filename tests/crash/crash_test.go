//go:build crash

package crash

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

var (
	iterations = flag.Int("crash.iterations", 50, "child processes to run and kill")
	seedFlag   = flag.Uint64("crash.seed", 0, "seed of the kill delays (0: derive one from the clock and print it)")
)

// The workload. Worker w owns pagesPerWorker pages (IDs w*pagesPerWorker+1
// ...); its batch with sequence number s (s >= 1, consecutive per worker)
// overwrites every one of its pages whole with content(w, s, j). So after a
// crash all of a worker's pages must show the same s (a batch is all or
// nothing), and s is the worker's last acknowledged batch or the one after
// it (a worker has at most one batch in flight).
const (
	maxWorkers     = 4
	pagesPerWorker = 4
	pageSize       = 1024
	segmentBytes   = 256 << 10
	checkpointSize = 1 << 20

	envDir  = "MMSB_CRASH_DIR"
	envSync = "MMSB_CRASH_SYNC"
	envSeed = "MMSB_CRASH_SEED"
	// envLie makes the child break the contract the suite checks, for the
	// negative control: with "ack-before-commit" a worker acknowledges a
	// batch and only then commits it (see worker).
	envLie = "MMSB_CRASH_LIE"

	ackName = "acks"
	busName = "bus"

	minKill = 20 * time.Millisecond
	maxKill = 300 * time.Millisecond
	// childLifetime bounds an orphaned child (its parent died).
	childLifetime = 60 * time.Second
)

func pageID(w, j int) mmsb.PageID { return mmsb.PageID(w*pagesPerWorker + j + 1) }

// content is what batch s of worker w writes to its page j: s, w, j, then
// bytes from a xorshift stream seeded by all three.
func content(w int, s uint64, j int) []byte {
	b := make([]byte, pageSize)
	if s == 0 {
		return b
	}
	binary.LittleEndian.PutUint64(b[0:], s)
	binary.LittleEndian.PutUint32(b[8:], uint32(w))
	binary.LittleEndian.PutUint32(b[12:], uint32(j))
	x := s*0x9e3779b97f4a7c15 ^ uint64(w)<<48 ^ uint64(j)<<40 | 1
	for k := 16; k < len(b); k++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[k] = byte(x)
	}
	return b
}

// batchSum is the checksum the ack file records for a batch.
func batchSum(w int, s uint64) uint32 {
	var c uint32
	for j := 0; j < pagesPerWorker; j++ {
		c = crc32.Update(c, crc32.IEEETable, content(w, s, j))
	}
	return c
}

func busOptions(mode mmsb.SyncMode) *mmsb.Options {
	return &mmsb.Options{Sync: mode, SegmentBytes: segmentBytes, CheckpointBytes: checkpointSize}
}

// TestCrashChild is the child process's body; it does nothing unless the
// parent set envDir. It commits until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envDir)
	if dir == "" {
		t.Skip("run by TestCrash in a child process")
	}
	if err := runChild(dir, os.Getenv(envSync), os.Getenv(envSeed), os.Getenv(envLie) == lieAckBeforeCommit); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	os.Exit(4) // unreachable: runChild returns only on errors
}

// lieAckBeforeCommit is the value of envLie for a child that acknowledges
// batches before committing them.
const lieAckBeforeCommit = "ack-before-commit"

func runChild(dir, syncName, seedText string, lie bool) error {
	mode, err := mmsb.ParseSyncMode(syncName)
	if err != nil {
		return err
	}
	seed, _ := strconv.ParseUint(seedText, 10, 64)
	rng := rand.New(rand.NewPCG(seed, 7))
	acks, err := openAcks(filepath.Join(dir, ackName))
	if err != nil {
		return err
	}
	e, err := mmsb.Open(filepath.Join(dir, busName), busOptions(mode))
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	ctx := context.Background()
	if _, err := e.Page(pageID(0, 0)); errors.Is(err, mmsb.ErrPageNotFound) {
		specs := make([]mmsb.PageSpec, 0, maxWorkers*pagesPerWorker)
		for w := 0; w < maxWorkers; w++ {
			for j := 0; j < pagesPerWorker; j++ {
				specs = append(specs, mmsb.PageSpec{ID: pageID(w, j), Size: pageSize})
			}
		}
		if _, err := e.CreatePages(ctx, specs); err != nil {
			return fmt.Errorf("create pages: %w", err)
		}
		if err := acks.write("C\n"); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	workers := 1
	if mode == mmsb.SyncGroup {
		workers = maxWorkers
	}
	errc := make(chan error, workers+1)
	for w := 0; w < workers; w++ {
		b, _, err := e.ReadPage(pageID(w, 0), nil)
		if err != nil {
			return err
		}
		go func(w int, seq uint64) { errc <- worker(ctx, e, acks, w, seq, lie) }(w, binary.LittleEndian.Uint64(b))
	}
	// Checkpoints on top of the automatic ones, so that kills land in them.
	go func() {
		for {
			time.Sleep(time.Duration(5+rng.IntN(30)) * time.Millisecond)
			if _, err := e.Checkpoint(ctx); err != nil {
				errc <- fmt.Errorf("checkpoint: %w", err)
				return
			}
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-time.After(childLifetime):
		return errors.New("not killed in time (is the parent gone?)")
	}
}

// worker commits batches seq+1, seq+2, ... for worker w, acknowledging each
// one in the ack file once Commit has returned.
//
// A lying worker (the negative control) acknowledges the next batch with
// the LSNs it will get (one worker: the bus's next four), then holds the
// commit back until it is killed, so every kill lands between the
// acknowledgement and the commit and the checker must report a lost batch.
func worker(ctx context.Context, e *mmsb.Bus, acks *ackFile, w int, seq uint64, lie bool) error {
	ds := make([]delta.Delta, pagesPerWorker)
	for {
		seq++
		for j := range ds {
			ds[j] = delta.Delta{Page: pageID(w, j), Runs: []delta.Run{{Data: content(w, seq, j)}}}
		}
		if lie {
			first := e.LastLSN() + 1
			line := fmt.Sprintf("A %d %d %d %d %08x\n", w, seq, first, first+pagesPerWorker-1, batchSum(w, seq))
			if err := acks.write(line); err != nil {
				return err
			}
			time.Sleep(childLifetime)
		}
		info, err := e.Commit(ctx, ds)
		if err != nil {
			return fmt.Errorf("worker %d batch %d: %w", w, seq, err)
		}
		line := fmt.Sprintf("A %d %d %d %d %08x\n", w, seq, info.FirstLSN, info.LastLSN, batchSum(w, seq))
		if err := acks.write(line); err != nil {
			return err
		}
	}
}

// ackFile is the child's record of acknowledged commits: one line each,
// appended and fsynced after Commit returned.
type ackFile struct {
	mu sync.Mutex
	f  *os.File
}

// openAcks opens the ack file for appending, first cutting a partial last
// line (the previous child was killed while writing it: that commit counts
// as unacknowledged).
func openAcks(path string) (*ackFile, error) {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	keep := bytes.LastIndexByte(data, '\n') + 1
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(int64(keep)); err != nil {
		return nil, err
	}
	if _, err := f.Seek(int64(keep), 0); err != nil {
		return nil, err
	}
	return &ackFile{f: f}, nil
}

func (a *ackFile) write(line string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.f.WriteString(line); err != nil {
		return err
	}
	return a.f.Sync()
}

// ack is one acknowledged batch.
type ack struct {
	worker      int
	seq         uint64
	first, last mmsb.LSN
	sum         uint32
}

// readAcks parses the ack file: whether page creation was acknowledged, and
// every acknowledged batch. Only a partial last line may be malformed.
func readAcks(path string) (created bool, acks []ack, err error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "C" {
			created = true
			continue
		}
		var a ack
		var sum string
		if _, err := fmt.Sscanf(line, "A %d %d %d %d %s", &a.worker, &a.seq, &a.first, &a.last, &sum); err != nil {
			return false, nil, fmt.Errorf("ack file line %d %q: %w", n, line, err)
		}
		v, err := strconv.ParseUint(sum, 16, 32)
		if err != nil {
			return false, nil, fmt.Errorf("ack file line %d %q: %w", n, line, err)
		}
		a.sum = uint32(v)
		acks = append(acks, a)
	}
	return created, acks, sc.Err()
}

// chain is what the parent knows about one data directory across the
// children that ran on it.
type chain struct {
	dir       string
	recovered [maxWorkers]uint64 // batch each worker's pages showed at the last check
	seenAcks  int                // ack lines already checked by an earlier check
}

// stats is the suite's summary.
type stats struct {
	iterations, torn, checkpoints int
	maxLSN                        mmsb.LSN
	// verified counts, per sync mode of the child that wrote them, the
	// acknowledged batches that a check found in the recovered state.
	verified map[mmsb.SyncMode]int
	ran      map[mmsb.SyncMode]int // iterations per sync mode
}

func newStats() *stats {
	return &stats{verified: map[mmsb.SyncMode]int{}, ran: map[mmsb.SyncMode]int{}}
}

func TestCrash(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("crash seed %d (rerun with -crash.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	root := t.TempDir()
	st := newStats()
	var ch *chain
	const chainLength = 10 // children per directory before starting afresh
	for i := 0; i < *iterations; i++ {
		if i%chainLength == 0 {
			ch = &chain{dir: filepath.Join(root, fmt.Sprintf("run%03d", i/chainLength))}
			if err := os.MkdirAll(ch.dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		mode := mmsb.SyncAlways
		if i%2 == 1 {
			mode = mmsb.SyncGroup
		}
		delay := minKill + time.Duration(rng.Int64N(int64(maxKill-minKill)))
		// runAndKill fails the test unless SIGKILL is what ended the
		// child, so every iteration is a kill.
		out := runAndKill(t, ch.dir, mode, rng.Uint64(), afterDelay(delay))
		st.iterations++
		st.ran[mode]++
		if err := check(ch, mode, st); err != nil {
			t.Fatalf("iteration %d (%s sync, killed after %v, dir %s): %v\nchild output:\n%s", i, mode, delay, ch.dir, err, out)
		}
	}
	summary := fmt.Sprintf("crash: %d iterations, each ended by SIGKILL; acknowledged batches verified: %d (always), %d (group); %d torn tails truncated, %d checkpoints on disk checked, max recovered LSN %d (seed %d)",
		st.iterations, st.verified[mmsb.SyncAlways], st.verified[mmsb.SyncGroup], st.torn, st.checkpoints, st.maxLSN, seed)
	t.Log(summary)
	fmt.Println(summary)
	if err := st.requireVerified(); err != nil {
		t.Fatal(err)
	}
}

// requireVerified fails a run in which some sync mode ran but no batch its
// children acknowledged was ever checked against a recovered state: every
// check would then have passed without testing the durability promise
// (children killed before their first commit, or acks not being read).
//
// A run in which no child ran at all (-crash.iterations=0 or negative)
// checked nothing and fails too: it passed, printing "0 iterations".
func (st *stats) requireVerified() error {
	ran := 0
	for _, n := range st.ran {
		ran += n
	}
	if ran == 0 {
		return errors.New("no child ran (-crash.iterations < 1): nothing was killed or checked")
	}
	var missing []string
	for _, mode := range []mmsb.SyncMode{mmsb.SyncAlways, mmsb.SyncGroup, mmsb.SyncNone} {
		if st.ran[mode] > 0 && st.verified[mode] == 0 {
			missing = append(missing, fmt.Sprintf("%s (%d iterations)", mode, st.ran[mode]))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no acknowledged batch was verified after a kill in sync mode %s", strings.Join(missing, ", "))
	}
	return nil
}

// killWhen returns a channel that fires when the child is to be killed. It
// stops watching once done is closed.
type killWhen func(dir string, done <-chan struct{}) <-chan struct{}

// afterDelay kills after a fixed delay.
func afterDelay(d time.Duration) killWhen {
	return func(string, <-chan struct{}) <-chan struct{} {
		c := make(chan struct{})
		time.AfterFunc(d, func() { close(c) })
		return c
	}
}

// afterFirstAck kills once the ack file holds an acknowledged batch.
func afterFirstAck(dir string, done <-chan struct{}) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		for {
			if _, acks, _ := readAcks(filepath.Join(dir, ackName)); len(acks) > 0 {
				close(c)
				return
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return c
}

// runAndKill starts a child on dir, kills it with SIGKILL when `when` says,
// and returns its output. It fails the test if the child ended in any other
// way. extraEnv is added to the child's environment.
func runAndKill(t *testing.T, dir string, mode mmsb.SyncMode, seed uint64, when killWhen, extraEnv ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), envDir+"="+dir, envSync+"="+mode.String(), envSeed+"="+strconv.FormatUint(seed, 10))
	cmd.Env = append(cmd.Env, extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	done := make(chan struct{})
	defer close(done)
	select {
	case err := <-exited:
		t.Fatalf("child exited by itself before the kill (%v):\n%s", err, out.String())
	case <-when(dir, done):
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child exited by itself (%v), not by the kill:\n%s", err, out.String())
	}
	return out.String()
}

// check reopens the directory a killed child left and checks everything the
// suite promises. mode is the sync mode the child ran under. It updates ch
// and st.
func check(ch *chain, mode mmsb.SyncMode, st *stats) error {
	created, acks, err := readAcks(filepath.Join(ch.dir, ackName))
	if err != nil {
		return err
	}
	var lastAck [maxWorkers]*ack
	for i := range acks {
		a := &acks[i]
		if a.worker < 0 || a.worker >= maxWorkers {
			return fmt.Errorf("ack names worker %d", a.worker)
		}
		if a.sum != batchSum(a.worker, a.seq) {
			return fmt.Errorf("ack of worker %d batch %d: checksum %08x, want %08x", a.worker, a.seq, a.sum, batchSum(a.worker, a.seq))
		}
		if a.last-a.first+1 != pagesPerWorker {
			return fmt.Errorf("ack of worker %d batch %d: LSNs %d..%d for %d deltas", a.worker, a.seq, a.first, a.last, pagesPerWorker)
		}
		if p := lastAck[a.worker]; p != nil && a.seq <= p.seq {
			return fmt.Errorf("worker %d acknowledged batch %d after batch %d", a.worker, a.seq, p.seq)
		}
		lastAck[a.worker] = a
	}
	dir := filepath.Join(ch.dir, busName)
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if created || len(acks) > 0 {
			return errors.New("page creation acknowledged but the bus directory is gone")
		}
		return nil // killed before Open made anything
	}
	e, err := mmsb.Open(dir, &mmsb.Options{Sync: mmsb.SyncGroup, SegmentBytes: segmentBytes, CheckpointBytes: -1})
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	defer e.Close()
	rec := e.Recovery()
	if rec.Log.TornBytes > 0 {
		st.torn++
	}
	if len(rec.SkippedCheckpoint) > 0 {
		return fmt.Errorf("a kill left a checkpoint that does not load: %v", rec.SkippedCheckpoint)
	}
	if rec.Log.RepairedFile != "" {
		return fmt.Errorf("recovery repaired without Options.Repair: %+v", rec.Log)
	}
	last := e.LastLSN()
	st.maxLSN = max(st.maxLSN, last)
	if _, err := e.Page(pageID(0, 0)); errors.Is(err, mmsb.ErrPageNotFound) {
		if created {
			return errors.New("page creation acknowledged but the pages are missing")
		}
		if len(acks) > 0 {
			return fmt.Errorf("%d batches acknowledged but the pages are missing", len(acks))
		}
		if ids, err := e.PageIDs(); err != nil || len(ids) != 0 {
			return fmt.Errorf("half-created pages: %v (%w)", ids, err)
		}
		return nil
	}
	for w := 0; w < maxWorkers; w++ {
		var seq uint64
		for j := 0; j < pagesPerWorker; j++ {
			b, _, err := e.ReadPage(pageID(w, j), nil)
			if err != nil {
				return err
			}
			s := binary.LittleEndian.Uint64(b)
			if j == 0 {
				seq = s
			} else if s != seq {
				return fmt.Errorf("half-applied batch: worker %d page 0 shows batch %d, page %d shows batch %d", w, seq, j, s)
			}
			if !bytes.Equal(b, content(w, s, j)) {
				return fmt.Errorf("worker %d page %d does not hold what batch %d wrote", w, j, s)
			}
		}
		floor := ch.recovered[w]
		if a := lastAck[w]; a != nil {
			floor = max(floor, a.seq)
			if a.last > last {
				return fmt.Errorf("acknowledged LSN %d (worker %d batch %d) lost: log ends at %d", a.last, w, a.seq, last)
			}
		}
		if seq < floor {
			return fmt.Errorf("worker %d: recovered batch %d, but batch %d was acknowledged or recovered before", w, seq, floor)
		}
		if seq > floor+1 {
			return fmt.Errorf("worker %d: recovered batch %d, more than one past batch %d", w, seq, floor)
		}
		if a := lastAck[w]; a != nil && seq == a.seq {
			// The pages still hold the acknowledged batch: each was last
			// written at that batch's LSNs.
			for j := 0; j < pagesPerWorker; j++ {
				info, err := e.Page(pageID(w, j))
				if err != nil {
					return err
				}
				if want := a.first + mmsb.LSN(j); info.LastLSN != want {
					return fmt.Errorf("worker %d page %d last written at LSN %d, acknowledged at %d", w, j, info.LastLSN, want)
				}
			}
		}
		ch.recovered[w] = seq
	}
	// Every batch the child acknowledged is in the recovered state. (The
	// floor above implies it; counting them here shows how many
	// acknowledgements the run actually put to the test.)
	for _, a := range acks[ch.seenAcks:] {
		if a.seq > ch.recovered[a.worker] {
			return fmt.Errorf("worker %d batch %d acknowledged but the pages show batch %d", a.worker, a.seq, ch.recovered[a.worker])
		}
		st.verified[mode]++
	}
	ch.seenAcks = len(acks)
	for _, newest := range []bool{false, true} {
		rep, err := e.VerifyReplay(context.Background(), newest)
		if err != nil {
			return fmt.Errorf("VerifyReplay(newest=%v): %w", newest, err)
		}
		if !rep.Equal() {
			return fmt.Errorf("replay differs from the recovered state (newest=%v): %+v", newest, rep)
		}
	}
	if err := e.Close(); err != nil {
		return err
	}
	return offlineCheck(dir, st)
}

// offlineCheck runs the offline checks on a recovered, closed directory:
// the log has no problem at all and every checkpoint verifies.
func offlineCheck(dir string, st *stats) error {
	var problems []string
	if _, err := tlog.Check(vfs.Default, filepath.Join(dir, "wal"), nil, func(p tlog.Problem) {
		problems = append(problems, fmt.Sprintf("%s@%d: %s", p.File, p.Offset, p.Reason))
	}); err != nil {
		return fmt.Errorf("tlog.Check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("tlog.Check after recovery: %s", strings.Join(problems, "; "))
	}
	ckDir := filepath.Join(dir, "checkpoints")
	ckpts, err := checkpoint.List(vfs.Default, ckDir)
	if err != nil {
		return err
	}
	for _, c := range ckpts {
		if err := checkpoint.Verify(vfs.Default, c.Path); err != nil {
			return fmt.Errorf("checkpoint.Verify: %w", err)
		}
		st.checkpoints++
	}
	names, err := os.ReadDir(ckDir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasSuffix(n.Name(), ".tmp") {
			return fmt.Errorf("temporary checkpoint %s left after recovery", n.Name())
		}
	}
	return nil
}

// TestCrashCatchesEarlyAck is the negative control for the checker: a child
// that acknowledges a batch before committing it must be caught, while the
// same run with an honest child passes and verifies at least one
// acknowledged batch. Both children are killed once their first
// acknowledgement is on disk, so the outcome does not depend on timing.
func TestCrashCatchesEarlyAck(t *testing.T) {
	cases := []struct {
		name    string
		mode    mmsb.SyncMode
		env     []string
		wantErr string // "" for a passing check
	}{
		{"honest/always", mmsb.SyncAlways, nil, ""},
		{"honest/group", mmsb.SyncGroup, nil, ""},
		{"ack before commit/always", mmsb.SyncAlways, []string{envLie + "=" + lieAckBeforeCommit}, "lost"},
		{"ack before commit/group", mmsb.SyncGroup, []string{envLie + "=" + lieAckBeforeCommit}, "lost"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := &chain{dir: t.TempDir()}
			st := newStats()
			out := runAndKill(t, ch.dir, c.mode, 1, afterFirstAck, c.env...)
			st.ran[c.mode]++
			err := check(ch, c.mode, st)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("honest child failed the check: %v\nchild output:\n%s", err, out)
			case c.wantErr == "" && st.requireVerified() != nil:
				t.Fatalf("honest child: %v", st.requireVerified())
			case c.wantErr != "" && err == nil:
				t.Fatalf("a child that acknowledged before committing passed the check (%d acks verified)", st.verified[c.mode])
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("check error %q does not say %q", err, c.wantErr)
			}
			if err != nil {
				t.Logf("caught: %v", err)
			}
		})
	}
}

// TestRequireVerified: a run in which some sync mode verified no
// acknowledged batch fails, whichever mode it is.
func TestRequireVerified(t *testing.T) {
	A, G := mmsb.SyncAlways, mmsb.SyncGroup
	cases := []struct {
		name          string
		ran, verified map[mmsb.SyncMode]int
		ok            bool
	}{
		{"both modes verified", map[mmsb.SyncMode]int{A: 5, G: 5}, map[mmsb.SyncMode]int{A: 40, G: 90}, true},
		{"only always ran", map[mmsb.SyncMode]int{A: 1}, map[mmsb.SyncMode]int{A: 3}, true},
		{"nothing verified", map[mmsb.SyncMode]int{A: 5, G: 5}, map[mmsb.SyncMode]int{}, false},
		{"group verified nothing", map[mmsb.SyncMode]int{A: 5, G: 5}, map[mmsb.SyncMode]int{A: 40}, false},
		{"always verified nothing", map[mmsb.SyncMode]int{A: 5, G: 5}, map[mmsb.SyncMode]int{G: 40}, false},
		{"no iteration ran", map[mmsb.SyncMode]int{}, map[mmsb.SyncMode]int{}, false},
		{"no iteration ran (nil maps)", nil, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &stats{ran: c.ran, verified: c.verified}
			if err := st.requireVerified(); (err == nil) != c.ok {
				t.Fatalf("requireVerified = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
