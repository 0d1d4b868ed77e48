package errorfs_test

import (
	"errors"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

func ck(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ops runs one operation of every kind against fs, in a fixed order, and
// returns each one's error keyed by kind.
func ops(t *testing.T, fs vfs.FS) map[errorfs.OpKind]error {
	t.Helper()
	res := map[errorfs.OpKind]error{}
	inner := fs.(*errorfs.FS).Unwrap()
	if res[errorfs.OpMkdirAll] = fs.MkdirAll("d"); res[errorfs.OpMkdirAll] != nil {
		ck(t, inner.MkdirAll("d"))
	}
	r, err := inner.Create("d/r") // removed at the end
	ck(t, err)
	ck(t, r.Close())
	f, err := fs.Create("d/f")
	res[errorfs.OpCreate] = err
	if f == nil {
		// Later file operations need a file: make one behind the injector.
		f0, err := inner.Create("d/f")
		ck(t, err)
		ck(t, f0.Close())
		f, err = fs.OpenAppend("d/f")
		res[errorfs.OpOpenAppend] = err
		if f == nil {
			f, _ = inner.OpenAppend("d/f")
		}
	}
	_, res[errorfs.OpWrite] = f.Write([]byte("hello"))
	res[errorfs.OpSync] = f.Sync()
	res[errorfs.OpTruncate] = f.Truncate(3)
	_, res[errorfs.OpSize] = f.Size()
	_, res[errorfs.OpRead] = f.ReadAt(make([]byte, 1), 0)
	res[errorfs.OpClose] = f.Close()
	g, err := fs.Open("d/f")
	res[errorfs.OpOpen] = err
	if g != nil {
		g.Close()
	}
	if _, ok := res[errorfs.OpOpenAppend]; !ok {
		g, err := fs.OpenAppend("d/f")
		res[errorfs.OpOpenAppend] = err
		if g != nil {
			g.Close()
		}
	}
	_, res[errorfs.OpList] = fs.List("d")
	res[errorfs.OpSyncDir] = fs.SyncDir("d")
	l, err := fs.Lock("d/LOCK")
	res[errorfs.OpLock] = err
	if l != nil {
		l.Close()
	}
	res[errorfs.OpRename] = fs.Rename("d/f", "d/g")
	res[errorfs.OpRemove] = fs.Remove("d/r")
	return res
}

var allKinds = []errorfs.OpKind{
	errorfs.OpCreate, errorfs.OpOpen, errorfs.OpOpenAppend, errorfs.OpRemove,
	errorfs.OpRename, errorfs.OpMkdirAll, errorfs.OpList, errorfs.OpSyncDir,
	errorfs.OpLock, errorfs.OpRead, errorfs.OpWrite, errorfs.OpSync,
	errorfs.OpTruncate, errorfs.OpSize, errorfs.OpClose,
}

// TestOnKindEachOp fails each kind in turn and checks that exactly that
// operation fails, with an error that names it and wraps the sentinel.
func TestOnKindEachOp(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			mem := vfs.NewMem()
			fs := errorfs.Wrap(mem, errorfs.OnKind(kind, errorfs.ErrInjected))
			res := ops(t, fs)
			for k, err := range res {
				if k != kind {
					if err != nil {
						t.Errorf("%s failed: %v", k, err)
					}
					continue
				}
				if !errors.Is(err, errorfs.ErrInjected) {
					t.Fatalf("%s: err = %v, want ErrInjected", k, err)
				}
				var e *errorfs.Error
				if !errors.As(err, &e) || e.Op.Kind != kind {
					t.Fatalf("%s: error %v does not carry the op", k, err)
				}
				if !strings.Contains(err.Error(), kind.String()) || !strings.Contains(err.Error(), "d") {
					t.Fatalf("%s: message %q does not name op and path", k, err)
				}
			}
			if _, ok := res[kind]; !ok {
				t.Fatalf("%s was not exercised", kind)
			}
			want := 1
			if kind == errorfs.OpClose {
				want = 3 // ops closes three files
			}
			if fs.Injected() != want {
				t.Fatalf("Injected() = %d, want %d", fs.Injected(), want)
			}
		})
	}
}

