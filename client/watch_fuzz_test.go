package client

import (
	"errors"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// FuzzWatchMessages: any two messages a server may send on a Watch stream
// decode without panicking, and what watchEvent delivers keeps the watch's
// promise: changes in strictly increasing LSN order, none before the
// watch's next LSN, none twice across the two messages, the next LSN never
// going back, a delta on exactly the "delta" and "derived" changes and of
// the change's page; a message it refuses (ErrBadResponse or
// mmsb.ErrInvalidDelta) delivers nothing and leaves the next LSN where it
// was. Before, a change at LSN 2^64-1 left the next LSN behind it (lsn+1
// wrapped to 0), so the second message delivered it again (seed 4); and
// until 2026-12-04 a change on page 4 carrying a delta of page 3, and a
// delta change without a delta (nil Delta), were delivered (seeds 6, 7).
// The watch's next LSN may be 0: a Watch from LSN 0 (the oldest LSN the
// log holds) has next 0 until its opening message, and no change at LSN
// 0, which no operation has, is ever delivered (seeds 8, 9; the target
// clamped next to 1 until 2026-12-07, so it never checked a watch from 0,
// which delivered a change at LSN 0 for a while that day).
func FuzzWatchMessages(f *testing.F) {
	d := mmsb.Write(3, 2, []byte("ab"))
	enc := func(m *mmsbv1.WatchResponse) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	change := func(lsn uint64, kind string) *mmsbv1.Change {
		return &mmsbv1.Change{Lsn: lsn, Page: 3, Kind: kind}
	}
	withDelta := &mmsbv1.Change{Lsn: 5, Page: 3, Kind: "delta", Delta: wire.DeltaToProto(&d), Epoch: 2}
	seeds := []struct {
		a, b *mmsbv1.WatchResponse
		next uint64
	}{
		{&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{withDelta}, ProgressLsn: 5}, &mmsbv1.WatchResponse{ProgressLsn: 9}, 1},
		{&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{change(4, "meta"), change(3, "meta")}}, &mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{change(4, "meta")}, ProgressLsn: 2}, 1},
		{&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{change(4, "teleport")}}, &mmsbv1.WatchResponse{}, 1},
		{&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{{Lsn: 6, Kind: "delta", Delta: &mmsbv1.Delta{Page: 1, Form: 7}}}}, &mmsbv1.WatchResponse{}, 1},
		{&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{change(math.MaxUint64, "meta")}}, &mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{change(math.MaxUint64, "meta")}}, 1},
		{&mmsbv1.WatchResponse{ProgressLsn: math.MaxUint64}, &mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{change(7, "meta")}}, 1},
		{&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{{Lsn: 5, Page: 4, Kind: "delta", Delta: wire.DeltaToProto(&d), Epoch: 2}}}, &mmsbv1.WatchResponse{}, 1},
		{&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{change(5, "derived")}}, &mmsbv1.WatchResponse{}, 1},
		{&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{change(0, "meta"), change(4, "meta")}}, &mmsbv1.WatchResponse{}, 0},
		{&mmsbv1.WatchResponse{ProgressLsn: 3}, &mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{change(4, "meta")}}, 0},
	}
	for _, s := range seeds {
		f.Add(enc(s.a), enc(s.b), s.next)
	}
	f.Fuzz(func(t *testing.T, a, b []byte, next uint64) {
		seen := map[mmsb.LSN]bool{}
		nx := mmsb.LSN(next)
		for _, raw := range [][]byte{a, b} {
			var m mmsbv1.WatchResponse
			if proto.Unmarshal(raw, &m) != nil {
				return
			}
			ev, got, err := watchEvent(&m, nx)
			atZero := false
			for _, c := range m.GetChanges() {
				atZero = atZero || c.GetLsn() == 0
			}
			if atZero && err == nil {
				t.Fatalf("a message with a change at LSN 0 (next %d) accepted: %d changes delivered", nx, len(ev.Changes))
			}
			if err != nil {
				if !errors.Is(err, ErrBadResponse) && !errors.Is(err, mmsb.ErrInvalidDelta) {
					t.Fatalf("refused with %v, want ErrBadResponse or mmsb.ErrInvalidDelta", err)
				}
				if len(ev.Changes) != 0 || got != nx {
					t.Fatalf("a refused message delivered %d changes and moved next %d to %d", len(ev.Changes), nx, got)
				}
				return
			}
			if got < nx {
				t.Fatalf("next went back from %d to %d", nx, got)
			}
			prev := mmsb.LSN(0)
			for _, c := range ev.Changes {
				if c.LSN < nx || c.LSN >= got || c.LSN <= prev {
					t.Fatalf("change at LSN %d delivered with next %d -> %d after LSN %d", c.LSN, nx, got, prev)
				}
				if seen[c.LSN] {
					t.Fatalf("change at LSN %d delivered twice", c.LSN)
				}
				if isDelta := c.Kind == mmsb.OpDelta || c.Kind == mmsb.OpDerived; isDelta != (c.Delta != nil) {
					t.Fatalf("change at LSN %d of kind %v delivered with Delta set: %v", c.LSN, c.Kind, c.Delta != nil)
				}
				if c.Delta != nil && (c.Delta.LSN != c.LSN || c.Delta.Page != c.Page) {
					t.Fatalf("change at LSN %d on page %d delivered with a delta at LSN %d of page %d", c.LSN, c.Page, c.Delta.LSN, c.Delta.Page)
				}
				seen[c.LSN], prev = true, c.LSN
			}
			nx = got
		}
	})
}

