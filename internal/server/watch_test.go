package server_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// logLSNs lists the LSNs of the operations in [from, to] on pages wanted.
func logLSNs(t *testing.T, bus *mmsb.Bus, from, to mmsb.LSN, wanted func(mmsb.PageID) bool) []mmsb.LSN {
	t.Helper()
	var out []mmsb.LSN
	err := bus.QueryLog(context.Background(), mmsb.LogQuery{FromLSN: from, ToLSN: to}, func(lo *mmsb.LoggedOp) bool {
		p := lo.Op.Page
		switch lo.Op.Kind {
		case mmsb.OpDelta, mmsb.OpDerived:
			p = lo.Op.Delta.Page
		case mmsb.OpAddEdge, mmsb.OpRemoveEdge:
			p = lo.Op.Child
		}
		if wanted(p) {
			out = append(out, lo.LSN)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// collect runs a client watch until it has seen everything up to last,
// calling drop after each event (to break connections at random points).
func collect(t *testing.T, c *client.Client, opts client.WatchOptions, last func() mmsb.LSN, each func()) []client.Change {
	t.Helper()
	var got []client.Change
	done := errors.New("done")
	// Bounded, so that a change never delivered fails the test instead of
	// hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.Watch(ctx, opts, func(ev client.WatchEvent) error {
		got = append(got, ev.Changes...)
		if each != nil {
			each()
		}
		if l := last(); l != 0 && ev.ProgressLSN >= l {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		t.Fatalf("watch: %v (%d changes delivered, last %d wanted)", err, len(got), last())
	}
	return got
}

func checkSame(t *testing.T, got []client.Change, want []mmsb.LSN) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("watch delivered %d changes, the log holds %d", len(got), len(want))
	}
	for i := range got {
		if got[i].LSN != want[i] {
			t.Fatalf("change %d: LSN %d, the log says %d (gap or duplicate)", i, got[i].LSN, want[i])
		}
	}
}

// TestWatchResume drops the watch's connection at random points while
// commits run; the client resumes and sees every change exactly once, in
// the log's order, with the log's bytes.
func TestWatchResume(t *testing.T) {
	f := newFixture(t, fixOpts{dir: t.TempDir(), bus: &mmsb.Options{Sync: mmsb.SyncNone}, queue: 4})
	ctx := context.Background()
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 256}, {Size: 256}, {Size: 256}, {Size: 256}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const batches = 300
	var final mmsb.LSN
	var mu sync.Mutex
	go func() {
		r := rand.New(rand.NewPCG(3, 4))
		for i := range batches {
			ds := []mmsb.Delta{mmsb.Write(ids[r.IntN(4)], uint32(r.IntN(200)), []byte(strconv.Itoa(i))),
				mmsb.Write(ids[r.IntN(4)], uint32(r.IntN(200)), []byte("z"))}
			// Commits go to the bus directly: dropping the client's
			// connections would fail a Commit (which is never retried).
			info, err := f.bus.Commit(ctx, ds)
			if err != nil {
				t.Error(err)
				return
			}
			if i == batches-1 {
				mu.Lock()
				final = info.LastLSN
				mu.Unlock()
			}
		}
	}()
	last := func() mmsb.LSN { mu.Lock(); defer mu.Unlock(); return final }
	watched := map[mmsb.PageID]bool{ids[1]: true, ids[3]: true}
	drops := 0
	got := collect(t, f.c, client.WatchOptions{FromLSN: 1, Pages: []mmsb.PageID{ids[1]}, Ranges: [][2]mmsb.PageID{{ids[3], ids[3]}}, Progress: 5 * time.Millisecond}, last, func() {
		if drops == 0 || rng.IntN(8) == 0 { // at least one drop, then at random
			drops++
			f.http.CloseClientConnections()
		}
	})
	if drops == 0 {
		t.Fatal("negative control: no connection was dropped")
	}
	checkSame(t, got, logLSNs(t, f.bus, 1, last(), func(p mmsb.PageID) bool { return watched[p] }))
	// The delta bytes are the log's.
	for _, c := range got {
		if c.Kind == mmsb.OpDelta && (c.Delta == nil || c.Delta.Page != c.Page || len(c.Delta.Runs) != 1) {
			t.Fatalf("change %+v carries no delta", c)
		}
	}
	t.Logf("%d changes over %d dropped connections", len(got), drops)
}

// TestWatchCompacted: a watch from an LSN the log no longer holds fails with
// the compacted error naming the oldest LSN; the recipe (read at L, watch
// from L+1) then works.
func TestWatchCompacted(t *testing.T) {
	f := newFixture(t, fixOpts{dir: t.TempDir(), bus: &mmsb.Options{SegmentBytes: 4096}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 1024})
	if err != nil {
		t.Fatal(err)
	}
	// Checkpoints remove the segments the oldest retained checkpoint
	// covers: take a few.
	for range 3 {
		for i := range 30 {
			if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, make([]byte, 500+i))}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.c.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	oldest := f.bus.Stats().Log.OldestLSN
	if oldest <= 1 {
		t.Fatalf("checkpoint removed no segment (oldest LSN %d)", oldest)
	}
	err = f.c.Watch(ctx, client.WatchOptions{FromLSN: 1}, func(client.WatchEvent) error { return nil })
	var ce *client.CompactedError
	if !errors.As(err, &ce) || !errors.Is(err, client.ErrCompacted) || ce.OldestLSN != oldest || ce.RequestedLSN != 1 {
		t.Fatalf("want CompactedError with oldest %d, got %v", oldest, err)
	}
	if f.srv.CompactedWatches() == 0 {
		t.Fatal("compacted watch not counted")
	}
	// The recipe.
	_, _, l, err := f.c.ReadPage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("after"))})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, f.c, client.WatchOptions{FromLSN: l + 1}, func() mmsb.LSN { return info.LastLSN }, nil)
	if len(got) != 1 || got[0].LSN != info.FirstLSN {
		t.Fatalf("recipe: %+v", got)
	}
}

