package mmsb_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// Cross-process tests of shared mode. The test binary re-executes itself as
// a writer or reader child (TestSharedChild with MMSB_SHM_CHILD set); the
// parent checks each child's report line and exit status, so a child that
// runs no test (a renamed test, a bad -test.run) fails the test instead of
// passing silently.
//
// The payload copies are a deliberate race outside the Go memory model,
// between processes: -race cannot see it, so these tests are the check.

const (
	envChild = "MMSB_SHM_CHILD"
	envDir   = "MMSB_SHM_DIR"
	envShm   = "MMSB_SHM_SHM"
	envDur   = "MMSB_SHM_DUR"
)

// child is a running helper process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // closing it tells a writer child to finish
	lines  chan string    // stdout lines
	done   chan error     // Wait's result
	out    strings.Builder
	stderr bytes.Buffer // read only after done
}

func startChild(t *testing.T, run, mode, dir, shm string, dur time.Duration) *child {
	t.Helper()
	c := &child{lines: make(chan string, 1024), done: make(chan error, 1)}
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envDir+"="+dir, envShm+"="+shm, envDur+"="+dur.String())
	// Not os.Stderr: a child's "no tests to run" warning would make go
	// test label the parent's package that way.
	cmd.Stderr = &c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.cmd = cmd
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		if c.stderr.Len() > 0 {
			c.lines <- "stderr: " + c.stderr.String()
		}
		close(c.lines)
		c.done <- err
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return c
}

// expect waits for a line starting with prefix and returns it; it fails
// when the child's output ends first (the child ran no test or died).
func (c *child) expect(prefix string, within time.Duration) (string, error) {
	timeout := time.After(within)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return "", fmt.Errorf("child output ended before %q:\n%s", prefix, c.out.String())
			}
			c.out.WriteString(l + "\n")
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-timeout:
			return "", fmt.Errorf("no %q from child within %v:\n%s", prefix, within, c.out.String())
		}
	}
}

// wait returns the child's exit error after draining its output.
func (c *child) wait() error {
	for l := range c.lines {
		c.out.WriteString(l + "\n")
	}
	return <-c.done
}

// field returns the integer value of key=N in a report line.
func field(line, key string) int64 {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// TestSharedChild is the helper: it does nothing unless started by a
// parent test with MMSB_SHM_CHILD set.
func TestSharedChild(t *testing.T) {
	mode := os.Getenv(envChild)
	if mode == "" {
		t.Skip("helper process for the shared-memory tests")
	}
	dur, err := time.ParseDuration(os.Getenv(envDur))
	if err != nil {
		fmt.Println("FAIL bad duration:", err)
		os.Exit(2)
	}
	dir, shm := os.Getenv(envDir), os.Getenv(envShm)
	switch mode {
	case "writer":
		os.Exit(childWriter(dir, shm, dur))
	case "reader":
		os.Exit(childReader(dir, shm, dur))
	case "holder":
		os.Exit(childHolder(dir, shm))
	}
	fmt.Println("FAIL unknown mode", mode)
	os.Exit(2)
}

// tortureBase is how many 1 KiB pages the writer keeps; it also creates
// and frees extra pages as it goes (growth, frees, slot reuse).
const tortureBase = 64

// childWriter commits batches in which every delta rewrites a whole 1 KiB
// page with one counter value in every 8-byte word.
func childWriter(dir, shm string, dur time.Duration) int {
	ctx := context.Background()
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm, Sync: mmsb.SyncNone, CheckpointBytes: -1})
	if err != nil {
		fmt.Println("FAIL open:", err)
		return 1
	}
	infos, _ := bus.Pages()
	ids := make([]mmsb.PageID, 0, len(infos))
	for _, p := range infos {
		ids = append(ids, p.ID)
	}
	if len(ids) == 0 {
		specs := make([]mmsb.PageSpec, tortureBase)
		for i := range specs {
			specs[i].Size = 1024
		}
		if ids, err = bus.CreatePages(ctx, specs); err != nil {
			fmt.Println("FAIL create:", err)
			return 1
		}
	}
	fmt.Println("READY pages", len(ids))
	// The parent closes stdin when it is done reading: the writer must
	// outlast the readers however slow the machine (dur only bounds it).
	var stop atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	var extra []mmsb.PageID
	counter := uint64(1)
	commits := 0
	end := time.Now().Add(dur)
	for !stop.Load() && time.Now().Before(end) {
		ds := make([]mmsb.Delta, 16)
		for i := range ds {
			ds[i] = mmsb.Write(ids[rng.IntN(len(ids))], 0, uniformPage(1024, counter))
			counter++
		}
		if _, err := bus.Commit(ctx, ds); err != nil {
			fmt.Println("FAIL commit:", err)
			return 1
		}
		commits++
		if commits%20 == 0 {
			// Growth, frees and slot/cell reuse while readers read.
			id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 1024})
			if err != nil {
				fmt.Println("FAIL create:", err)
				return 1
			}
			extra = append(extra, id)
			if len(extra) > 8 {
				if err := bus.FreePage(ctx, extra[0]); err != nil {
					fmt.Println("FAIL free:", err)
					return 1
				}
				extra = extra[1:]
			}
		}
		if commits%100 == 0 {
			fmt.Println("PROGRESS commits", commits)
		}
	}
	if err := bus.Close(); err != nil {
		fmt.Println("FAIL close:", err)
		return 1
	}
	fmt.Printf("DONE commits=%d\n", commits)
	return 0
}

