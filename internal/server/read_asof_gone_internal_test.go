package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// TestReadAsOfGonePageServed: a Read as of an LSN of a page freed since,
// whose size is then unknown before the replay, is served when its copy
// fits beside the other answers, though the largest page size would not:
// until 2026-12-07 it counted 16 MiB first and was refused beside answers
// holding all but a few MiB of the bound. Once answered it counts its
// bytes and ReadItemCost; where its copy does not fit, it is refused
// (Mmsb-Busy), and everything is given back.
func TestReadAsOfGonePageServed(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ctx := context.Background()
	const size = 4 << 10
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, size-3, []byte("end"))}); err != nil {
		t.Fatal(err)
	}
	asOf := bus.LastLSN()
	if err := bus.FreePage(ctx, id); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Bus: bus, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	l := LimitRequests(nil, 0, 4, quiet).(*requestLimit)
	const bound = 32 << 20
	l.answers.max, l.answers.perClient = bound, bound
	read := func(othersHold int64) (*mmsbv1.ReadResponse, *answerHold, error) {
		t.Helper()
		other := &answerHold{byteHold{l: l, b: &l.answers, key: "10.0.0.2", bounded: true}}
		if flag, _, _ := other.take(othersHold); flag != "" {
			t.Fatalf("another answer of %d bytes under a bound of %d: refused (%s)", othersHold, bound, flag)
		}
		defer other.drop()
		hold := &answerHold{byteHold{l: l, b: &l.answers, key: "10.0.0.1", bounded: true}}
		resp, err := s.Read(context.WithValue(ctx, answerHoldKey{}, hold),
			connect.NewRequest(&mmsbv1.ReadRequest{Items: []*mmsbv1.ReadItem{{Page: uint64(id)}}, AsOfLsn: uint64(asOf)}))
		if err != nil {
			return nil, hold, err
		}
		return resp.Msg, hold, nil
	}

	resp, hold, err := read(bound - 1<<20)
	if err != nil {
		t.Fatalf("an as-of Read of a freed page of %d bytes beside answers holding all but 1 MiB of the bound: %v", size, err)
	}
	if data := resp.GetPages()[0].GetData(); len(data) != size || !bytes.HasSuffix(data, []byte("end")) {
		t.Fatalf("an as-of Read of freed page %d at LSN %d: %d bytes, want %d ending in %q", id, asOf, len(data), size, "end")
	}
	if want := int64(ReadItemCost + size); hold.n != want {
		t.Errorf("an as-of Read of a freed page of %d bytes: the answer counts %d bytes, want %d (its bytes and ReadItemCost)", size, hold.n, want)
	}
	hold.drop()

	_, hold, err = read(bound - ReadItemCost - size/2)
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get(BusyKey) == "" {
		t.Fatalf("an as-of Read of a freed page of %d bytes beside answers leaving room for half of it: %v, want resource_exhausted with %s", size, err, BusyKey)
	}
	hold.drop()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.answers.total != 0 {
		t.Errorf("every answer given back: the answers still hold %d bytes", l.answers.total)
	}
}
