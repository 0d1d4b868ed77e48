package mmsb

import (
	"testing"
)

// TestRecoveryEmptyLogLSNs: LogRecovery says FirstLSN and LastLSN are 0
// for a log that holds no operation, but a fresh bus reported FirstLSN 1
// (its segment's base LSN) with LastLSN 0. The control: a log holding
// operations reports its first and last LSN.
func TestRecoveryEmptyLogLSNs(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, dir string
	}{{"in memory", ""}, {"on disk", dir}} {
		e := openT(t, c.dir, nil)
		if l := e.Recovery().Log; l.FirstLSN != 0 || l.LastLSN != 0 {
			t.Errorf("%s, fresh: Recovery().Log FirstLSN %d, LastLSN %d; want 0, 0", c.name, l.FirstLSN, l.LastLSN)
		}
		if c.dir == "" {
			continue
		}
		// Reopened with nothing committed: still empty.
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e = openT(t, c.dir, nil)
		if l := e.Recovery().Log; l.FirstLSN != 0 || l.LastLSN != 0 {
			t.Errorf("%s, reopened empty: Recovery().Log FirstLSN %d, LastLSN %d; want 0, 0", c.name, l.FirstLSN, l.LastLSN)
		}
		// The control: operations in the log.
		mustCreate(t, e, 2, 4)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e = openT(t, c.dir, nil)
		if l := e.Recovery().Log; l.FirstLSN != 1 || l.LastLSN != e.LastLSN() || l.LastLSN == 0 {
			t.Errorf("%s, after commits: Recovery().Log FirstLSN %d, LastLSN %d; want 1, %d", c.name, l.FirstLSN, l.LastLSN, e.LastLSN())
		}
		// A checkpoint that leaves the log no operation.
		if _, err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e = openT(t, c.dir, nil)
		if l := e.Recovery().Log; l.FirstLSN > l.LastLSN {
			t.Errorf("%s, after a checkpoint: Recovery().Log FirstLSN %d > LastLSN %d", c.name, l.FirstLSN, l.LastLSN)
		}
	}
}
