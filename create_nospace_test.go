package mmsb

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/page"
)

// noSpaceCase is one shape of TestCreatePagesOutOfMemory and
// TestSharedCreateOutOfSpace: pages of size bytes created batch at a
// time until a batch is refused, then a page freed and one of smaller
// bytes created in its place.
type noSpaceCase struct {
	name    string
	size    int // bytes of each page created until the room runs out
	batch   int // pages per CreatePages call
	smaller int // the page created after one is freed
	// errno, when set, must be in the refusal's chain.
	errno error
}

// marker is written to page 1 after the refused create (it fits the
// smallest page of the cases).
const marker = "written!"

// noSpaceCases: 256-byte pages take 1 MiB chunks (4,096 cells), several
// a batch; 3 MiB pages each have a mapping of their own.
var noSpaceCases = []noSpaceCase{
	{name: "small pages", size: 256, batch: 64, smaller: 8},
	{name: "large pages", size: 3 << 20, batch: 1, smaller: 3 << 19},
}

// TestCreatePagesOutOfMemory: a create batch whose page memory the OS
// refuses (here the store's arena limit, which refuses a chunk the way a
// failed mmap or pre-fault does) is refused with ErrNoSpace before it is
// logged, and the bus keeps working. The create was logged first and its
// apply failed: the bus failed ("bus failed ... logged op 0 does not
// apply: page 8193: allocating 256 bytes: page: out of arena space") and
// refused every later write until reopened.
func TestCreatePagesOutOfMemory(t *testing.T) {
	for _, tc := range noSpaceCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e, err := Open(dir, &Options{Sync: SyncNone})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = e.Close() }()
			// Room for two chunks of 256-byte pages (or three large
			// pages) and a little more: a 32 KiB chunk of 8-byte pages.
			limit := int64(2<<20 + 64<<10)
			if tc.size > 1<<20 {
				limit = 10 << 20
			}
			e.mu.Lock()
			e.store.SetArenaLimit(limit)
			e.mu.Unlock()
			checkCreateRefusedKeepsBus(t, e, tc, nil)
		})
	}
}