// TestFailedOpsHaveNoEffect checks that an injected failure does not reach
// the wrapped filesystem.
func TestFailedOpsHaveNoEffect(t *testing.T) {
	mem := vfs.NewMem()
	ck(t, vfs.MkdirAllAndSync(mem, "d"))
	f, err := mem.Create("d/a")
	ck(t, err)
	_, err = f.Write([]byte("abc"))
	ck(t, err)
	ck(t, f.Close())
	fs := errorfs.Wrap(mem, errorfs.Any(
		errorfs.OnKind(errorfs.OpCreate, errorfs.ErrInjected),
		errorfs.OnKind(errorfs.OpRemove, errorfs.ErrInjected),
		errorfs.OnKind(errorfs.OpRename, errorfs.ErrInjected),
		errorfs.OnKind(errorfs.OpWrite, errorfs.ErrNoSpace),
		errorfs.OnKind(errorfs.OpTruncate, errorfs.ErrInjected),
		errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected),
	))
	if _, err := fs.Create("d/a"); err == nil {
		t.Fatal("create succeeded")
	}
	if err := fs.Remove("d/a"); err == nil {
		t.Fatal("remove succeeded")
	}
	if err := fs.Rename("d/a", "d/b"); err == nil {
		t.Fatal("rename succeeded")
	}
	g, err := fs.OpenAppend("d/a")
	ck(t, err)
	n, err := g.Write([]byte("xyz"))
	if n != 0 || !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, errorfs.ErrNoSpace) {
		t.Fatalf("ENOSPC write = %d, %v", n, err)
	}
	if err := g.Truncate(0); err == nil {
		t.Fatal("truncate succeeded")
	}
	if err := g.Sync(); err == nil {
		t.Fatal("sync succeeded")
	}
	ck(t, g.Close())
	// Nothing reached the MemFS: still one file, unchanged, and the failed
	// sync made nothing durable.
	h, err := mem.Open("d/a")
	ck(t, err)
	b, err := io.ReadAll(h)
	ck(t, err)
	if string(b) != "abc" || mem.Exists("d/b") {
		t.Fatalf("contents %q, d/b exists %v", b, mem.Exists("d/b"))
	}
	ck(t, mem.SyncDir("d"))
	h, err = mem.CrashClone().Open("d/a")
	ck(t, err)
	if sz, _ := h.Size(); sz != 0 {
		t.Fatalf("failed sync made %d bytes durable", sz)
	}
	if fs.Injected() != 6 {
		t.Fatalf("Injected() = %d, want 6", fs.Injected())
	}
}

func TestShortWrite(t *testing.T) {
	cases := []struct {
		name string
		err  error
		buf  string
		want string // what reaches the file
	}{
		{"half", errorfs.ErrShortWrite, "0123456789", "01234"},
		{"half-odd", errorfs.ErrShortWrite, "abc", "a"},
		{"keep-3", &errorfs.ShortWriteError{Keep: 3}, "0123456789", "012"},
		{"keep-0", &errorfs.ShortWriteError{Keep: 0}, "0123456789", ""},
		{"keep-negative", &errorfs.ShortWriteError{Keep: -5}, "0123", ""},
		{"keep-all", &errorfs.ShortWriteError{Keep: 100}, "0123", "0123"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := vfs.NewMem()
			fs := errorfs.Wrap(mem, errorfs.OnKind(errorfs.OpWrite, c.err))
			f, err := fs.Create("f")
			ck(t, err)
			n, err := f.Write([]byte(c.buf))
			if n != len(c.want) || !errors.Is(err, io.ErrShortWrite) {
				t.Fatalf("Write = %d, %v; want %d, ErrShortWrite", n, err, len(c.want))
			}
			ck(t, f.Close())
			g, err := mem.Open("f")
			ck(t, err)
			b, _ := io.ReadAll(g)
			if string(b) != c.want {
				t.Fatalf("file holds %q, want %q", b, c.want)
			}
		})
	}
}

