package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// TestReadOutOfRangeSaysRead: a Read of a range outside its page says
// "read out of page range" (the sentinel's text said "write" until
// 2026-12-07, which a read is not), and still carries
// mmsb.ErrOutOfRange to the client (errors.Is), for an offset or a range
// past the page's end, now or as of an LSN, and a range past the largest
// page size.
func TestReadOutOfRangeSaysRead(t *testing.T) {
	f := newFixture(t, fixOpts{dir: t.TempDir(), ticks: true})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	p := uint64(id)
	for _, c := range []struct {
		name string
		asOf mmsb.LSN
		item *mmsbv1.ReadItem
	}{
		{"offset past the end", 0, &mmsbv1.ReadItem{Page: p, Off: 17}},
		{"range past the end", 0, &mmsbv1.ReadItem{Page: p, Off: 10, Length: 10}},
		{"as of, offset past the end", 2, &mmsbv1.ReadItem{Page: p, Off: 17}},
		{"as of, range past the end", 2, &mmsbv1.ReadItem{Page: p, Off: 10, Length: 10}},
		{"range longer than any page", 0, &mmsbv1.ReadItem{Page: p, Off: 1 << 31, Length: 1 << 31}},
	} {
		_, err := f.c.Read(ctx, []*mmsbv1.ReadItem{c.item}, c.asOf)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !errors.Is(err, mmsb.ErrOutOfRange) ||
			!strings.Contains(err.Error(), "read out of page range") || strings.Contains(err.Error(), "write") {
			t.Errorf("%s: %v; want invalid_argument, mmsb.ErrOutOfRange, saying \"read out of page range\" and not \"write\"", c.name, err)
		}
	}
}
