package harness

import "testing"

func TestProvenanceQuick(t *testing.T) {
	env := testEnv(t, "provenance", nil)
	var r Result
	err := provenanceBench(bg, env, &r, provenanceConfig{depth: 31, queries: 5})
	requirePass(t, &r, err)
	if r.Metrics["chain_depth"] != 31 {
		t.Fatalf("chain depth %v", r.Metrics["chain_depth"])
	}
}

// TestProvenanceNegativeBrokenChain: a client write into the middle of the
// chain makes the last page's bytes come from there, not from the root;
// the benchmark's expected chain no longer matches.
func TestProvenanceNegativeBrokenChain(t *testing.T) {
	env := testEnv(t, "provenance", nil)
	var r Result
	err := provenanceBench(bg, env, &r, provenanceConfig{depth: 31, queries: 5, overwriteMiddle: true})
	requireFail(t, &r, err, "chain_correct")
}