// recorder records the operations it sees and injects nothing.
type recorder struct {
	mu  sync.Mutex
	ops []errorfs.Op
}

func (r *recorder) MaybeError(op errorfs.Op) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
	return nil
}

// TestOpDetails checks the offsets, lengths and paths the injector is shown.
func TestOpDetails(t *testing.T) {
	mem := vfs.NewMem()
	rec := &recorder{}
	fs := errorfs.Wrap(mem, rec)
	f, err := fs.Create("f")
	ck(t, err)
	_, err = f.Write([]byte("abcd"))
	ck(t, err)
	_, err = f.Write([]byte("ef"))
	ck(t, err)
	ck(t, f.Truncate(1))
	ck(t, f.Close())
	g, err := fs.OpenAppend("f")
	ck(t, err)
	_, err = g.Read(make([]byte, 1))
	ck(t, err)
	_, err = g.Write([]byte("xyz")) // appends at 1, the size
	ck(t, err)
	_, err = g.ReadAt(make([]byte, 2), 2)
	ck(t, err)
	ck(t, g.Close())
	ck(t, fs.Rename("f", "g"))
	want := []errorfs.Op{
		{Kind: errorfs.OpCreate, Path: "f"},
		{Kind: errorfs.OpWrite, Path: "f", Offset: 0, N: 4},
		{Kind: errorfs.OpWrite, Path: "f", Offset: 4, N: 2},
		{Kind: errorfs.OpTruncate, Path: "f", Offset: 1},
		{Kind: errorfs.OpClose, Path: "f"},
		{Kind: errorfs.OpOpenAppend, Path: "f"},
		{Kind: errorfs.OpRead, Path: "f", Offset: 0, N: 1},
		{Kind: errorfs.OpWrite, Path: "f", Offset: 1, N: 3},
		{Kind: errorfs.OpRead, Path: "f", Offset: 2, N: 2},
		{Kind: errorfs.OpClose, Path: "f"},
		{Kind: errorfs.OpRename, Path: "f", NewPath: "g"},
	}
	if len(rec.ops) != len(want) {
		t.Fatalf("ops = %v, want %v", rec.ops, want)
	}
	for i := range want {
		if rec.ops[i] != want[i] {
			t.Errorf("op %d = %+v, want %+v", i, rec.ops[i], want[i])
		}
	}
	if fs.Injected() != 0 {
		t.Fatalf("Injected() = %d", fs.Injected())
	}
}

// sequence asks inj about n identical operations and returns which failed.
func sequence(inj errorfs.Injector, op errorfs.Op, n int) string {
	var sb strings.Builder
	for range n {
		if inj.MaybeError(op) != nil {
			sb.WriteByte('x')
		} else {
			sb.WriteByte('.')
		}
	}
	return sb.String()
}

