package page

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"golang.org/x/sys/unix"
)

// truncChildEnv makes the test binary run TestShmReaderTruncatedFile's
// child: the unguarded access to a truncated mapping.
const truncChildEnv = "MMSB_PAGE_TRUNC_CHILD"

// truncMarker is printed by the child just before its access.
const truncMarker = "child: reading the truncated chunk's mapping"

// truncatedRegion writes two pages with a writer, publishes the region,
// copies it to a directory of its own (so that truncating a file there
// never touches the writer's mappings, which its Close writes), opens a
// reader on the copy and reads page 1 once, so that its chunk is mapped
// and the fast view is current. It returns the reader and the copy.
func truncatedRegion(t *testing.T) (*ShmReader, string) {
	t.Helper()
	s, dir := sharedStore(t)
	for id := base.PageID(1); id <= 2; id++ {
		sl, err := s.CreateAt(id, 100, base.LocationCPU, 1)
		if err != nil {
			t.Fatal(err)
		}
		copy(s.Bytes(sl), bytes.Repeat([]byte{byte(id)}, 100))
	}
	if err := s.Publish(dir, 1); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(filepath.Dir(dir), "copy")
	if err := os.Mkdir(cp, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cp, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r, err := OpenShmReader(cp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	buf := make([]byte, 0, 100)
	if _, found, _, err := r.Read(1, func(b []byte) error { buf = append(buf[:0], b...); return nil }, 4); err != nil || !found || buf[0] != 1 {
		t.Fatalf("read before truncation: found %v, %v, % x", found, err, buf[:1])
	}
	if ok, _, err := r.TryRead(1, func([]byte) error { return nil }, nil); !ok || err != nil {
		t.Fatalf("TryRead before truncation: %v, %v", ok, err)
	}
	return r, cp
}

// chunkFile is the file name of page 1's chunk in r.
func chunkFile(t *testing.T, r *ShmReader) string {
	t.Helper()
	for i, c := range r.chunks {
		if c.gen != 0 {
			return ChunkFileName(uint32(i), c.gen)
		}
	}
	t.Fatal("no chunk mapped")
	return ""
}

// wantFault checks that err is ErrBadShared naming file.
func wantFault(t *testing.T, what string, err error, file string) {
	t.Helper()
	if !errors.Is(err, ErrBadShared) || !strings.Contains(err.Error(), "mapping of "+file) {
		t.Errorf("%s: %v, want ErrBadShared naming %s", what, err, file)
	}
}

// TestShmReaderTruncatedFile: a file of the region truncated under a
// mapped reader (by the region's owner) makes the reader's next access
// to it fault (SIGBUS). Every read path must report ErrBadShared, naming
// the file, and the process must live. The child process shows that the
// access does fault (it dies of SIGBUS after printing its marker), so that
// the checks below cannot pass because the truncation changed nothing.
func TestShmReaderTruncatedFile(t *testing.T) {
	if os.Getenv(truncChildEnv) == "raw" {
		r, cp := truncatedRegion(t)
		name := chunkFile(t, r)
		if err := os.Truncate(filepath.Join(cp, name), 0); err != nil {
			t.Fatal(err)
		}
		fmt.Println(truncMarker)
		for _, c := range r.chunks {
			if len(c.mem) > 0 {
				fmt.Println("child: read", c.mem[0]) // unguarded: must fault
			}
		}
		fmt.Println("child: survived")
		return
	}

	t.Run("child dies unguarded", func(t *testing.T) {
		// The child dies without its cleanups: its region goes in a
		// directory of this test's, removed here.
		root := testutil.ShmTempDir(t, "", "mmsb-page-test-child-")
		cmd := exec.Command(os.Args[0], "-test.run=^TestShmReaderTruncatedFile$", "-test.count=1")
		cmd.Env = append(os.Environ(), truncChildEnv+"=raw", shmTestRootEnv+"="+root)
		out, err := cmd.CombinedOutput()
		if left, _ := os.ReadDir(root); len(left) == 0 {
			t.Errorf("the child made no region in %s: it did not run the access checked below", root)
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("child: %v, want it to die of SIGBUS; output:\n%s", err, out)
		}
		i := bytes.Index(out, []byte(truncMarker))
		j := bytes.Index(out, []byte("signal SIGBUS"))
		if i < 0 || j < i || bytes.Contains(out, []byte("child: survived")) {
			t.Fatalf("child (%v) did not die of SIGBUS after its marker; output:\n%s", err, out)
		}
	})

	t.Run("chunk", func(t *testing.T) {
		r, cp := truncatedRegion(t)
		name := chunkFile(t, r)
		if err := os.Truncate(filepath.Join(cp, name), 0); err != nil {
			t.Fatal(err)
		}
		var got []byte
		copyFn := func(b []byte) error { got = append(got[:0], b...); return nil }
		var res SlotRead
		done, _, err := r.TryRead(1, copyFn, &res)
		if !done {
			t.Errorf("TryRead declined; want done with ErrBadShared")
		}
		wantFault(t, "TryRead", err, name)
		if err != nil && !strings.Contains(err.Error(), "read page 1") {
			t.Errorf("TryRead: %v does not name page 1", err)
		}
		_, found, _, err := r.Read(2, copyFn, 4)
		wantFault(t, "Read", err, name)
		if found {
			t.Error("Read reported the page found")
		}
		// IDs does not touch chunks: it still works.
		if ids, err := r.IDs(); err != nil || len(ids) != 2 {
			t.Errorf("IDs: %v, %v", ids, err)
		}
		if st := r.State(); st != ShmLive {
			t.Errorf("State %d", st)
		}
	})

	for _, file := range []string{shmIDs, shmSeq, shmCells, shmVers} {
		t.Run(file, func(t *testing.T) {
			r, cp := truncatedRegion(t)
			if err := os.Truncate(filepath.Join(cp, file), 0); err != nil {
				t.Fatal(err)
			}
			var res SlotRead
			done, _, err := r.TryRead(1, func([]byte) error { return nil }, &res)
			if !done {
				t.Errorf("TryRead declined; want done with ErrBadShared")
			}
			wantFault(t, "TryRead", err, file)
			_, _, _, err = r.Read(1, func([]byte) error { return nil }, 4)
			wantFault(t, "Read", err, file)
			if file == shmIDs || file == shmCells {
				ids, err := r.IDs()
				wantFault(t, "IDs", err, file)
				if ids != nil {
					t.Errorf("IDs returned %v with its error", ids)
				}
			}
		})
	}

	t.Run("header", func(t *testing.T) {
		r, cp := truncatedRegion(t)
		if err := os.Truncate(filepath.Join(cp, ShmHeaderFile), 0); err != nil {
			t.Fatal(err)
		}
		if st := r.State(); st != StateUnreadable {
			t.Errorf("State %d, want StateUnreadable", st)
		}
		wantFault(t, "Alive", r.Alive(), ShmHeaderFile)
		_, err := r.Header()
		wantFault(t, "Header", err, ShmHeaderFile)
		if l := r.LSN(); l != 0 {
			t.Errorf("LSN %d", l)
		}
		if l := r.FreeLSN(); l != 0 {
			t.Errorf("FreeLSN %d", l)
		}
		r.WaitLSN(0, time.Hour) // returns at once: an unreadable header
		done, _, err := r.TryRead(1, func([]byte) error { return nil }, nil)
		if !done {
			t.Errorf("TryRead declined; want done with ErrBadShared")
		}
		wantFault(t, "TryRead", err, ShmHeaderFile)
		_, _, _, err = r.Read(1, func([]byte) error { return nil }, 4)
		wantFault(t, "Read", err, ShmHeaderFile)
	})
}

// TestShmReaderFaultGuardRepanics is the guard's negative control: it must
// turn only faults inside the reader's own mappings into errors. A panic
// of the caller's fn, and a fault in memory the caller mapped itself,
// must go on as panics, and the goroutine's panic-on-fault setting must
// be restored either way.
func TestShmReaderFaultGuardRepanics(t *testing.T) {
	r, _ := truncatedRegion(t)

	// Memory of the test's own: a one-page file, mapped, then truncated.
	f, err := os.CreateTemp(t.TempDir(), "own")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
	own, err := unix.Mmap(int(f.Fd()), 0, os.Getpagesize(), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(own) }()
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}

	type call struct {
		name string
		do   func(fn func([]byte) error) error
	}
	calls := []call{
		{"TryRead", func(fn func([]byte) error) error { _, _, err := r.TryRead(1, fn, nil); return err }},
		{"Read", func(fn func([]byte) error) error { _, _, _, err := r.Read(1, fn, 4); return err }},
	}
	sentinel := errors.New("the caller's own panic")
	for _, c := range calls {
		for _, tc := range []struct {
			name string
			fn   func([]byte) error
			want func(p any) bool
		}{
			{"own panic", func([]byte) error { panic(sentinel) }, func(p any) bool { e, ok := p.(error); return ok && errors.Is(e, sentinel) }},
			{"own fault", func([]byte) error { truncSink = own[0]; return nil }, func(p any) bool { _, ok := p.(faultAddr); return ok }},
		} {
			t.Run(c.name+"/"+tc.name, func(t *testing.T) {
				var p any
				err := func() (err error) {
					defer func() { p = recover() }()
					return c.do(tc.fn)
				}()
				if !tc.want(p) {
					t.Fatalf("panic %v (error %v), want it to go on", p, err)
				}
			})
		}
	}
	// Restored: the test goroutine runs without panic-on-fault, as it
	// started (a fault here would crash, so it is not probed; the setting
	// is read back instead).
	if old := debug.SetPanicOnFault(false); old {
		t.Fatal("panic-on-fault left enabled after the guarded calls")
	}
}

// truncSink keeps a load the compiler would otherwise drop.
var truncSink byte

// TestShmReaderGuardNoAlloc: the guard costs no allocation on the read
// paths.
func TestShmReaderGuardNoAlloc(t *testing.T) {
	r, _ := truncatedRegion(t)
	buf := make([]byte, 0, 100)
	fn := func(b []byte) error { buf = append(buf[:0], b...); return nil }
	var res SlotRead
	for name, f := range map[string]func(){
		"TryRead": func() {
			if ok, _, err := r.TryRead(1, fn, &res); !ok || err != nil {
				t.Fatalf("TryRead: %v, %v", ok, err)
			}
		},
		"Read": func() {
			if _, found, _, err := r.Read(2, fn, 4); !found || err != nil {
				t.Fatalf("Read: %v, %v", found, err)
			}
		},
		"State": func() { _ = r.State() },
		"LSN":   func() { _ = r.LSN() },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}