// TestWatchStalled: a watcher that stops reading does not stop commits;
// it is demoted, and afterwards catches up with every change.
func TestWatchStalled(t *testing.T) {
	f := newFixture(t, fixOpts{queue: 2})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8192})
	if err != nil {
		t.Fatal(err)
	}
	start := f.bus.LastLSN() + 1
	release := make(chan struct{})
	var got []client.Change
	const batches = 1500
	var final mmsb.LSN
	var finalMu sync.Mutex
	done := make(chan error, 1)
	go func() {
		stop := errors.New("stop")
		first := true
		err := f.c.Watch(ctx, client.WatchOptions{FromLSN: start}, func(ev client.WatchEvent) error {
			if first {
				first = false
				<-release // stall
			}
			got = append(got, ev.Changes...)
			finalMu.Lock()
			l := final
			finalMu.Unlock()
			if l != 0 && ev.ProgressLSN >= l {
				return stop
			}
			return nil
		})
		if errors.Is(err, stop) {
			err = nil
		}
		done <- err
	}()
	waitFor(t, func() bool { return f.srv.Watchers() == 1 })
	payload := make([]byte, 4096)
	var last mmsb.LSN
	for i := range batches {
		payload[0] = byte(i)
		info, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, uint32(i%4096), payload)})
		if err != nil {
			t.Fatalf("commit %d with a stalled watcher: %v", i, err)
		}
		last = info.LastLSN
	}
	finalMu.Lock()
	final = last
	finalMu.Unlock()
	if f.srv.SlowWatcherDemotions() == 0 {
		t.Fatal("the stalled watcher was never demoted (its queue never overflowed)")
	}
	close(release)
	if err := recv(t, done, "end of the released watch"); err != nil {
		t.Fatal(err)
	}
	checkSame(t, got, logLSNs(t, f.bus, start, last, func(mmsb.PageID) bool { return true }))
}

