package mmsb_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// selfResources returns how many descriptors this process holds and how
// many of its mappings there are, and which of both name a path under
// under (a region file, removed or not: "(deleted)" follows its name).
func selfResources(t *testing.T, under string) (fds, maps int, inside []string) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testutil.Missing(t, "no /proc/self/fd: %v", err)
	}
	for _, e := range ents {
		fds++
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && strings.HasPrefix(target, under+"/") {
			inside = append(inside, "fd "+e.Name()+" -> "+target)
		}
	}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		testutil.Missing(t, "no /proc/self/maps: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		maps++
		if strings.Contains(line, " "+under+"/") {
			inside = append(inside, "map "+line)
		}
	}
	return fds, maps, inside
}

// TestSharedOpenCloseLeaksNothing: a shared bus opened, used (small pages
// in shared chunks, a page with a chunk of its own, a free that releases
// it) and closed, then an Open whose recovery fails after its region was
// built, 40 times over: the process holds no descriptor and no mapping of
// a region file afterwards (removed files included), its descriptor and
// mapping counts do not grow with the cycles (a writer that kept one
// descriptor or mapping per open would hold 40 more; the slack is for
// the runtime's own), and SharedDir is empty after each cycle. Each
// reopen also recovers what the previous one committed.
func TestSharedOpenCloseLeaksNothing(t *testing.T) {
	ctx := context.Background()
	dir, shm := t.TempDir(), shmTestDir(t)
	// A bus whose recovery fails after its region was built (a file in
	// place of its log directory): the failed Open must release it too.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "wal"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var want int // pages live after each cycle
	cycle := func(i int) {
		bus := openShared(t, dir, shm)
		if pages, err := bus.Pages(); err != nil || len(pages) != want {
			t.Fatalf("cycle %d: reopened bus has %d pages (%v), want %d", i, len(pages), err, want)
		}
		specs := []mmsb.PageSpec{{Size: 64}, {Size: 5000}, {Size: 1<<20 + 1}}
		for range 40 {
			specs = append(specs, mmsb.PageSpec{Size: 16})
		}
		ids, err := bus.CreatePages(ctx, specs)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte("a")), mmsb.Write(ids[2], 1<<20, []byte("b"))}); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if err := bus.FreePage(ctx, ids[2]); err != nil { // its chunk file goes
			t.Fatalf("cycle %d: %v", i, err)
		}
		want += len(ids) - 1
		if err := bus.Close(); err != nil {
			t.Fatalf("cycle %d: close: %v", i, err)
		}
		if _, err := os.Lstat(bus.SharedPath()); !os.IsNotExist(err) {
			t.Fatalf("cycle %d: region %s still there after Close (%v)", i, bus.SharedPath(), err)
		}
		if _, err := mmsb.Open(bad, &mmsb.Options{Shared: true, SharedDir: shm, Sync: mmsb.SyncNone}); err == nil {
			t.Fatalf("cycle %d: Open recovered with a file in place of its log directory", i)
		}
		if ents, err := os.ReadDir(shm); err != nil || len(ents) != 0 {
			t.Fatalf("cycle %d: after Close and a failed Open %s holds %v (%v)", i, shm, ents, err)
		}
	}
	// Warm-up: the runtime and the log open what they keep once.
	cycle(0)
	cycle(1)
	fds0, maps0, inside := selfResources(t, shm)
	if len(inside) != 0 {
		t.Fatalf("after Close the process still holds region files:\n%s", strings.Join(inside, "\n"))
	}
	const cycles = 40
	for i := range cycles {
		cycle(2 + i)
	}
	fds1, maps1, inside := selfResources(t, shm)
	t.Logf("descriptors %d -> %d, mappings %d -> %d over %d cycles", fds0, fds1, maps0, maps1, cycles)
	if len(inside) != 0 {
		t.Fatalf("after %d cycles the process still holds region files:\n%s", cycles, strings.Join(inside, "\n"))
	}
	// Slack for the runtime (a heap arena, a thread's stack): far below
	// one per cycle.
	if fds1 > fds0+2 {
		t.Errorf("descriptors grew from %d to %d over %d open/close cycles", fds0, fds1, cycles)
	}
	if maps1 > maps0+cycles/2 {
		t.Errorf("mappings grew from %d to %d over %d open/close cycles", maps0, maps1, cycles)
	}
}