// readerStats counts what a torture reader did and saw.
type readerStats struct {
	reads, views, snaps, notFound, torn, lsnBack, snapBad int64
}

func (s readerStats) String() string {
	return fmt.Sprintf("reads=%d views=%d snaps=%d notfound=%d torn=%d lsnback=%d snapbad=%d",
		s.reads, s.views, s.snaps, s.notFound, s.torn, s.lsnBack, s.snapBad)
}

// tortureRead reads, views and snapshots the pages for dur, checking every
// page for torn words, the committed LSN for monotonicity and snapshots
// for one LSN. It stops early on an error other than ErrPageNotFound.
func tortureRead(rd *mmsb.Reader, dur time.Duration) (readerStats, error) {
	var st readerStats
	var buf []byte
	var snap []mmsb.SnapshotPage
	var last mmsb.LSN
	end := time.Now().Add(dur)
	for round := 0; time.Now().Before(end); round++ {
		l := rd.LastLSN()
		if l < last {
			st.lsnBack++
		}
		last = l
		ids, err := rd.Pages()
		if err != nil {
			return st, err
		}
		for _, id := range ids {
			data, _, _, err := rd.ReadPage(id, buf[:0])
			switch {
			case errors.Is(err, mmsb.ErrPageNotFound):
				st.notFound++
				continue
			case err != nil:
				return st, err
			}
			buf = data
			st.reads++
			if tornAt(data) >= 0 {
				st.torn++
			}
			err = rd.View(id, func(b []byte) error {
				if tornAt(b) >= 0 {
					return errTorn
				}
				return nil
			})
			switch {
			case errors.Is(err, errTorn):
				st.torn++ // only reported from a consistent call
			case errors.Is(err, mmsb.ErrPageNotFound):
				st.notFound++
			case err != nil:
				return st, err
			default:
				st.views++
			}
		}
		if len(ids) >= tortureBase {
			snap, at, err := rd.SnapshotInto(ids[:tortureBase], snap)
			switch {
			case errors.Is(err, mmsb.ErrPageNotFound), errors.Is(err, mmsb.ErrSnapshotBusy):
			case err != nil:
				return st, err
			default:
				st.snaps++
				for _, p := range snap {
					if p.LSN > at || tornAt(p.Data) >= 0 {
						st.snapBad++
					}
				}
				if at > rd.LastLSN() {
					st.snapBad++
				}
			}
		}
	}
	return st, nil
}

var errTorn = errors.New("torn page")

func openReaderRetry(dir, shm string, within time.Duration) (*mmsb.Reader, error) {
	end := time.Now().Add(within)
	for {
		rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
		if err == nil || time.Now().After(end) {
			return rd, err
		}
		time.Sleep(time.Millisecond)
	}
}

func childReader(dir, shm string, dur time.Duration) int {
	rd, err := openReaderRetry(dir, shm, 10*time.Second)
	if err != nil {
		fmt.Println("FAIL open reader:", err)
		return 1
	}
	fmt.Println("ATTACHED")
	st, err := tortureRead(rd, dur)
	if err != nil {
		fmt.Println("FAIL read:", err, st)
		return 1
	}
	_ = rd.Close()
	fmt.Println("READER", st)
	if st.torn != 0 || st.lsnBack != 0 || st.snapBad != 0 || st.reads == 0 {
		return 1
	}
	return 0
}

// childHolder attaches a Reader, reads every page once and keeps it
// attached until its stdin closes.
func childHolder(dir, shm string) int {
	rd, err := openReaderRetry(dir, shm, 10*time.Second)
	if err != nil {
		fmt.Println("FAIL open reader:", err)
		return 1
	}
	ids, err := rd.Pages()
	for _, id := range ids {
		if err == nil {
			_, _, _, err = rd.ReadPage(id, nil)
		}
	}
	if err != nil {
		fmt.Println("FAIL read:", err)
		return 1
	}
	fmt.Println("ATTACHED pages", len(ids))
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := rd.Close(); err != nil {
		fmt.Println("FAIL close:", err)
		return 1
	}
	fmt.Println("DETACHED")
	return 0
}

const childRun = "^TestSharedChild$"

// TestSharedTorture: one writer process, two reader processes and the
// parent read concurrently; no torn page, no LSN going back, snapshots at
// one LSN. A third reader is stopped and then killed midway: the writer
// and the others carry on.
func TestSharedTorture(t *testing.T) { runTorture(t, 700*time.Millisecond) }

