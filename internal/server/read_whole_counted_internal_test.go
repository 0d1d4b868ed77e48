package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// TestReadWholePageCountedFirst: a whole-page Read item (length 0) is
// counted against the bounds on answer bytes before its bytes are copied,
// as a range is. With another answer holding 512 KiB and a bound of 1 MiB,
// a whole-page Read of a 16 MiB page is refused (Mmsb-Busy: answer bytes)
// having allocated far less than the page: until 2026-12-07 the page was
// copied first and the copy dropped at the refusal. Alone, whole pages
// (one of 16 MiB, one of an odd size read from an offset) are answered
// byte for byte, the answer counting exactly their bytes.
func TestReadWholePageCountedFirst(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ctx := context.Background()
	big, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: mmsb.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	const oddSize, oddOff = 100_001, 7
	odd, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: oddSize})
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("0123456789abcdef"), oddSize/16+1)[:oddSize]
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(big, mmsb.MaxPageSize-3, []byte("end")), mmsb.Write(odd, 0, want)}); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Bus: bus, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	l := LimitRequests(nil, 0, 4, quiet).(*requestLimit)
	l.answers.max, l.answers.perClient = 1<<20, 1<<20
	other := &answerHold{byteHold{l: l, b: &l.answers, key: "10.0.0.1", bounded: true}}
	if flag, _, _ := other.take(512 << 10); flag != "" {
		t.Fatalf("another answer of 512 KiB under a bound of 1 MiB: refused (%s)", flag)
	}
	read := func(item *mmsbv1.ReadItem) (*mmsbv1.ReadResponse, *answerHold, uint64, error) {
		hold := &answerHold{byteHold{l: l, b: &l.answers, key: "10.0.0.1", bounded: true}}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		resp, err := s.Read(context.WithValue(ctx, answerHoldKey{}, hold),
			connect.NewRequest(&mmsbv1.ReadRequest{Items: []*mmsbv1.ReadItem{item}}))
		runtime.ReadMemStats(&after)
		if err != nil {
			return nil, hold, after.TotalAlloc - before.TotalAlloc, err
		}
		return resp.Msg, hold, after.TotalAlloc - before.TotalAlloc, nil
	}

	_, hold, alloc, err := read(&mmsbv1.ReadItem{Page: uint64(big)})
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get(BusyKey) == "" {
		t.Fatalf("a whole-page Read of 16 MiB beside an answer of 512 KiB, bound 1 MiB: %v, want resource_exhausted with %s", err, BusyKey)
	}
	if alloc > mmsb.MaxPageSize/4 {
		t.Errorf("the whole-page Read refused at the bound allocated %d bytes: its page was copied before it was counted", alloc)
	}
	hold.drop()
	other.drop()

	l.answers.max, l.answers.perClient = 1<<30, 1<<30
	for _, c := range []struct {
		id        mmsb.PageID
		off, size int
		tail      []byte
	}{
		{big, 0, mmsb.MaxPageSize, []byte("end")},
		{odd, oddOff, oddSize - oddOff, want[oddOff:]},
	} {
		resp, hold, _, err := read(&mmsbv1.ReadItem{Page: uint64(c.id), Off: uint32(c.off)})
		if err != nil {
			t.Fatalf("a whole-page Read of page %d from %d alone: %v", c.id, c.off, err)
		}
		data := resp.GetPages()[0].GetData()
		if len(data) != c.size || !bytes.HasSuffix(data, c.tail) {
			t.Fatalf("a whole-page Read of page %d from %d: %d bytes, want %d ending in its own", c.id, c.off, len(data), c.size)
		}
		if want := int64(ReadItemCost + c.size); hold.n != want {
			t.Errorf("a whole-page Read of %d bytes: the answer counts %d bytes, want %d (its bytes and ReadItemCost)", c.size, hold.n, want)
		}
		hold.drop()
	}
}
