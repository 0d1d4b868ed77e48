package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// TestClientErrorsIsBusSentinels: errors the real handlers return satisfy
// errors.Is with the bus's sentinels on the client, as with an embedded
// bus (TestSentinelsRoundTrip sends every sentinel; this goes through the
// handlers' own paths: toConnect and the wire decoding of deltas). Before 2026-12-04 each of these was false. Control:
// the success and an error of another sentinel do not match.
func TestClientErrorsIsBusSentinels(t *testing.T) {
	f := newFixture(t, fixOpts{dir: t.TempDir()})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("a"))}); err != nil {
		t.Fatal(err)
	}
	conflict := mmsb.Write(id, 0, []byte("b"))
	conflict.ExpectEpoch, conflict.CheckEpoch = 7, true
	_, errConflict := f.c.Commit(ctx, []mmsb.Delta{conflict})
	_, errMissing := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id+100, 0, []byte("c"))})
	_, errRange := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 7, []byte("cd"))})
	_, errRead := f.c.Read(ctx, []*mmsbv1.ReadItem{{Page: uint64(id) + 100}}, 0)
	errFree := f.c.FreePage(ctx, id+100)
	cases := []struct {
		name      string
		err       error
		want, not error
	}{
		{"Commit epoch conflict", errConflict, mmsb.ErrConflict, mmsb.ErrPageNotFound},
		{"Commit unknown page", errMissing, mmsb.ErrPageNotFound, mmsb.ErrConflict},
		{"Commit out of range", errRange, mmsb.ErrOutOfRange, mmsb.ErrPageNotFound},
		{"Commit out of range", errRange, mmsb.ErrInvalidDelta, mmsb.ErrConflict},
		{"Read unknown page", errRead, mmsb.ErrPageNotFound, mmsb.ErrInvalidDelta},
		{"FreePage unknown page", errFree, mmsb.ErrPageNotFound, mmsb.ErrPageInUse},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) || errors.Is(c.err, c.not) {
			t.Errorf("%s: errors.Is(err, %v) = %v (want true), errors.Is(err, %v) = %v (want false): %v",
				c.name, c.want, errors.Is(c.err, c.want), c.not, errors.Is(c.err, c.not), c.err)
		}
	}
	// A form the server cannot decode fails in the wire conversion,
	// before the bus sees it.
	var bad mmsb.Delta
	bad.Page, bad.Form = id, mmsb.Form(99)
	if _, err := f.c.Commit(ctx, []mmsb.Delta{bad}); !errors.Is(err, mmsb.ErrInvalidDelta) {
		t.Errorf("a delta of an unknown form: errors.Is(err, mmsb.ErrInvalidDelta) is false: %v", err)
	}
}
