package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// waveBus is an in-memory bus served in process whose page 2 doubles
// page 1, and a client of it; page 1 holds 21 and one wave has run, so
// the log ends with a wave op (mmsb.OpWave, page 0).
func waveBus(t *testing.T) (*mmsb.Bus, *client.Client, mmsb.LSN) {
	t.Helper()
	ctx := context.Background()
	double := func(in [][]byte, _ []byte, out []byte) error { out[0] = 2 * in[0][0]; return nil }
	bus, err := mmsb.Open("", &mmsb.Options{Functions: map[string]mmsb.RecomputeFunc{"double": double}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	c, err := client.New(hs.URL, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ids, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 1}, {Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, ids[1], "double", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{21})}); err != nil {
		t.Fatal(err)
	}
	r, err := bus.Propagate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return bus, c, r.LastLSN
}

// TestWatchAndQueryLogDeliverWave: on a bus that propagates, a watch of
// every page and a QueryLog of the whole log get the wave op that ends
// each wave's record, as kind mmsb.OpWave at page 0 with no delta, and go
// on past it; a watch that selects pages other than 0 does not get it.
// A client that did not know the kind "wave" refused it with
// ErrBadResponse and ended the watch (TestBadResponses' unknown kind).
func TestWatchAndQueryLogDeliverWave(t *testing.T) {
	ctx := context.Background()
	bus, c, waveLSN := waveBus(t)

	watch := func(opts client.WatchOptions, until mmsb.LSN) ([]client.Change, error) {
		var got []client.Change
		done := errors.New("done")
		err := c.Watch(ctx, opts, func(ev client.WatchEvent) error {
			got = append(got, ev.Changes...)
			if ev.ProgressLSN >= until {
				return done
			}
			return nil
		})
		if !errors.Is(err, done) {
			return got, err
		}
		return got, nil
	}
	// A change after the wave: the watch must go on past the wave op.
	info, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, []byte{1})})
	if err != nil {
		t.Fatal(err)
	}
	all, err := watch(client.WatchOptions{FromLSN: 1}, info.LastLSN)
	if err != nil {
		t.Fatalf("watch of every page over a wave: %v", err)
	}
	var wave *client.Change
	for i := range all {
		if all[i].LSN == waveLSN {
			wave = &all[i]
		}
	}
	if wave == nil || wave.Kind != mmsb.OpWave || wave.Page != 0 || wave.Delta != nil {
		t.Fatalf("change at LSN %d: %+v, want kind wave at page 0 without a delta (all: %+v)", waveLSN, wave, all)
	}
	if last := all[len(all)-1]; last.LSN != info.LastLSN || last.Kind != mmsb.OpDelta {
		t.Fatalf("last change %+v, want the delta at LSN %d after the wave", last, info.LastLSN)
	}

	some, err := watch(client.WatchOptions{FromLSN: 1, Pages: []mmsb.PageID{1, 2}}, info.LastLSN)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(some, func(ch client.Change) bool { return ch.Kind == mmsb.OpWave }); i >= 0 {
		t.Fatalf("a watch of pages 1 and 2 got the wave op: %+v", some[i])
	}
	if len(some) != len(all)-1 {
		t.Fatalf("a watch of pages 1 and 2 got %d changes, want %d (all but the wave)", len(some), len(all)-1)
	}

	// QueryLog, whole and by kind; the wire carries the wave's kind
	// alone, so Dirty and Held come back empty.
	var kinds []mmsb.OpKind
	if err := c.QueryLog(ctx, mmsb.LogQuery{}, func(op *mmsb.LoggedOp) bool {
		kinds = append(kinds, op.Op.Kind)
		return true
	}); err != nil {
		t.Fatalf("QueryLog over a wave: %v", err)
	}
	var local []mmsb.OpKind
	if err := bus.QueryLog(ctx, mmsb.LogQuery{}, func(op *mmsb.LoggedOp) bool {
		local = append(local, op.Op.Kind)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kinds, local) || !slices.Contains(kinds, mmsb.OpWave) {
		t.Fatalf("QueryLog kinds %v, the bus's %v (with a wave)", kinds, local)
	}
	var waves []mmsb.LoggedOp
	if err := c.QueryLog(ctx, mmsb.LogQuery{Kinds: []mmsb.OpKind{mmsb.OpWave}}, func(op *mmsb.LoggedOp) bool {
		waves = append(waves, *op)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(waves) != 1 || waves[0].LSN != waveLSN || waves[0].Op.Kind != mmsb.OpWave || waves[0].Op.Page != 0 {
		t.Fatalf("QueryLog of kind wave: %+v, want one wave op at LSN %d", waves, waveLSN)
	}
}
