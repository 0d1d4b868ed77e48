package mmsb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestRefusalListsBoundedParents: the two refusals of a foreign Data edge
// into a derived page named the binding's parents; they listed every one
// (600 KB for 100,000 parents). They now list the first maxShownIDs and
// how many there are, and still name the pages that matter.
func TestRefusalListsBoundedParents(t *testing.T) {
	ctx := context.Background()
	const parents = 1000
	e := openT(t, "", &Options{Functions: map[string]RecomputeFunc{"zero": func(_ [][]byte, _ []byte, out []byte) error { clear(out); return nil }}})
	ids := mustCreate(t, e, parents+3, 8)
	child, other, ps := ids[0], ids[1], ids[3:]

	// AddEdge of a Data edge from a page that is no parent of the binding.
	if err := e.Bind(ctx, child, "zero", nil, ps); err != nil {
		t.Fatal(err)
	}
	err := e.AddEdge(ctx, other, child, EdgeData)
	checkBoundedRefusal(t, "AddEdge", err, fmt.Sprintf("page %d is not one of them", other))

	// Bind of a page that already has a Data edge from outside the parents.
	child2 := ids[2]
	if err := e.AddEdge(ctx, other, child2, EdgeData); err != nil {
		t.Fatal(err)
	}
	err = e.Bind(ctx, child2, "zero", nil, ps)
	checkBoundedRefusal(t, "Bind", err, fmt.Sprintf("data edge from page %d", other))
}

func checkBoundedRefusal(t *testing.T, call string, err error, names string) {
	t.Helper()
	if !errors.Is(err, ErrPageInUse) {
		t.Fatalf("%s: %v, want ErrPageInUse", call, err)
	}
	msg := err.Error()
	if len(msg) > 512 || !strings.Contains(msg, names) || !strings.Contains(msg, "(1000 in all)") {
		t.Errorf("%s refusal of %d bytes, want at most 512 naming %q and the parents' count: %.300s", call, len(msg), names, msg)
	}
}
