package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"runtime"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// TestReadAsOfCountedFirst: a Read of one page as of an LSN counts the
// page's copy as of that LSN against the bounds on answer bytes before it
// is made, as a whole-page Read counts its page
// (TestReadWholePageCountedFirst). With another answer holding 512 KiB
// and a bound of 1 MiB, an as-of Read of a 16 MiB page is refused
// (Mmsb-Busy) having allocated far less than the page: until 2026-12-07
// the page was replayed and copied first, and the copies dropped at the
// refusal. Alone, it is answered byte for byte, and once answered the
// answer counts its bytes and ReadItemCost, not the copy it was cut from.
func TestReadAsOfCountedFirst(t *testing.T) {
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
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(big, mmsb.MaxPageSize-3, []byte("end"))}); err != nil {
		t.Fatal(err)
	}
	asOf := bus.LastLSN()
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(big, mmsb.MaxPageSize-3, []byte("new"))}); err != nil {
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
	read := func() (*mmsbv1.ReadResponse, *answerHold, uint64, error) {
		hold := &answerHold{byteHold{l: l, b: &l.answers, key: "10.0.0.1", bounded: true}}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		resp, err := s.Read(context.WithValue(ctx, answerHoldKey{}, hold),
			connect.NewRequest(&mmsbv1.ReadRequest{Items: []*mmsbv1.ReadItem{{Page: uint64(big)}}, AsOfLsn: uint64(asOf)}))
		runtime.ReadMemStats(&after)
		if err != nil {
			return nil, hold, after.TotalAlloc - before.TotalAlloc, err
		}
		return resp.Msg, hold, after.TotalAlloc - before.TotalAlloc, nil
	}

	_, hold, alloc, err := read()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get(BusyKey) == "" {
		t.Fatalf("an as-of Read of 16 MiB beside an answer of 512 KiB, bound 1 MiB: %v, want resource_exhausted with %s", err, BusyKey)
	}
	if alloc > mmsb.MaxPageSize/4 {
		t.Errorf("the as-of Read refused at the bound allocated %d bytes: its page was copied before it was counted", alloc)
	}
	hold.drop()
	other.drop()

	l.answers.max, l.answers.perClient = 1<<30, 1<<30
	resp, hold, _, err := read()
	if err != nil {
		t.Fatalf("an as-of Read of 16 MiB alone: %v", err)
	}
	data := resp.GetPages()[0].GetData()
	if len(data) != mmsb.MaxPageSize || !bytes.HasSuffix(data, []byte("end")) || resp.GetLsn() != uint64(asOf) {
		t.Fatalf("an as-of Read of page %d at LSN %d: %d bytes at LSN %d, want %d ending in %q", big, asOf, len(data), resp.GetLsn(), mmsb.MaxPageSize, "end")
	}
	if want := int64(ReadItemCost + mmsb.MaxPageSize); hold.n != want {
		t.Errorf("an as-of Read of %d bytes: the answer counts %d bytes, want %d (its bytes and ReadItemCost)", mmsb.MaxPageSize, hold.n, want)
	}
	hold.drop()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.answers.total != 0 {
		t.Errorf("every answer given back: the answers still hold %d bytes", l.answers.total)
	}
}

// TestReadAsOfSeveralPagesCounted: a Read of several pages as of an LSN
// replays the whole bus, whose pages count against the bounds on answer
// bytes as a single page's copy does, before the replay is made. With
// another answer holding 512 KiB and a bound of 4 MiB, an as-of Read of
// one byte of each of two pages of 2 MiB is refused (Mmsb-Busy) before
// the replay (having allocated less than 64 KiB); alone it is answered,
// and every byte it counted is given back with its answer. Control:
// until 2026-12-07 the replayed bus was not counted and the Read was
// served beside the other answer; counted after the replay, it was
// refused having allocated 557968 bytes (the bound here was 2 MiB until
// r1's review, which such a control passed).
func TestReadAsOfSeveralPagesCounted(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ctx := context.Background()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 2 << 20}, {Size: 2 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte("a")), mmsb.Write(ids[1], 0, []byte("b"))}); err != nil {
		t.Fatal(err)
	}
	asOf := bus.LastLSN()
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte("c"))}); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Bus: bus, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	l := LimitRequests(nil, 0, 4, quiet).(*requestLimit)
	l.answers.max, l.answers.perClient = 4<<20, 4<<20
	other := &answerHold{byteHold{l: l, b: &l.answers, key: "10.0.0.1", bounded: true}}
	if flag, _, _ := other.take(512 << 10); flag != "" {
		t.Fatalf("another answer of 512 KiB under a bound of 4 MiB: refused (%s)", flag)
	}
	read := func() (*mmsbv1.ReadResponse, *answerHold, uint64, error) {
		hold := &answerHold{byteHold{l: l, b: &l.answers, key: "10.0.0.1", bounded: true}}
		req := &mmsbv1.ReadRequest{Items: []*mmsbv1.ReadItem{{Page: uint64(ids[0]), Length: 1}, {Page: uint64(ids[1]), Length: 1}}, AsOfLsn: uint64(asOf)}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		resp, err := s.Read(context.WithValue(ctx, answerHoldKey{}, hold), connect.NewRequest(req))
		runtime.ReadMemStats(&after)
		if err != nil {
			return nil, hold, after.TotalAlloc - before.TotalAlloc, err
		}
		return resp.Msg, hold, after.TotalAlloc - before.TotalAlloc, nil
	}

	// The fewest bytes of three tries: other goroutines may allocate
	// beside one.
	least := uint64(math.MaxUint64)
	for range 3 {
		_, hold, alloc, err := read()
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get(BusyKey) == "" {
			t.Fatalf("an as-of Read of two pages of 2 MiB beside an answer of 512 KiB, bound 4 MiB: %v, want resource_exhausted with %s", err, BusyKey)
		}
		least = min(least, alloc)
		hold.drop()
	}
	// The replayed pages are mapped outside Go's heap: a replay made
	// before the count shows as its Go allocations (about 0.5 MB here),
	// a Read refused first allocates about 1 KB.
	if least > 64<<10 {
		t.Errorf("the as-of Read refused at the bound allocated %d bytes: the bus was replayed before it was counted", least)
	}
	other.drop()

	resp, hold, _, err := read()
	if err != nil {
		t.Fatalf("an as-of Read of two pages alone: %v", err)
	}
	if p := resp.GetPages(); len(p) != 2 || string(p[0].GetData()) != "a" || string(p[1].GetData()) != "b" || resp.GetLsn() != uint64(asOf) {
		t.Fatalf("an as-of Read of pages %v at LSN %d: %v", ids, asOf, resp)
	}
	hold.drop()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.answers.total != 0 {
		t.Errorf("every answer given back: the answers still hold %d bytes", l.answers.total)
	}
}