// FuzzProvenanceAnswer: any bytes a server may send as a Provenance answer
// decode without panicking, and an accepted answer is one a caller can
// walk: every Parent is -1 for the first write and an earlier write's
// index for the others, and no kind is unknown. Seeds: an answer the
// server sends, one with a parent out of range (after the write, and below
// -1: accepted until 2026-12-05), one of an unknown kind.
func FuzzProvenanceAnswer(f *testing.F) {
	for _, m := range []*mmsbv1.ProvenanceResponse{
		{Writes: []*mmsbv1.ProvenanceWrite{{Page: 1, Lsn: 5, Kind: "derived", Parent: -1}, {Page: 2, Lsn: 4, Kind: "delta", Depth: 1, Parent: 0}, {Depth: 2, Parent: 1, Lost: true}}},
		{Writes: []*mmsbv1.ProvenanceWrite{{Page: 1, Lsn: 5, Kind: "derived", Parent: -1}, {Page: 2, Lsn: 4, Kind: "delta", Parent: 9}}},
		{Writes: []*mmsbv1.ProvenanceWrite{{Page: 1, Lsn: 5, Kind: "derived", Parent: -1}, {Page: 2, Lsn: 4, Kind: "delta", Parent: -7}}},
		{Writes: []*mmsbv1.ProvenanceWrite{{Page: 1, Lsn: 5, Kind: "teleport", Parent: -1}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m mmsbv1.ProvenanceResponse
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		r, err := provenanceFromProto(&m, 1, 0, 1)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("refused with %v, want ErrBadResponse", err)
			}
			return
		}
		if len(r.Writes) != len(m.GetWrites()) {
			t.Fatalf("%d writes decoded of %d", len(r.Writes), len(m.GetWrites()))
		}
		for i, w := range r.Writes {
			if i == 0 && w.Parent != -1 || i > 0 && (w.Parent < 0 || w.Parent >= i) {
				t.Fatalf("write %d accepted with parent %d", i, w.Parent)
			}
			if w.Kind == 0 && m.GetWrites()[i].GetKind() != "" {
				t.Fatalf("write %d of kind %q accepted as kind 0", i, m.GetWrites()[i].GetKind())
			}
		}
	})
}