// TestShutdownClosesWatches: Shutdown ends a watch with Unavailable and
// the last LSN delivered, in a detail and in metadata.
func TestShutdownClosesWatches(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("a"))})
	if err != nil {
		t.Fatal(err)
	}
	raw := mmsbv1connect.NewBusServiceClient(http.DefaultClient, f.http.URL)
	stream, err := raw.Watch(ctx, connect.NewRequest(&mmsbv1.WatchRequest{FromLsn: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var seen mmsb.LSN
	for stream.Receive() {
		for _, c := range stream.Msg().GetChanges() {
			seen = mmsb.LSN(c.GetLsn())
		}
		if seen == info.LastLSN {
			break
		}
	}
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
		for _, c := range stream.Msg().GetChanges() {
			seen = mmsb.LSN(c.GetLsn())
		}
	}
	err = stream.Err()
	wantCode(t, err, connect.CodeUnavailable)
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Meta().Get(server.LastLSNKey) != strconv.FormatUint(uint64(seen), 10) {
		t.Fatalf("want %s = %d, got %v", server.LastLSNKey, seen, err)
	}
	found := false
	for _, d := range ce.Details() {
		if m, err := d.Value(); err == nil {
			if r, ok := m.(*mmsbv1.Resume); ok && mmsb.LSN(r.GetLastLsn()) == seen {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("no Resume detail")
	}
	// Commits are refused once shutting down.
	_, err = f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("b"))})
	wantCode(t, err, connect.CodeUnavailable)
}

// TestWatchFromFutureLSN: a watch from the next LSN, which the bus has
// not reached yet, delivers every operation from it on (the contract:
// every operation with LSN >= from_lsn), and its progress never goes
// back. (A start past the next LSN is refused: TestWatchFromAfterLastLSN.)
func TestWatchFromFutureLSN(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	from := f.bus.LastLSN() + 1
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rpc := mmsbv1connect.NewBusServiceClient(http.DefaultClient, f.http.URL)
	stream, err := rpc.Watch(wctx, connect.NewRequest(&mmsbv1.WatchRequest{FromLsn: uint64(from)}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stream.Close() }()
	if !stream.Receive() {
		t.Fatalf("no first message: %v", stream.Err())
	}
	progress := stream.Msg().GetProgressLsn()
	for i := range 6 {
		if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{byte(i)})}); err != nil {
			t.Fatal(err)
		}
	}
	last := uint64(f.bus.LastLSN())
	var got []uint64
	for progress < last && stream.Receive() {
		m := stream.Msg()
		for _, c := range m.GetChanges() {
			got = append(got, c.GetLsn())
		}
		if m.GetProgressLsn() < progress {
			t.Fatalf("progress went back from %d to %d", progress, m.GetProgressLsn())
		}
		progress = m.GetProgressLsn()
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := []uint64{}
	for l := uint64(from); l <= last; l++ {
		want = append(want, l)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("watch from LSN %d delivered LSNs %v, want %v", from, got, want)
	}
}

