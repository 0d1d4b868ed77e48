package mmsb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// Tests of where the writer puts its shared region: odd Options.SharedDir
// values and what it finds at the region's name.

// scratchShmDir returns a fresh directory on /dev/shm (tmpfs) when there is
// one, else under the test's temporary directory; removed after the test.
func scratchShmDir(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	if st, err := os.Stat(DefaultSharedDir); err == nil && st.IsDir() {
		base = DefaultSharedDir
	}
	d, err := os.MkdirTemp(base, "mmsb-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// TestSharedRelativeSharedDir guards a relative Options.SharedDir. The
// region's path was kept relative, so after the process changed its
// working directory the writer looked for its own files elsewhere: the
// next create failed the bus for good ("bus failed ... grow
// s/mmsb-.../ids to 131072 bytes: open s/mmsb-.../ids: no such file or
// directory"), Close removed nothing and left the region behind, and
// SharedPath handed readers a path that only meant something in the
// writer's old working directory. The region path is absolute now.
func TestSharedRelativeSharedDir(t *testing.T) {
	shm := scratchShmDir(t)
	dir := t.TempDir()
	t.Chdir(shm)
	if err := os.Mkdir("s", 0o700); err != nil {
		t.Fatal(err)
	}
	bus, err := Open(dir, &Options{Shared: true, SharedDir: "s", Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	region := bus.SharedPath()
	if !filepath.IsAbs(region) || filepath.Dir(region) != filepath.Join(shm, "s") {
		t.Errorf("SharedPath %q, want an absolute path in %s", region, filepath.Join(shm, "s"))
	}
	t.Chdir(t.TempDir())
	// A page of its own chunk, and enough small ones to grow the slot
	// arrays: both make files in the region.
	if _, err := bus.CreatePage(ctx, PageSpec{Size: 2 << 20}); err != nil {
		t.Fatalf("create after chdir: %v", err)
	}
	specs := make([]PageSpec, 20000)
	for i := range specs {
		specs[i].Size = 8
	}
	if _, err := bus.CreatePages(ctx, specs); err != nil {
		t.Fatalf("create after chdir: %v", err)
	}
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: filepath.Join(shm, "s")})
	if err != nil {
		t.Fatalf("reader of the region: %v", err)
	}
	if ids, err := rd.Pages(); err != nil || len(ids) != 20001 {
		t.Errorf("reader sees %d pages (%v), want 20001", len(ids), err)
	}
	_ = rd.Close()
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Join(shm, "s")); len(left) != 0 {
		t.Errorf("left in SharedDir after Close: %v", left)
	}
}

// TestSharedDirMustBeADirectory guards the error for a SharedDir that is
// missing or not a directory (the default /dev/shm where there is none,
// on macOS say). It was the mkdir's error about an internal build path,
// wrapping no sentinel of the package ("mmsb: shared mode: page: shared
// region: mkdir /x/mmsb-....building-123: no such file or directory");
// it is ErrInvalidOption naming SharedDir now, and nothing is created.
func TestSharedDirMustBeADirectory(t *testing.T) {
	shm := scratchShmDir(t)
	file := filepath.Join(shm, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, sharedDir string }{
		{"missing", filepath.Join(shm, "missing")},
		{"file", file},
		{"under a file", filepath.Join(file, "sub")},
	} {
		_, err := Open(t.TempDir(), &Options{Shared: true, SharedDir: tc.sharedDir})
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "SharedDir") || !strings.Contains(err.Error(), tc.sharedDir) {
			t.Errorf("%s: %v, want ErrInvalidOption naming SharedDir %s", tc.name, err, tc.sharedDir)
		}
	}
	if ents, _ := os.ReadDir(shm); len(ents) != 1 {
		t.Errorf("failed opens left %v in %s", ents, shm)
	}
}

