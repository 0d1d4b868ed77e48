package mmsb

import (
	"bytes"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/semiring"
)

// TestImpureFunctionCannotChangeParams: a recompute function that writes to
// its params (and keeps them to write again later) changes neither the
// binding nor what the next recompute is given. The params used to be the
// binding's own slice, so such a function changed the binding outside the
// log: later waves computed with different params than the log says, a
// checkpoint saved the changed params, and VerifyReplay disagreed.
func TestImpureFunctionCannotChangeParams(t *testing.T) {
	var seen [][]byte // the params each call was given, as given
	var kept [][]byte
	evil := func(inputs [][]byte, params []byte, out []byte) error {
		seen = append(seen, bytes.Clone(params))
		copy(out, inputs[0])
		params[0]++
		kept = append(kept, params)
		return nil
	}
	e := openMem(t, &Options{Functions: map[string]semiring.Func{"evil": evil}})
	ids := mustCreate(t, e, 2, 8)
	if err := e.Bind(ctx, ids[1], "evil", []byte{7, 7}, ids[:1]); err != nil {
		t.Fatal(err)
	}
	for i, data := range []string{"abcdefgh", "ijklmnop"} {
		if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, data)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Propagate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, p := range kept { // after the wave, outside the lock
			p[1] = 0xEE
		}
		b, ok := e.Binding(ids[1])
		if !ok || !bytes.Equal(b.Params, []byte{7, 7}) {
			t.Fatalf("after wave %d the binding's params are %v, want [7 7]: a recompute function changed the binding outside the log", i+1, b.Params)
		}
	}
	for i, p := range seen {
		if !bytes.Equal(p, []byte{7, 7}) {
			t.Fatalf("call %d was given params %v, want the binding's [7 7]", i+1, p)
		}
	}
	rep, err := e.VerifyReplay(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Equal() {
		t.Fatalf("replay differs from the live state: %v", rep.Differences)
	}
}