// checkCreateRefusedKeepsBus fills bus e (whose page memory is bounded)
// with pages of tc.size until a create batch is refused, then checks
// that the refusal was ErrNoSpace and logged nothing, that the bus goes
// on (a delta, a free, creates that fit), and that a reopen recovers
// exactly the committed state, once with each of reopens (nil: defaults).
func checkCreateRefusedKeepsBus(t *testing.T, e *Bus, tc noSpaceCase, reopens ...*Options) {
	t.Helper()
	ctx := context.Background()
	specs := make([]PageSpec, tc.batch)
	for i := range specs {
		specs[i] = PageSpec{Size: tc.size}
	}
	var refused error
	created := 0
	for refused == nil {
		if created > 1<<20 {
			t.Fatalf("%d pages created and no create refused", created)
		}
		var ids []PageID
		ids, refused = e.CreatePages(ctx, specs)
		created += len(ids)
	}
	if created == 0 {
		t.Fatalf("the first create was refused: %v", refused)
	}
	if !errors.Is(refused, ErrNoSpace) || !errors.Is(refused, page.ErrNoSpace) {
		t.Fatalf("refused create: %v, want ErrNoSpace (wrapping page.ErrNoSpace)", refused)
	}
	if tc.errno != nil && !errors.Is(refused, tc.errno) {
		t.Fatalf("refused create: %v, want %v in its chain", refused, tc.errno)
	}
	t.Logf("after %d pages: %v", created, refused)
	if err := e.Err(); err != nil {
		t.Fatalf("bus failed by a create refused for space: %v", err)
	}
	if n := e.Stats().Pages; n != created {
		t.Fatalf("%d pages after the refused batch, want the %d created (all or none)", n, created)
	}
	lastBefore := e.LastLSN()
	if lastBefore != LSN(created) {
		t.Fatalf("last LSN %d, want %d (one per created page): the refused batch took LSNs", lastBefore, created)
	}
	// The bus goes on: a delta to an early page, a free, and creates that
	// fit (the freed page's room, a smaller page).
	if _, err := e.Commit(ctx, []Delta{Write(1, 0, []byte(marker))}); err != nil {
		t.Fatalf("delta after the refused create: %v", err)
	}
	if err := e.FreePage(ctx, 2); err != nil {
		t.Fatalf("free after the refused create: %v", err)
	}
	small, err := e.CreatePage(ctx, PageSpec{Size: tc.smaller})
	if err != nil {
		t.Fatalf("create of %d bytes after freeing a page of %d: %v", tc.smaller, tc.size, err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(small, 0, []byte{7})}); err != nil {
		t.Fatalf("delta to the new page: %v", err)
	}
	if _, err := e.CreatePages(ctx, specs); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("a batch as large as the refused one, again: %v, want ErrNoSpace", err)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("bus failed: %v", err)
	}
	// The log holds the creates that were made and nothing else.
	logged := 0
	err = e.QueryLog(ctx, LogQuery{Kinds: []OpKind{OpCreatePage}}, func(*LoggedOp) bool {
		logged++
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if logged != created+1 {
		t.Fatalf("log holds %d creates, want the %d made", logged, created+1)
	}
	if got, want := e.LastLSN(), lastBefore+4; got != want {
		t.Fatalf("last LSN %d, want %d: a refused create took an LSN", got, want)
	}
	want, err := e.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	pages := e.Stats().Pages
	dir := e.Dir()
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, o := range reopens {
		checkReopened(t, dir, o, want, pages)
	}
}

// checkReopened opens dir with o and checks it holds pages pages whose
// state hash is want, page 1 with the delta written after the refused
// create and page 2 freed.
func checkReopened(t *testing.T, dir string, o *Options, want uint64, pages int) {
	t.Helper()
	e, err := Open(dir, o)
	if err != nil {
		t.Fatalf("reopen (shared %v): %v", o != nil && o.Shared, err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close after reopen: %v", err)
		}
	}()
	got, err := e.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if got != want || e.Stats().Pages != pages {
		t.Fatalf("reopened: %d pages, hash %#x; want %d pages, hash %#x", e.Stats().Pages, got, pages, want)
	}
	b, _, err := e.ReadPage(1, nil)
	if err != nil || string(b[:len(marker)]) != marker {
		t.Fatalf("page 1 after reopen: %q, %v", b[:min(len(b), len(marker))], err)
	}
	if _, err := e.Page(2); !errors.Is(err, ErrPageNotFound) {
		t.Fatalf("freed page 2 after reopen: %v, want ErrPageNotFound", err)
	}
}

// TestCreatePagesRefusedAfterReserveGivesBack: a create batch whose room
// was reserved but which is refused before it is logged (here its record
// is larger than the Replicator carries: ErrRecordTooLarge) leaves no
// memory mapped for it: the 3 MiB the reservation mapped are unmapped.
func TestCreatePagesRefusedAfterReserveGivesBack(t *testing.T) {
	ctx := context.Background()
	e, err := Open(t.TempDir(), &Options{Sync: SyncNone, Replicator: &fakeReplicator{max: 64}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	if _, err := e.CreatePage(ctx, PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	before := e.Stats().Store.ArenaBytes
	specs := make([]PageSpec, 8)
	for i := range specs {
		specs[i] = PageSpec{Size: 3 << 20}
	}
	if _, err := e.CreatePages(ctx, specs); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("a batch of 8 creates, 64-byte records: %v, want ErrRecordTooLarge", err)
	}
	if got := e.Stats().Store.ArenaBytes; got != before {
		t.Fatalf("%d bytes of page memory mapped after the refused batch, %d before", got, before)
	}
	if _, err := e.CreatePage(ctx, PageSpec{Size: 3 << 20}); err != nil {
		t.Fatalf("a create after the refused batch: %v", err)
	}
}
