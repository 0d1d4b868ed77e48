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

// TestReadErrorsNameSentinels: the Read refusals that the bus itself
// would answer with a sentinel carry it to the client, as every bus error
// does (docs/server.md, "Error codes"), and name the item at fault: an
// offset past a page's end or a range past it (mmsb.ErrOutOfRange, as
// Bus.ReadPageRange), an as-of LSN after the last one
// (mmsb.ErrInvalidOption, as Bus.ReadPageAt), an empty Commit or Submit
// batch (mmsb.ErrInvalidDelta, as Bus.Commit). Until 2026-12-06 they
// were invalid_argument with the sentinel in the text only, and
// errors.Is was false on the client; a range longer than any page was
// refused as too large for one answer (resource_exhausted). Control: a
// Read of a page that does not exist names ErrPageNotFound and no other.
func TestReadErrorsNameSentinels(t *testing.T) {
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
	read := func(asOf mmsb.LSN, items ...*mmsbv1.ReadItem) func() error {
		return func() error { _, err := f.c.Read(ctx, items, asOf); return err }
	}
	cases := []struct {
		name      string
		call      func() error
		want, not error
		text      string // in the message
	}{
		{"offset past the end", read(0, &mmsbv1.ReadItem{Page: p}, &mmsbv1.ReadItem{Page: p, Off: 17}), mmsb.ErrOutOfRange, mmsb.ErrPageNotFound, "item 1"},
		{"range past the end", read(0, &mmsbv1.ReadItem{Page: p, Off: 10, Length: 10}), mmsb.ErrOutOfRange, mmsb.ErrInvalidOption, "item 0"},
		{"as of, offset past the end", read(2, &mmsbv1.ReadItem{Page: p, Off: 17}), mmsb.ErrOutOfRange, mmsb.ErrPageNotFound, "item 0"},
		{"as of, range past the end", read(2, &mmsbv1.ReadItem{Page: p, Off: 10, Length: 10}), mmsb.ErrOutOfRange, mmsb.ErrPageNotFound, "item 0"},
		{"range longer than any page", read(0, &mmsbv1.ReadItem{Page: p, Off: 1 << 31, Length: 1 << 31}), mmsb.ErrOutOfRange, mmsb.ErrPageNotFound, "largest page size"},
		{"as of after the last LSN", read(99, &mmsbv1.ReadItem{Page: p}), mmsb.ErrInvalidOption, mmsb.ErrOutOfRange, "as_of_lsn 99"},
		{"empty Commit", func() error { _, err := f.c.Commit(ctx, nil); return err }, mmsb.ErrInvalidDelta, mmsb.ErrInvalidOption, "empty batch"},
		{"empty Submit", func() error { return f.c.Submit(ctx, nil) }, mmsb.ErrInvalidDelta, mmsb.ErrInvalidOption, "empty batch"},
		{"control: unknown page", read(0, &mmsbv1.ReadItem{Page: p + 100}), mmsb.ErrPageNotFound, mmsb.ErrOutOfRange, "not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if code := connect.CodeOf(err); code != connect.CodeInvalidArgument && !errors.Is(c.want, mmsb.ErrPageNotFound) {
				t.Fatalf("code %v, want invalid_argument: %v", code, err)
			}
			if !errors.Is(err, c.want) || errors.Is(err, c.not) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("errors.Is(err, %v) = %v (want true), errors.Is(err, %v) = %v (want false), message with %q: %v",
					c.want, errors.Is(err, c.want), c.not, errors.Is(err, c.not), c.text, err)
			}
		})
	}
}