func TestInjectors(t *testing.T) {
	sync := errorfs.Op{Kind: errorfs.OpSync, Path: "db/000001.log"}
	write := errorfs.Op{Kind: errorfs.OpWrite, Path: "db/000001.log"}
	onSync := errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected)
	cases := []struct {
		name string
		inj  errorfs.Injector
		op   errorfs.Op
		want string
	}{
		{"never", errorfs.Never, sync, "....."},
		{"on-kind-match", onSync, sync, "xxxxx"},
		{"on-kind-other", onSync, write, "....."},
		{"on-path-match", errorfs.OnPath(".log", onSync), sync, "xxxxx"},
		{"on-path-other", errorfs.OnPath("MANIFEST", onSync), sync, "....."},
		{"on-new-path", errorfs.OnPath("b", errorfs.OnKind(errorfs.OpRename, errorfs.ErrInjected)),
			errorfs.Op{Kind: errorfs.OpRename, Path: "a", NewPath: "b"}, "xxx"},
		{"after-0", errorfs.After(0, onSync), sync, "xxxxx"},
		{"after-2", errorfs.After(2, onSync), sync, "..xxx"},
		{"after-counts-only-matches", errorfs.After(2, onSync), write, "....."},
		{"once", errorfs.Once(onSync), sync, "x...."},
		{"once-after", errorfs.Once(errorfs.After(3, onSync)), sync, "...x."},
		{"random-0", errorfs.Random(1, 0, onSync), sync, "........"},
		{"random-1", errorfs.Random(1, 1, onSync), sync, "xxxxxxxx"},
		{"any", errorfs.Any(errorfs.Never, onSync), sync, "xx"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := sequence(c.inj, c.op, len(c.want)); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestRandomDeterministic(t *testing.T) {
	op := errorfs.Op{Kind: errorfs.OpWrite}
	inj := errorfs.OnKind(errorfs.OpWrite, errorfs.ErrInjected)
	a := sequence(errorfs.Random(42, 0.3, inj), op, 1000)
	b := sequence(errorfs.Random(42, 0.3, inj), op, 1000)
	c := sequence(errorfs.Random(43, 0.3, inj), op, 1000)
	if a != b {
		t.Fatal("same seed gave different failures")
	}
	if a == c {
		t.Fatal("different seeds gave the same failures")
	}
	// A loose sanity bound on the rate (deterministic for this seed).
	if n := strings.Count(a, "x"); n < 200 || n > 400 {
		t.Fatalf("%d of 1000 failed at p=0.3", n)
	}
}

func TestToggle(t *testing.T) {
	tg := errorfs.NewToggle(errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected))
	fs := errorfs.Wrap(vfs.NewMem(), tg)
	f, err := fs.Create("f")
	ck(t, err)
	if tg.Enabled() {
		t.Fatal("toggle starts on")
	}
	ck(t, f.Sync())
	tg.On()
	if !tg.Enabled() || !errors.Is(f.Sync(), errorfs.ErrInjected) {
		t.Fatal("sync did not fail with the toggle on")
	}
	tg.Off()
	ck(t, f.Sync())
	if fs.Injected() != 1 {
		t.Fatalf("Injected() = %d", fs.Injected())
	}
}

func TestDiskFull(t *testing.T) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem, errorfs.DiskFull(mem.Usage, 10))
	f, err := fs.Create("f")
	ck(t, err)
	_, err = f.Write([]byte("0123456"))
	ck(t, err)
	_, err = f.Write([]byte("789"))
	ck(t, err)
	if _, err := f.Write([]byte("a")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write past the limit: %v", err)
	}
	if mem.Usage() != 10 {
		t.Fatalf("usage %d", mem.Usage())
	}
	// Freeing space lets writes through again.
	ck(t, f.Truncate(5))
	_, err = f.Write([]byte("a"))
	ck(t, err)
}

func TestConcurrentInjection(t *testing.T) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem, errorfs.After(50, errorfs.OnKind(errorfs.OpWrite, errorfs.ErrInjected)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := fs.Create(string(rune('a' + w)))
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			for range 25 {
				if _, err := f.Write([]byte("x")); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if failed != 50 || fs.Injected() != 50 {
		t.Fatalf("failed %d, injected %d; want 50 each", failed, fs.Injected())
	}
	if mem.Usage() != 50 {
		t.Fatalf("usage %d, want 50", mem.Usage())
	}
}

func TestOpKindString(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range allKinds {
		s := k.String()
		if s == "" || seen[s] || strings.HasPrefix(s, "op(") {
			t.Fatalf("bad or duplicate name %q for %d", s, int(k))
		}
		seen[s] = true
	}
	if s := errorfs.OpKind(99).String(); s != "op(99)" {
		t.Fatalf("unknown kind = %q", s)
	}
}
