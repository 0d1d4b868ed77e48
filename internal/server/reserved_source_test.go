package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// TestCommitReservedSource: a client cannot label its deltas with a source
// only the engine writes ("propagation" for recompute functions, "replay"
// for replay), whether as a delta's own source or as the Commit request's,
// in Commit or Submit: the call fails with invalid_argument wrapping
// mmsb.ErrInvalidDelta, naming the source and the delta, and nothing of
// the batch is logged or queued. Before: "want code invalid_argument, got
// success", the batch committed with the label, so QueryLog's
// "propagation" filter took the client's write for a derived one. The
// negative control: the other
// well-known sources, custom ones (a differently cased "Propagation"
// included) and none at all ("rpc") are committed as sent.
func TestCommitReservedSource(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixOpts{})
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	raw := mmsbv1connect.NewBusServiceClient(f.http.Client(), f.http.URL)
	// The batch: a plain write, then the one labelled source.
	batch := func(source string) []mmsb.Delta {
		a, b := mmsb.Write(ids[0], 0, []byte("a")), mmsb.Write(ids[1], 0, []byte("b"))
		a.Source, b.Source = delta.SourceAPI, source
		return []mmsb.Delta{a, b}
	}
	// Each way a client can name a source; it returns the source the
	// second delta should be logged with when accepted, and the error.
	ways := []struct {
		name string
		call func(source string) (string, error)
	}{
		{"the delta's own source", func(source string) (string, error) {
			_, err := f.c.Commit(ctx, batch(source))
			if source == "" {
				source = "rpc"
			}
			return source, err
		}},
		{"the request's source", func(source string) (string, error) {
			ds := batch("") // the second delta takes the request's source
			_, err := raw.Commit(ctx, connect.NewRequest(&mmsbv1.CommitRequest{Deltas: wire.DeltasToProtoAliased(ds), Source: source}))
			if source == "" {
				source = "rpc"
			}
			return source, err
		}},
	}
	sources := []struct {
		source   string
		reserved bool
	}{
		{delta.SourcePropagation, true},
		{delta.SourceReplay, true},
		{delta.SourceAPI, false},
		{delta.SourceBench, false},
		{"custom-writer", false},
		{"Propagation", false},
		{"", false},
	}
	for _, w := range ways {
		for _, src := range sources {
			t.Run(fmt.Sprintf("%s %q", w.name, src.source), func(t *testing.T) {
				lastBefore, hashBefore := f.bus.LastLSN(), f.hash(t)
				logged, err := w.call(src.source)
				if !src.reserved {
					if err != nil {
						t.Fatalf("source %q refused: %v", src.source, err)
					}
					if got := loggedSource(t, f.bus, f.bus.LastLSN()); got != logged {
						t.Fatalf("source %q logged as %q, want %q", src.source, got, logged)
					}
					return
				}
				wantCode(t, err, connect.CodeInvalidArgument)
				if !isInvalidDelta(err) {
					t.Fatalf("the refusal does not wrap mmsb.ErrInvalidDelta: %v", err)
				}
				for _, s := range []string{fmt.Sprintf("source %q", src.source), "delta 1", fmt.Sprintf("page %d", ids[1])} {
					if !strings.Contains(err.Error(), s) {
						t.Fatalf("the refusal does not say %q: %v", s, err)
					}
				}
				if last := f.bus.LastLSN(); last != lastBefore || f.hash(t) != hashBefore {
					t.Fatalf("a refused batch moved the last LSN from %d to %d (or changed the state)", lastBefore, last)
				}
			})
		}
	}
}

// TestSubmitReservedSource: Submit refuses a reserved source as Commit
// does, and queues none of the batch. Before: "want code invalid_argument,
// got success", the batch queued. Control: a custom source is queued and
// committed with its label.
func TestSubmitReservedSource(t *testing.T) {
	ctx := context.Background()
	f := newSubmitFixture(t, 8)
	for _, src := range []string{delta.SourcePropagation, delta.SourceReplay, "custom-writer"} {
		a, b := mmsb.Write(f.ids[0], 0, []byte("a")), mmsb.Write(f.ids[1], 0, []byte("b"))
		b.Source = src
		err := f.c.Submit(ctx, []mmsb.Delta{a, b})
		if src == "custom-writer" {
			if err != nil {
				t.Fatalf("Submit with source %q: %v", src, err)
			}
			if n := f.tick(t); n != 2 {
				t.Fatalf("Submit with source %q: the tick committed %d deltas, want 2", src, n)
			}
			if got := loggedSource(t, f.bus, f.bus.LastLSN()); got != src {
				t.Fatalf("logged with source %q, want %q", got, src)
			}
			continue
		}
		wantCode(t, err, connect.CodeInvalidArgument)
		if !errors.Is(err, mmsb.ErrInvalidDelta) || !strings.Contains(err.Error(), fmt.Sprintf("source %q", src)) ||
			!strings.Contains(err.Error(), "Submit: delta 1") {
			t.Fatalf("want an ErrInvalidDelta naming Submit's delta 1 and source %q, got %v", src, err)
		}
		if n := f.tick(t); n != 0 {
			t.Fatalf("a refused Submit (source %q) queued %d deltas", src, n)
		}
	}
}

// isInvalidDelta reports whether err carries mmsb.ErrInvalidDelta: through
// the Go client, errors.Is; from the raw Connect client, the sentinel's
// name in the error's metadata, which the Go client turns into it.
func isInvalidDelta(err error) bool {
	if errors.Is(err, mmsb.ErrInvalidDelta) {
		return true
	}
	var ce *connect.Error
	return errors.As(err, &ce) && slices.Contains(ce.Meta().Values(wire.SentinelsKey), "ErrInvalidDelta")
}

// loggedSource returns the source of the delta logged at lsn.
func loggedSource(t *testing.T, bus *mmsb.Bus, lsn mmsb.LSN) string {
	t.Helper()
	var src string
	found := false
	err := bus.QueryLog(context.Background(), mmsb.LogQuery{FromLSN: lsn, ToLSN: lsn}, func(lo *mmsb.LoggedOp) bool {
		src, found = lo.Op.Delta.Source, lo.Op.Kind == mmsb.OpDelta
		return false
	})
	if err != nil || !found {
		t.Fatalf("no delta logged at LSN %d: %v", lsn, err)
	}
	return src
}
