package mmsb

import (
	"errors"
	"strings"
	"testing"
)

// A binding a built-in function can never compute (params it takes none
// of, a parent count or page sizes that do not fit) is refused by Bind,
// naming the function and the shape. Accepted, it failed at every
// propagation: its page and descendants were never computed (and, before
// partial waves, no other derived page of the bus either). Shapes the functions
// take are accepted (the control), and a function the options register
// under a built-in's name is not second-guessed.
func TestBindRefusesShapeBuiltinCannotCompute(t *testing.T) {
	e := openT(t, "", nil)
	defer e.Close()
	f8 := mustCreate(t, e, 4, 8)
	odd := mustCreate(t, e, 2, 10)
	tests := []struct {
		name    string
		child   PageID
		fn      string
		params  []byte
		parents []PageID
		want    string // "" when accepted
	}{
		{"params to a function without", f8[2], "f64.sum", []byte{1, 2, 3}, f8[:1], "takes no params"},
		{"passthrough of two", f8[2], "passthrough", nil, f8[:2], "exactly 1 input"},
		{"weights for another parent count", f8[2], "f64.weighted", make([]byte, 8), f8[:2], "weights"},
		{"float page of 10 bytes", odd[0], "f64.sum", nil, f8[:1], "not a multiple of 8"},
		{"sum, accepted", f8[2], "f64.sum", nil, f8[:2], ""},
		{"weighted, accepted", f8[3], "f64.weighted", make([]byte, 8), f8[:1], ""},
	}
	for _, tc := range tests {
		err := e.Bind(ctx, tc.child, tc.fn, tc.params, tc.parents)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.fn) {
			t.Errorf("%s: Bind = %v; want ErrInvalidOption naming %q and %q", tc.name, err, tc.fn, tc.want)
		}
	}
	// The accepted bindings propagate.
	commitT(t, e, w(f8[0], 0, "\x00\x00\x00\x00\x00\x00\xf0\x3f")) // 1.0
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatalf("propagate the accepted bindings: %v", err)
	}
	if b, _, _ := e.ReadPage(f8[2], nil); b[7] != 0x3f {
		t.Fatalf("f64.sum child %x, want 1.0", b)
	}

	// A user function under a built-in's name is the user's to judge.
	own := openT(t, "", &Options{Functions: map[string]RecomputeFunc{"f64.sum": func(_ [][]byte, _ []byte, out []byte) error { return nil }}})
	defer own.Close()
	ids := mustCreate(t, own, 2, 8)
	if err := own.Bind(ctx, ids[1], "f64.sum", []byte{1}, ids[:1]); err != nil {
		t.Fatalf("Bind with an own f64.sum: %v", err)
	}
}
