package server

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestLogReadsSkipParentReads: the server's three readers of the log (the
// QueryLog handler, a watcher's catch-up and the epochs' replay) leave the
// parent reads of derived writes undecoded, as nothing the server sends
// carries them. Over the 8 writes of a page derived from 2^16 parents each
// allocates less than 1 MiB. Each decoded the writes' 2^16 parent reads
// (16 bytes each, copied once more into the answer): 1 MiB and its growth
// twice over per write, 11 MB for the 8, per query or watcher catching
// up.
func TestLogReadsSkipParentReads(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	const parents, writes = 1 << 16, 8
	specs := make([]mmsb.PageSpec, parents+1)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 8}
	}
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	sum := ids[parents]
	if err := bus.Bind(ctx, sum, "f64.sum", nil, ids[:parents]); err != nil {
		t.Fatal(err)
	}
	// The stretch read below starts after the creations and the Bind,
	// whose own decoding (2^16 creations, the Bind's 2^16 parents) is
	// not in question here.
	from := bus.LastLSN() + 1
	for i := range writes {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[i], 0, []byte{byte(i + 1)})}); err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Propagate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	to := bus.LastLSN()
	if err := bus.WaitDurable(ctx, to); err != nil {
		t.Fatal(err)
	}

	srv, err := New(Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(HTTPOptions{}))
	t.Cleanup(func() {
		hs.CloseClientConnections()
		_ = srv.Shutdown(context.Background())
		hs.Close()
	})
	c, err := client.New(hs.URL, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}

	// allocated runs read twice, the first to warm what is kept between
	// reads (the bus's idle log readers and their buffers, the client's
	// connection), and returns what the second allocated.
	allocated := func(read func() int) uint64 {
		t.Helper()
		if n := read(); n != writes {
			t.Fatalf("%d derived writes read, want %d", n, writes)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n := read()
		runtime.ReadMemStats(&after)
		if n != writes {
			t.Fatalf("%d derived writes read, want %d", n, writes)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	for _, tc := range []struct {
		name string
		read func() int // the derived writes it read
	}{
		{"the QueryLog handler", func() int {
			n := 0
			err := c.QueryLog(ctx, mmsb.LogQuery{FromLSN: from, ToLSN: to}, func(lo *mmsb.LoggedOp) bool {
				if lo.Op.Kind == mmsb.OpDerived {
					n++
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}},
		{"a watcher's catch-up (readChanges)", func() int {
			changes, last, err := readChanges(ctx, bus, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if last != to {
				t.Fatalf("readChanges(%d, %d) stopped at LSN %d", from, to, last)
			}
			n := 0
			for _, ch := range changes {
				if ch.Kind == mmsb.OpDerived.String() {
					n++
				}
			}
			return n
		}},
		{"the epochs' replay (newEpochTrackerOn)", func() int {
			// A base at the last LSN and a tracker at the LSN before the
			// writes: the tracker replays the writes backward. The base
			// knows the sum only, which the replay then keeps in its
			// overlay, at the sum's epoch less the 8 writes.
			info, err := bus.Page(sum)
			if err != nil {
				t.Fatal(err)
			}
			e := info.Epoch
			b := &epochBase{at: to, pages: []pageEpoch{{sum, e}}}
			tr, err := newEpochTrackerOn(ctx, bus, b, from-1, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tr.get(sum)
			if !ok || got != e-writes {
				t.Fatalf("the tracker at LSN %d gives the sum epoch %d (known %v), want %d", from-1, got, ok, e-writes)
			}
			return int(e - got)
		}},
	} {
		got := allocated(tc.read)
		t.Logf("%s: %d bytes for %d derived writes of %d parents", tc.name, got, writes, parents)
		if got > 1<<20 {
			t.Errorf("%s allocated %d bytes for %d derived writes of page %d (%d parents), over 1 MiB: it decodes each write's parent reads, which it never sends", tc.name, got, writes, sum, parents)
		}
	}
}
