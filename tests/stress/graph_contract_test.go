//go:build stress

package stress

import (
	"context"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/validate"
)

// TestDataEdgesMatchBindings is the minimal reproduction of a contract
// disagreement the stability workload found: the engine accepts a Data
// edge into a derived page from a page that is not one of its binding's
// parents (AddEdge after Bind, or Bind of a page that already has such an
// edge), while the graph validator reports every such state as a problem
// ("data edges into page N come from [...], binding parents are [...]").
// One of them must give way: either the engine refuses the operation (and
// the graph stays as it was), or the validator accepts the state.
func TestDataEdgesMatchBindings(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  func(ctx context.Context, e *mmsb.Bus, a, b, c mmsb.PageID) error
	}{
		{"edge after bind", func(ctx context.Context, e *mmsb.Bus, a, b, c mmsb.PageID) error {
			if err := e.Bind(ctx, c, "passthrough", nil, []mmsb.PageID{a}); err != nil {
				t.Fatalf("bind: %v", err)
			}
			return e.AddEdge(ctx, b, c, mmsb.EdgeData)
		}},
		{"bind after edge", func(ctx context.Context, e *mmsb.Bus, a, b, c mmsb.PageID) error {
			if err := e.AddEdge(ctx, b, c, mmsb.EdgeData); err != nil {
				t.Fatalf("add edge: %v", err)
			}
			return e.Bind(ctx, c, "passthrough", nil, []mmsb.PageID{a})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e, err := mmsb.Open("", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
			if err != nil {
				t.Fatal(err)
			}
			opErr := tc.ops(ctx, e, ids[0], ids[1], ids[2])
			rep, err := validate.Graph(ctx, validate.Live(e), validate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if opErr == nil && !rep.OK() {
				t.Errorf("engine accepted the operation, graph validator rejects the result: %v", rep.Err())
			}
			if opErr != nil && !rep.OK() {
				t.Errorf("operation refused (%v) but the graph is still invalid: %v", opErr, rep.Err())
			}
		})
	}
}
