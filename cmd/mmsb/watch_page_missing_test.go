package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// noteWriter collects what is written and closes seen at the first write
// that holds want.
type noteWriter struct {
	want string
	mu   sync.Mutex
	b    strings.Builder
	seen chan struct{}
}

func (w *noteWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.b.String(), w.want)
	w.b.Write(p)
	if !had && strings.Contains(w.b.String(), w.want) {
		close(w.seen)
	}
	return len(p), nil
}

func (w *noteWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestSharedWatchSaysPageMissing: watch --page N of a page that does not
// exist says so on stderr, once, and goes on waiting for it: created, it
// is printed as any change. It waited in silence, as for a page that
// never changes.
func TestSharedWatchSaysPageMissing(t *testing.T) {
	dir, shm := t.TempDir(), shmDirForTest(t)
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout strings.Builder
	stderr := &noteWriter{want: "page 1 does not exist (yet): waiting for it to be created", seen: make(chan struct{})}
	exited := make(chan int, 1)
	go func() {
		// Page 1 twice: still said once.
		exited <- run(ctx, []string{"watch", dir, "--page", "1", "--page", "1", "--count", "1", "--shm-dir", shm}, &stdout, stderr)
	}()
	select {
	case <-stderr.seen:
	case code := <-exited:
		t.Fatalf("watch exited (%d) before it said page 1 is missing:\n%s", code, stderr.String())
	case <-time.After(60 * time.Second): // a guard against a hang, not a bound
		cancel()
		<-exited
		t.Fatalf("watch never said page 1 is missing:\n%s", stderr.String())
	}
	id, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8})
	if err != nil || id != 1 {
		t.Fatalf("created page %d (%v), want page 1", id, err)
	}
	if code := waitExit(t, cancel, exited, stderr); code != exitOK {
		t.Fatalf("exit status %d, want %d\nstderr:\n%s", code, exitOK, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "lsn=") || !strings.Contains(stdout.String(), "page=1 ") {
		t.Errorf("the created page is not printed: %q", stdout.String())
	}
	if n := strings.Count(stderr.String(), stderr.want); n != 1 {
		t.Errorf("said %d times that page 1 is missing, want once:\n%s", n, stderr.String())
	}
}

// TestSharedWatchSaysMissingPagesInOneNote: several --page that do not
// exist are said in one note naming each once, where each had a line of
// its own; a page that exists is not named.
func TestSharedWatchSaysMissingPagesInOneNote(t *testing.T) {
	dir, shm := t.TempDir(), shmDirForTest(t)
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if id, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8}); err != nil || id != 1 {
		t.Fatalf("created page %d (%v), want page 1", id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout strings.Builder
	stderr := &noteWriter{want: "note: pages 3, 2 do not exist (yet): waiting for them to be created\n", seen: make(chan struct{})}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"watch", dir, "--page", "3", "--page", "1", "--page", "2", "--page", "3", "--count", "1", "--shm-dir", shm}, &stdout, stderr)
	}()
	select {
	case <-stderr.seen:
	case code := <-exited:
		t.Fatalf("watch exited (%d) before it said pages 3 and 2 are missing:\n%s", code, stderr.String())
	case <-time.After(60 * time.Second): // a guard against a hang, not a bound
		cancel()
		<-exited
		t.Fatalf("watch never said pages 3 and 2 are missing:\n%s", stderr.String())
	}
	if _, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cancel, exited, stderr); code != exitOK {
		t.Fatalf("exit status %d, want %d\nstderr:\n%s", code, exitOK, stderr.String())
	}
	if n := strings.Count(stderr.String(), "does not exist") + strings.Count(stderr.String(), "do not exist"); n != 1 {
		t.Errorf("%d notes of missing pages, want one:\n%s", n, stderr.String())
	}
}

// waitExit waits for watch to end after the change it waits for was made.
// A watch that missed the change waits for ever: the guard cancels it and
// fails the test (it hung the package's tests for 30 minutes in CI).
func waitExit(t *testing.T, cancel context.CancelFunc, exited <-chan int, stderr fmt.Stringer) int {
	t.Helper()
	select {
	case code := <-exited:
		return code
	case <-time.After(60 * time.Second): // a guard against a hang, not a bound
		cancel()
		<-exited
		t.Fatalf("watch did not print the change made after it started:\n%s", stderr.String())
		return 0
	}
}

// createOnNote is a stderr that creates a page, from inside the write,
// when watch says a page is missing: the commit lands before watch has
// taken the LSN it waits past, every time.
type createOnNote struct {
	noteWriter
	bus *mmsb.Bus
	err error
}

func (w *createOnNote) Write(p []byte) (int, error) {
	n, err := w.noteWriter.Write(p)
	if strings.Contains(string(p), w.want) {
		_, w.err = w.bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8})
	}
	return n, err
}

// TestSharedWatchSeesCommitAfterFirstLook: a commit made between watch's
// first look at its pages and its first wait is printed. Watch took the
// LSN to wait past after the first look (and the missing-page note), so
// such a commit counted as seen and watch --count 1 waited for ever (the
// CI hang of TestSharedWatchSaysMissingPagesInOneNote, made certain
// here by committing from inside the note's write).
func TestSharedWatchSeesCommitAfterFirstLook(t *testing.T) {
	dir, shm := t.TempDir(), shmDirForTest(t)
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout strings.Builder
	stderr := &createOnNote{noteWriter: noteWriter{want: "page 1 does not exist (yet)", seen: make(chan struct{})}, bus: bus}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"watch", dir, "--page", "1", "--count", "1", "--shm-dir", shm}, &stdout, stderr)
	}()
	if code := waitExit(t, cancel, exited, stderr); code != exitOK {
		t.Fatalf("exit status %d, want %d\nstderr:\n%s", code, exitOK, stderr.String())
	}
	if stderr.err != nil {
		t.Fatal(stderr.err)
	}
	if !strings.Contains(stdout.String(), "page=1 ") {
		t.Errorf("the page created after the first look is not printed: %q", stdout.String())
	}
}
