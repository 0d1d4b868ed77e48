//go:build linux

package page

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// Tests of the writer's use of tmpfs space: a full tmpfs must be an
// ErrNoSpace error, never a SIGBUS (a store write to a file page the tmpfs
// cannot allocate), and the writer must not allocate what it never uses.

// envShmFull names the tmpfs the child of TestShmFullTmpfs works on.
const envShmFull = "MMSB_PAGE_SHM_FULL"

// TestShmFullTmpfs guards a writer whose tmpfs fills up. The store wrote
// its slot arrays (ids, vers, cells, seq), the chunk table and the header
// through shared mappings of sparse files: on a full tmpfs the kernel
// cannot back the page written and sends SIGBUS, which killed the writer
// (the child died "signal: bus error" in CreateAt, about 21,000 8-byte
// pages into a 1 MiB tmpfs). Now the store reserves file space before it
// writes there, so Create fails with ErrNoSpace, the pages already
// created stay readable and Close works; NewShared on a tmpfs with no
// room left fails the same way and leaves no directory behind.
//
// It needs a small tmpfs of its own, so it runs as root (mount) and skips
// elsewhere (fails under MMSB_REQUIRE_EXTERNAL=1: CI runs it as root). The store runs in a child process (this test binary again):
// before the fix a SIGBUS killed the process, which must fail the test
// rather than the whole package; a child that runs no test prints no
// RESULT line and fails it too.
func TestShmFullTmpfs(t *testing.T) {
	if mnt := os.Getenv(envShmFull); mnt != "" {
		fullTmpfsChild(mnt)
		return
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
		testutil.Missing(t, "needs a private tmpfs (root): mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	cmd := exec.Command(os.Args[0], "-test.run=^TestShmFullTmpfs$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envShmFull+"="+mnt)
	out, err := cmd.CombinedOutput()
	var result string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			result = l
		}
	}
	if err != nil || !strings.HasPrefix(result, "ok") {
		t.Fatalf("child: %v, result %q; output:\n%s", err, result, firstLines(out, 12))
	}
	t.Log(result)
}

// firstLines returns the first n lines of out (a crashed child's trace is
// long; its first lines name the signal and the function).
func firstLines(out []byte, n int) string {
	ls := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	return strings.Join(ls[:min(n, len(ls))], "\n")
}

// fullTmpfsChild is TestShmFullTmpfs's child: it prints one RESULT line.
func fullTmpfsChild(mnt string) {
	res := func(format string, args ...any) { fmt.Printf("RESULT "+format+"\n", args...) }
	// Default policy (pre-faulted chunks), small pages: the slot arrays
	// run out of room first.
	s, err := NewShared(filepath.Join(mnt, "a"), 0o600, 1, uint64(os.Getpid()), 0)
	if err != nil {
		res("fail NewShared on an empty tmpfs: %v", err)
		return
	}
	var id base.PageID
	var createErr error
	for id = 1; ; id++ {
		sl, err := s.CreateAt(id, 8, base.LocationCPU, uint64(id))
		if err != nil {
			if !errors.Is(err, ErrNoSpace) {
				res("fail create %d: %v, want ErrNoSpace", id, err)
				return
			}
			createErr = err
			break
		}
		s.Bytes(sl)[0] = byte(id)
		if id > 1<<20 {
			res("fail: %d pages created in a 1 MiB tmpfs", id)
			return
		}
	}
	created := id - 1
	for id := base.PageID(1); id <= created; id++ {
		sl, ok := s.Lookup(id)
		if !ok || s.Bytes(sl)[0] != byte(id) {
			res("fail page %d after the failed create: found %v", id, ok)
			return
		}
	}
	if err := s.Close(); err != nil {
		res("fail Close: %v", err)
		return
	}
	// 1 KiB pages: their first chunk (4 MiB) cannot be pre-faulted.
	s, err = NewShared(filepath.Join(mnt, "c"), 0o600, 1, uint64(os.Getpid()), 0)
	if err != nil {
		res("fail NewShared after Close: %v", err)
		return
	}
	_, chunkErr := s.CreateAt(1, 1024, base.LocationCPU, 1)
	if !errors.Is(chunkErr, ErrNoSpace) || !strings.Contains(chunkErr.Error(), "tmpfs") {
		res("fail create of a page whose chunk does not fit: %v, want ErrNoSpace naming the tmpfs", chunkErr)
		return
	}
	if err := s.Close(); err != nil {
		res("fail Close: %v", err)
		return
	}
	// The same with lazy page memory: nothing pre-faults the chunk, so
	// its bytes are allocated (fallocate) when it is made. Without that
	// the create succeeded and the writes below raised SIGBUS about 1 MiB
	// into the 4 MiB chunk.
	s, err = NewShared(filepath.Join(mnt, "d"), 0o600, 1, uint64(os.Getpid()), 0)
	if err != nil {
		res("fail NewShared for the lazy store: %v", err)
		return
	}
	s.SetMemoryPolicy(MemoryPolicy{})
	var lazyErr error
	for id := base.PageID(1); id <= 4096; id++ {
		sl, err := s.CreateAt(id, 1024, base.LocationCPU, uint64(id))
		if err != nil {
			lazyErr = err
			break
		}
		s.Bytes(sl)[1023] = byte(id)
	}
	if !errors.Is(lazyErr, ErrNoSpace) {
		res("fail lazy creates of 4096 pages of 1 KiB (4 MiB) in a 1 MiB tmpfs: %v, want ErrNoSpace", lazyErr)
		return
	}
	if err := s.Close(); err != nil {
		res("fail Close of the lazy store: %v", err)
		return
	}
	// Fill the tmpfs, then open a store on it.
	f, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		res("fail filler: %v", err)
		return
	}
	for _, err = f.Write(make([]byte, 4096)); err == nil; _, err = f.Write(make([]byte, 4096)) {
	}
	_ = f.Close()
	_, err = NewShared(filepath.Join(mnt, "b"), 0o600, 1, uint64(os.Getpid()), 0)
	if !errors.Is(err, ErrNoSpace) {
		res("fail NewShared on a full tmpfs: %v, want ErrNoSpace", err)
		return
	}
	if _, serr := os.Stat(filepath.Join(mnt, "b")); !errors.Is(serr, os.ErrNotExist) {
		res("fail: failed NewShared left its directory: %v", serr)
		return
	}
	res("ok %d pages, then: %v; chunk: %v; lazy: %v; full: %v", created, createErr, chunkErr, lazyErr, err)
}