// TestSharedLinkAtRegionName guards what the writer does with a symbolic
// link found under its region's name (anyone may create names in
// /dev/shm). It followed it: the link's target, another bus's live
// region of the same user, was marked superseded and its readers got
// ErrStale ("mmsb: shared region superseded by a newer writer") although
// its writer ran on. Only a directory is a previous writer's region; a
// link is removed without touching its target.
func TestSharedLinkAtRegionName(t *testing.T) {
	shm := scratchShmDir(t)
	a, id, rd := liveSharedBus(t, shm)
	dirB, regionB := newRegionName(t, shm)
	if err := os.Symlink(a.SharedPath(), regionB); err != nil {
		testutil.Missing(t, "no symlinks: %v", err)
	}
	b, err := Open(dirB, &Options{Shared: true, SharedDir: shm, Sync: SyncNone})
	if err != nil {
		t.Fatalf("open with a link at the region name: %v", err)
	}
	defer b.Close()
	if _, _, _, err := rd.ReadPage(id, nil); err != nil {
		t.Errorf("reader of the link's target after the other bus opened: %v", err)
	}
	if st, err := os.Lstat(regionB); err != nil || !st.IsDir() {
		t.Errorf("region of the bus opened: %v (%v), want its directory in place of the link", st, err)
	}
}