// TestWatchSelection: pages and overlapping, nested and touching ranges
// select exactly the operations on the pages they name; a watch naming more
// than 2^20 pages and ranges is refused.
func TestWatchSelection(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	specs := make([]mmsb.PageSpec, 24)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 8}
	}
	ids, err := f.c.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	start := f.bus.LastLSN() + 1
	for _, id := range ids {
		if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{1})}); err != nil {
			t.Fatal(err)
		}
	}
	last := f.bus.LastLSN()
	r := func(a, b int) [2]mmsb.PageID { return [2]mmsb.PageID{ids[a], ids[b]} }
	cases := []struct {
		name   string
		pages  []int
		ranges [][2]mmsb.PageID
	}{
		{"one page", []int{2}, nil},
		{"pages and a range", []int{0, 23}, [][2]mmsb.PageID{r(5, 7)}},
		{"overlapping ranges", nil, [][2]mmsb.PageID{r(4, 8), r(3, 5), r(6, 10)}},
		{"nested ranges", nil, [][2]mmsb.PageID{r(2, 20), r(5, 6)}},
		{"touching ranges out of order", nil, [][2]mmsb.PageID{r(9, 12), r(13, 13), r(1, 8)}},
		{"separate ranges", []int{15}, [][2]mmsb.PageID{r(20, 21), r(0, 0), r(10, 11)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := client.WatchOptions{FromLSN: start, Ranges: c.ranges, Progress: 5 * time.Millisecond}
			for _, i := range c.pages {
				opts.Pages = append(opts.Pages, ids[i])
			}
			wanted := func(p mmsb.PageID) bool {
				if slices.Contains(opts.Pages, p) {
					return true
				}
				for _, r := range c.ranges {
					if p >= r[0] && p <= r[1] {
						return true
					}
				}
				return false
			}
			got := collect(t, f.c, opts, func() mmsb.LSN { return last }, nil)
			checkSame(t, got, logLSNs(t, f.bus, start, last, wanted))
		})
	}
	t.Run("too many", func(t *testing.T) {
		req := &mmsbv1.WatchRequest{Pages: []uint64{1}}
		for i := range 1 << 20 {
			req.Ranges = append(req.Ranges, &mmsbv1.PageRange{First: uint64(i), Last: uint64(i)})
		}
		rpc := mmsbv1connect.NewBusServiceClient(http.DefaultClient, f.http.URL)
		stream, err := rpc.Watch(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = stream.Close() }()
		if stream.Receive() {
			t.Fatal("a watch of 2^20 ranges and a page was accepted")
		}
		wantCode(t, stream.Err(), connect.CodeResourceExhausted)
	})
}

// TestWatchThroughLogReadErrors: while reads of the log fail, the hub
// demotes its watchers and their own reads fail too (the client sees an
// error and resumes); once reads work again the watch has delivered every
// change exactly once, in LSN order, as the log holds them. Negative
// control (by hand): a hub that skips the failed step without demoting
// its watchers loses it, and the watch fails at collect's deadline.
func TestWatchThroughLogReadErrors(t *testing.T) {
	var failReads atomic.Int32 // reads of the log still to fail
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpRead && strings.Contains(op.Path, "wal") && failReads.Add(-1) >= 0 {
			return errorfs.ErrInjected
		}
		return nil
	}))
	f := newFixture(t, fixOpts{dir: "/db", bus: &mmsb.Options{FS: fs}, clientO: []client.Option{client.WithRetries(20, time.Millisecond)}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	start := f.bus.LastLSN() + 1
	commit := func(n int) {
		for i := range n {
			if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{byte(i)})}); err != nil {
				t.Error(err)
				return
			}
		}
	}
	commit(5)
	var (
		last   atomic.Uint64
		phase  atomic.Int32
		drove  = make(chan struct{})
		events int
	)
	// The commits run beside the watch: once the watch has had an event
	// and is served by the hub (so the first failing read is the hub's),
	// the faults are armed and five more are committed, and once the
	// reads have failed, five more and the end.
	go func() {
		defer close(drove)
		for phase.Load() == 0 || f.srv.WatchStats().Synced == 0 {
			time.Sleep(time.Millisecond)
		}
		failReads.Store(3)
		commit(5)
		for failReads.Load() > 0 {
			time.Sleep(time.Millisecond)
		}
		commit(5)
		last.Store(uint64(f.bus.LastLSN()))
	}()
	got := collect(t, f.c, client.WatchOptions{FromLSN: start, Progress: 5 * time.Millisecond},
		func() mmsb.LSN { return mmsb.LSN(last.Load()) },
		func() {
			if events++; events == 1 {
				phase.Store(1)
			}
		})
	recv(t, drove, "end of the commits")
	if fs.Injected() < 3 {
		t.Fatalf("%d log reads failed, want 3: the faults were not reached", fs.Injected())
	}
	checkSame(t, got, logLSNs(t, f.bus, start, mmsb.LSN(last.Load()), func(mmsb.PageID) bool { return true }))
}