// TestNewSharedFailureBeforeHeader guards NewShared's cleanup when the
// header file cannot be made (here: the process is out of file
// descriptors, as a busy server can be). Its error path closed the
// half-built store, and Close wrote the header's counters through a
// header that was never mapped: "index out of range [56] with length 0",
// a panic out of Open. Now it returns the error and removes the directory.
func TestNewSharedFailureBeforeHeader(t *testing.T) {
	root := t.TempDir()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// The lowest free descriptor: with the soft limit there, the next
	// open fails with EMFILE.
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	low := f.Fd()
	_ = f.Close()
	dir := filepath.Join(root, "region")
	var nerr error
	func() {
		tight := lim
		tight.Cur = uint64(low)
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &tight); err != nil {
			testutil.Missing(t, "setrlimit: %v", err)
		}
		defer func() {
			if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
				t.Errorf("restore RLIMIT_NOFILE: %v", err)
			}
		}()
		defer func() {
			if p := recover(); p != nil {
				nerr = fmt.Errorf("panic: %v", p)
			}
		}()
		var s *Store
		if s, nerr = NewShared(dir, 0o600, 1, uint64(os.Getpid()), 0); nerr == nil {
			_ = s.Close()
		}
	}()
	if nerr == nil || strings.HasPrefix(nerr.Error(), "panic") || !errors.Is(nerr, syscall.EMFILE) {
		t.Fatalf("NewShared without a free descriptor: %v, want an EMFILE error", nerr)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("failed NewShared left %s: %v", dir, err)
	}
}

// allocated returns the bytes of tmpfs (or disk) space file f holds.
func allocated(t *testing.T, f *os.File) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// TestShmChunkTableStaysSparse guards the chunk table's space. It is a
// 16 MiB sparse file of which a writer uses a few entries; Reset and
// Close cleared all of it with a memclr through the shared mapping,
// which made the tmpfs allocate all 16 MiB (4,096 page faults at every
// Close, just before the file is deleted, and a SIGBUS there when the
// tmpfs is full): "chunk table holds 16777216 bytes after Close". Only
// the entries in use are cleared now.
func TestShmChunkTableStaysSparse(t *testing.T) {
	for _, end := range []string{"Reset", "Close"} {
		s, _ := sharedStore(t)
		for id := base.PageID(1); id <= 4; id++ { // even IDs: chunks of their own
			if _, err := s.Create(id, 2<<20*int(id%2)+64, base.LocationCPU); err != nil {
				t.Fatal(err)
			}
		}
		// Held open: its space is still counted after Close deletes it.
		f, err := os.Open(filepath.Join(s.SharedDir(), shmChunkTab))
		if err != nil {
			t.Fatal(err)
		}
		before := allocated(t, f)
		if end == "Reset" {
			s.Reset()
		} else if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		after := allocated(t, f)
		_ = f.Close()
		if after > max(before, 64<<10) {
			t.Errorf("chunk table holds %d bytes after %s (%d before)", after, end, before)
		}
	}
}
