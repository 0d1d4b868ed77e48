package mmsb

import (
	"errors"
	"testing"
)

// TestDocEmptyCalls pins what the API does with calls that name nothing
// (CreatePages' and Commit's doc comments): CreatePages with no specs is
// no batch (no IDs, no error, nothing logged, even on a closed bus);
// Commit and CommitAsync with no deltas are ErrInvalidDelta and log
// nothing (a CommitInfo would name no LSN); SetMetadata with no entries
// clears the page's metadata as a logged operation; Bind with no parents
// is ErrInvalidOption, with no params a binding as any other.
func TestDocEmptyCalls(t *testing.T) {
	e := openT(t, "", &Options{CheckpointBytes: -1})
	id, err := e.CreatePage(ctx, PageSpec{Size: 8, Meta: []MetaEntry{{Key: "k", Value: []byte("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	last := e.LastLSN()
	for _, specs := range [][]PageSpec{nil, {}} {
		if ids, err := e.CreatePages(ctx, specs); ids != nil || err != nil {
			t.Errorf("CreatePages(%#v) = %v, %v; want nil, nil", specs, ids, err)
		}
	}
	if info, err := e.Commit(ctx, nil); !errors.Is(err, ErrInvalidDelta) || info != (CommitInfo{}) {
		t.Errorf("Commit(nil) = %+v, %v; want ErrInvalidDelta", info, err)
	}
	if info, err := e.CommitAsync(ctx, []Delta{}); !errors.Is(err, ErrInvalidDelta) || info != (CommitInfo{}) {
		t.Errorf("CommitAsync(empty) = %+v, %v; want ErrInvalidDelta", info, err)
	}
	if got := e.LastLSN(); got != last {
		t.Errorf("empty calls moved LastLSN from %d to %d", last, got)
	}
	if err := e.SetMetadata(ctx, id, nil); err != nil {
		t.Fatalf("SetMetadata(nil) = %v", err)
	}
	if p, err := e.Page(id); err != nil || len(p.Meta) != 0 || e.LastLSN() != last+1 {
		t.Errorf("after SetMetadata(nil): meta %v, %v, LastLSN %d; want none, logged at LSN %d", p.Meta, err, e.LastLSN(), last+1)
	}
	// Bind: no parents is ErrInvalidOption (a derived page computed from
	// nothing), no params is a binding like any other.
	kids := mustCreate(t, e, 2, 8)
	if err := e.Bind(ctx, kids[0], "passthrough", nil, nil); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Bind with no parents = %v, want ErrInvalidOption", err)
	}
	if err := e.Bind(ctx, kids[0], "passthrough", nil, []PageID{kids[1]}); err != nil {
		t.Errorf("Bind with no params = %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if ids, err := e.CreatePages(ctx, nil); ids != nil || err != nil {
		t.Errorf("CreatePages(nil) on a closed bus = %v, %v; want nil, nil", ids, err)
	}
}