// runTorture runs TestSharedTorture's processes for about 3*tortureDuration
// (TestSharedTortureLong, build tag stress, runs it longer).
func runTorture(t *testing.T, tortureDuration time.Duration) {
	dir, shm := t.TempDir(), shmTestDir(t)
	w := startChild(t, childRun, "writer", dir, shm, time.Hour) // until its stdin closes
	if _, err := w.expect("READY", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	readers := []*child{
		startChild(t, childRun, "reader", dir, shm, tortureDuration),
		startChild(t, childRun, "reader", dir, shm, tortureDuration),
	}
	victim := startChild(t, childRun, "reader", dir, shm, 10*tortureDuration)
	for _, r := range append(readers, victim) {
		if _, err := r.expect("ATTACHED", 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	rd, err := openReaderRetry(dir, shm, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	// Stop, then kill, a reader mid-run: it holds nothing the writer or
	// other readers need.
	if err := victim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	st, err := tortureRead(rd, tortureDuration/2)
	if err != nil {
		t.Fatal(err)
	}
	_ = victim.cmd.Process.Kill()
	_ = victim.wait()
	before := rd.LastLSN()
	st2, err := tortureRead(rd, tortureDuration/2)
	if err != nil {
		t.Fatal(err)
	}
	if after := rd.LastLSN(); after <= before {
		t.Errorf("writer made no progress after a reader was killed: LSN %d -> %d", before, after)
	}
	t.Logf("parent: %v | %v", st, st2)
	for _, s := range []readerStats{st, st2} {
		if s.torn != 0 || s.lsnBack != 0 || s.snapBad != 0 || s.reads == 0 {
			t.Errorf("parent reader: %v", s)
		}
	}
	for i, r := range readers {
		line, err := r.expect("READER", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("reader %d: %s", i, line)
		if err := r.wait(); err != nil {
			t.Errorf("reader %d exited with %v:\n%s", i, err, r.out.String())
		}
		if field(line, "reads") <= 0 || field(line, "torn") != 0 {
			t.Errorf("reader %d: %s", i, line)
		}
	}
	_ = w.stdin.Close()
	line, err := w.expect("DONE", 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.wait(); err != nil {
		t.Fatalf("writer exited with %v:\n%s", err, w.out.String())
	}
	t.Logf("writer: %s", line)
}

// TestSharedChildMustRun is the negative control of the harness: a child
// started with a -test.run that matches no test prints no READY, and
// expect reports it.
func TestSharedChildMustRun(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	c := startChild(t, "^TestNoSuchTest$", "writer", dir, shm, time.Second)
	if _, err := c.expect("READY", 30*time.Second); err == nil {
		t.Fatal("a child that ran no test was taken as ready")
	}
}

// TestSharedWriterKilled: the writer is SIGKILLed mid-run. A reader gets
// ErrWriterGone in bounded time and never a torn page; a reader whose
// liveness checks are off gets ErrStale once a new writer recovers the
// bus; a new reader then sees the recovered state, equal to a replay.
func TestSharedWriterKilled(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	w := startChild(t, childRun, "writer", dir, shm, time.Hour)
	if _, err := w.expect("PROGRESS", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	blind, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm, LivenessInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer blind.Close()
	if _, err := tortureRead(rd, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = w.wait()
	// Bounded: LivenessInterval is 10ms; 10s only guards a hang.
	st, err := tortureRead(rd, 10*time.Second)
	if !errors.Is(err, mmsb.ErrWriterGone) {
		t.Fatalf("after SIGKILL: %v (%v)", err, st)
	}
	if st.torn != 0 || st.snapBad != 0 {
		t.Fatalf("after SIGKILL: %v", st)
	}
	ids, err := blind.Pages()
	if err != nil || len(ids) == 0 {
		t.Fatalf("blind reader before recovery: %d pages, %v", len(ids), err)
	}

	bus := openShared(t, dir, shm)
	defer bus.Close()
	if _, _, _, err := blind.ReadPage(ids[0], nil); !errors.Is(err, mmsb.ErrStale) {
		t.Fatalf("old-generation reader after recovery: %v", err)
	}
	rd2, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer rd2.Close()
	if rd2.Stats().Generation == blind.Stats().Generation {
		t.Error("generation unchanged by a new writer")
	}
	pages, err := bus.Pages()
	if err != nil {
		t.Fatal(err)
	}
	rpages, err := rd2.Pages()
	if err != nil || len(rpages) != len(pages) {
		t.Fatalf("reader sees %d pages, bus %d (%v)", len(rpages), len(pages), err)
	}
	for _, p := range pages {
		id := p.ID
		want, wep, _ := bus.ReadPage(id, nil)
		got, ep, _, err := rd2.ReadPage(id, nil)
		if err != nil || ep != wep || string(got) != string(want) {
			t.Fatalf("page %d after recovery: reader epoch %d, bus %d, %v", id, ep, wep, err)
		}
	}
	rep, err := bus.VerifyReplay(context.Background(), false)
	if err != nil || !rep.Equal() {
		t.Fatalf("replay of the recovered bus: %v %v", rep, err)
	}
}
