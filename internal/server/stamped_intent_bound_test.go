package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// TestCommitStampedIntentBound: a Commit request's intent and source
// are logged with every delta of its batch that has none of its own, so
// the server bounds what they add up to (64 MiB, what a request may
// carry): over it, the batch is refused with InvalidArgument
// (ErrInvalidDelta) naming each one's size, the deltas it would be given
// to and the total, and nothing is committed. Until 2026-12-06 a request
// of 1.3 MB (a 1 MiB intent, or source, on 255 one-byte deltas) logged
// 255 MiB, and only the log's 256 MiB record limit stopped larger ones,
// after the bus had encoded that much.
func TestCommitStampedIntentBound(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	rpc := mmsbv1connect.NewBusServiceClient(f.http.Client(), f.http.URL)
	const mib = 1 << 20
	for _, tc := range []struct {
		name           string
		source, intent int // bytes of the request's
		deltas         int
		own            bool     // each delta carries a 1-byte source and intent of its own
		want           []string // in the refusal; none: committed
	}{
		{name: "intent: 1 MiB on 1000 deltas", intent: mib, deltas: 1000,
			want: []string{"intent of 1048576 bytes on 1000 deltas", "would log 1048576000 bytes, more than 67108864"}},
		{name: "intent: 1 MiB on 65 deltas", intent: mib, deltas: 65,
			want: []string{"intent of 1048576 bytes on 65 deltas", "would log 68157440 bytes"}},
		{name: "source: 1 MiB on 65 deltas", source: mib, deltas: 65,
			want: []string{"source of 1048576 bytes on 65 deltas", "would log 68157440 bytes"}},
		{name: "source and intent: 512 KiB each on 65 deltas", source: mib / 2, intent: mib / 2, deltas: 65,
			want: []string{"source of 524288 bytes on 65 deltas and intent of 524288 bytes on 65 deltas", "would log 68157440 bytes"}},
		{name: "intent: 1 MiB on 64 deltas, at the bound", intent: mib, deltas: 64},
		{name: "deltas with their own take none", source: mib, intent: mib, deltas: 1000, own: true},
		{name: "small ones on a large batch", source: 16, intent: 16, deltas: 10_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &mmsbv1.CommitRequest{Source: strings.Repeat("s", tc.source), Intent: make([]byte, tc.intent)}
			for i := range tc.deltas {
				d := &mmsbv1.Delta{Page: uint64(id), Runs: []*mmsbv1.Run{{Off: uint32(i % 4096), Data: []byte{byte(i)}}}}
				if tc.own {
					d.Source, d.Intent = "x", []byte{'x'}
				}
				req.Deltas = append(req.Deltas, d)
			}
			before := f.bus.LastLSN()
			_, err := rpc.Commit(ctx, connect.NewRequest(req))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Commit: %v", err)
				}
				if got := f.bus.LastLSN() - before; got != mmsb.LSN(tc.deltas) {
					t.Fatalf("committed %d deltas, want %d", got, tc.deltas)
				}
				return
			}
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("Commit: %v (code %v), want invalid_argument", err, connect.CodeOf(err))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Commit: %v: want %q in it", err, w)
				}
			}
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Meta().Get("Mmsb-Error") != "ErrInvalidDelta" {
				t.Errorf("Commit: %v: want the sentinel ErrInvalidDelta named", err)
			}
			if got := f.bus.LastLSN(); got != before {
				t.Errorf("the refused batch committed: LSN %d -> %d", before, got)
			}
		})
	}
}
