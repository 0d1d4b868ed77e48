package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestProvenanceFirstWriteTooLarge: a Provenance answer always holds its
// first write, which cannot be cut short; one larger than a client reads
// (128 MiB, lowered to 64 KiB here) is refused with resource_exhausted
// naming ErrAnswerTooLarge, the write's size and the bound. A delta with
// an intent of up to a log record (256 MiB) went in one answer, which the
// Go client refused with its read limit, naming neither the call nor the
// intent. The control, a 1 KiB intent, is answered whole.
func TestProvenanceFirstWriteTooLarge(t *testing.T) {
	const bound = 64 << 10
	for _, tc := range []struct {
		name    string
		intent  int
		refused bool
	}{
		{"intent past the bound", 100 << 10, true},
		{"control: 1 KiB intent", 1 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixOpts{setup: func(s *server.Server) { server.SetMaxAnswerBytes(s, bound) }})
			ctx := context.Background()
			id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
			if err != nil {
				t.Fatal(err)
			}
			d := mmsb.Write(id, 0, []byte("x"))
			d.Intent = bytes.Repeat([]byte{'i'}, tc.intent)
			if _, err := f.c.Commit(ctx, []mmsb.Delta{d}); err != nil {
				t.Fatal(err)
			}
			r, err := f.c.Provenance(ctx, id, 0, 1, 0)
			if !tc.refused {
				if err != nil || len(r.Writes) != 1 || len(r.Writes[0].Intent) != tc.intent {
					t.Fatalf("Provenance = %+v, %v; want the write with its intent", r, err)
				}
				return
			}
			if connect.CodeOf(err) != connect.CodeResourceExhausted {
				t.Fatalf("Provenance = %v (code %v), want resource_exhausted", err, connect.CodeOf(err))
			}
			for _, want := range []string{server.ErrAnswerTooLarge.Error(), "intent 102400", "65536 bytes"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("Provenance = %q, want it to name %q", err, want)
				}
			}
		})
	}
}