// TestSharedLinkedHeaderAtRegionName: a directory at a bus's region
// name whose header is a symbolic link to another bus's live header (what
// anyone may plant in /dev/shm) must not make the bus's Open mark that
// other region superseded. The directory itself was checked with Lstat
// (TestSharedLinkAtRegionName), but MarkSuperseded opened the header by
// path, following the link: the other bus's readers got ErrStale ("read
// of the link's target after the other bus opened: ... superseded").
func TestSharedLinkedHeaderAtRegionName(t *testing.T) {
	shm := scratchShmDir(t)
	a, id, rd := liveSharedBus(t, shm)
	dirB, regionB := newRegionName(t, shm)
	for _, link := range []struct {
		name string
		make func(target, name string) error
	}{{"symbolic link", os.Symlink}, {"hard link", os.Link}} {
		t.Run(link.name, func(t *testing.T) {
			if err := os.Mkdir(regionB, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := link.make(filepath.Join(a.SharedPath(), page.ShmHeaderFile), filepath.Join(regionB, page.ShmHeaderFile)); err != nil {
				testutil.Missing(t, "no %s: %v", link.name, err)
			}
			b, err := Open(dirB, &Options{Shared: true, SharedDir: shm, Sync: SyncNone})
			if err != nil {
				t.Fatalf("open with a linked header at the region name: %v", err)
			}
			if _, _, _, err := rd.ReadPage(id, nil); err != nil {
				t.Errorf("read of the link's target after the other bus opened: %v", err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSharedStaleBuildDirsOddSharedDir guards the removal of build
// directories left by writers that died while recovering, when SharedDir
// holds a glob metacharacter. They were found with filepath.Glob on the
// region path, an invalid pattern here ("[" without "]"), whose error was
// ignored: stale build directories, with whatever they held, stayed in
// the tmpfs for good ("stale build directory left: ...building-...").
func TestSharedStaleBuildDirsOddSharedDir(t *testing.T) {
	shm := filepath.Join(scratchShmDir(t), "odd[dir")
	if err := os.Mkdir(shm, 0o700); err != nil {
		t.Fatal(err)
	}
	dir, region := newRegionName(t, shm)
	stale := region + ".building-999999999"
	if err := os.Mkdir(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "c0.1"), make([]byte, 1<<16), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(shm, "mmsb-other.building-1") // another bus's: kept
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	bus, err := Open(dir, &Options{Shared: true, SharedDir: shm, Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale build directory left: %s (%v)", stale, err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another bus's build directory removed: %v", err)
	}
}

// TestSharedFailedOpenLeavesNothing: an Open whose recovery fails (here
// the log directory's name is taken by a file) removes the region it was
// building, and a region a crashed writer left under the bus's name is
// left as it was (its readers keep seeing that writer gone); the next
// Open that recovers publishes its own.
func TestSharedFailedOpenLeavesNothing(t *testing.T) {
	shm := scratchShmDir(t)
	dir, region := newRegionName(t, shm)
	stale := filepath.Join(region, "header")
	if err := os.Mkdir(region, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("a crashed writer's header"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wal"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, &Options{Shared: true, SharedDir: shm}); err == nil {
		t.Fatal("Open recovered with a file in place of its log directory")
	}
	ents, err := os.ReadDir(shm)
	if err != nil || len(ents) != 1 || ents[0].Name() != filepath.Base(region) {
		t.Fatalf("after the failed Open %s holds %v (%v), want only the old region", shm, ents, err)
	}
	if b, err := os.ReadFile(stale); err != nil || string(b) != "a crashed writer's header" {
		t.Fatalf("old region's header: %q, %v", b, err)
	}
	if err := os.Remove(filepath.Join(dir, "wal")); err != nil {
		t.Fatal(err)
	}
	bus, err := Open(dir, &Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	if rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm}); err != nil {
		t.Errorf("reader after a recovering Open: %v", err)
	} else {
		_ = rd.Close()
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(shm); len(ents) != 0 {
		t.Errorf("after Close %s holds %v", shm, ents)
	}
}

// TestSharedLongSharedDir guards a SharedDir so long that the build
// directory can be made but not the files in it (the path of "header"
// passes PATH_MAX). The half-built region's cleanup then wrote through a
// header that was never mapped, and Open panicked ("index out of range
// [56] with length 0"). Every length around that limit must be an error
// or a working bus, and a failed Open must leave nothing in SharedDir.
func TestSharedLongSharedDir(t *testing.T) {
	root := scratchShmDir(t)
	pidLen := len(fmt.Sprint(os.Getpid()))
	// The build directory is SharedDir + "/mmsb-" + 32 hex digits +
	// ".building-" + the PID; a path may be 4095 bytes long.
	for over := -2; over <= 10; over++ {
		n := 4095 - (6 + 32 + 10 + pidLen) - 7 + over // "/header" is 7 bytes
		shm := root
		for len(shm) < n {
			shm = filepath.Join(shm, strings.Repeat("d", min(200, n-len(shm)-1)))
		}
		if err := os.MkdirAll(shm, 0o700); err != nil {
			t.Fatalf("length %d: %v", len(shm), err)
		}
		var bus *Bus
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			bus, err = Open(t.TempDir(), &Options{Shared: true, SharedDir: shm, Sync: SyncNone})
			return err
		}()
		if err != nil && strings.HasPrefix(err.Error(), "panic") {
			t.Fatalf("SharedDir of %d bytes: %v", len(shm), err)
		}
		if err == nil {
			if _, err := bus.CreatePage(ctx, PageSpec{Size: 64}); err != nil {
				t.Logf("SharedDir of %d bytes: create: %v", len(shm), err)
			}
			if err := bus.Close(); err != nil {
				t.Errorf("SharedDir of %d bytes: Close: %v", len(shm), err)
			}
		}
		if ents, _ := os.ReadDir(shm); len(ents) != 0 {
			t.Errorf("SharedDir of %d bytes (Open: %v): left %d entries", len(shm), err, len(ents))
		}
		if err := os.RemoveAll(filepath.Join(root, strings.Repeat("d", 200))); err != nil {
			t.Fatal(err)
		}
	}
}

// newRegionName returns a new bus directory (no bus in it yet) and the
// path its shared region will have in shm.
func newRegionName(t *testing.T, shm string) (dir, region string) {
	t.Helper()
	dir = t.TempDir()
	region, err := SharedRegionPath(dir, shm)
	if err != nil {
		t.Fatal(err)
	}
	return dir, region
}

// liveSharedBus opens a shared bus in a new directory with one 64-byte
// page, and a reader of it; both are closed when the test ends.
func liveSharedBus(t *testing.T, shm string) (*Bus, PageID, *Reader) {
	t.Helper()
	a, err := Open(t.TempDir(), &Options{Shared: true, SharedDir: shm, Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	id, err := a.CreatePage(ctx, PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := OpenReader(a.Dir(), &ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rd.Close() })
	return a, id, rd
}
