package harness

import (
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/validate"
)

func TestGraphQuick(t *testing.T) {
	env := testEnv(t, "graph", nil)
	var r Result
	err := graphBench(bg, env, &r, graphConfig{pages: 2000, large: 20000, degree: 4, seed: 5})
	requirePass(t, &r, err)
}

// TestGraphNegativeBlindDetector: a cycle detector that always says
// "acyclic" must fail the benchmark.
func TestGraphNegativeBlindDetector(t *testing.T) {
	env := testEnv(t, "graph", nil)
	var r Result
	err := graphBench(bg, env, &r, graphConfig{pages: 500, large: 2000, degree: 4, seed: 5,
		acyclic: func(*graph.Graph) error { return nil }})
	requireFail(t, &r, err, "cycle_detected")
}

// TestGraphNegativeDangling: an edge to a page that does not exist.
func TestGraphNegativeDangling(t *testing.T) {
	env := testEnv(t, "graph", nil)
	var r Result
	err := graphBench(bg, env, &r, graphConfig{pages: 500, degree: 4, seed: 5,
		mutateView: func(v *validate.GraphView) {
			v.Edges = append(v.Edges, mmsb.Edge{Parent: 1, Child: 1 << 40})
		}})
	requireFail(t, &r, err, "graph_valid")
}
