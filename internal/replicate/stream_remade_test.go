package replicate

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestFollowerRidesOutStreamMadeAgain: the stream is deleted under a
// follow-only replica and made again (its leader restarted: NewNode makes
// it), and the new stream's leader, at the stored checkpoint the replica
// also holds, restarts the terms at 1 (the term file of the old stream is
// not the new one's). The replica's spells retried through the deletion
// with the old stream's term kept: the first record of the new stream was
// "from term 1 after term 2" (ErrStaleTerm) and the node stopped. A
// stream made again is a new sequence of terms: the replica follows it.
func TestFollowerRidesOutStreamMadeAgain(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	adir := filepath.Join(parent, "a")
	a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: adir, CheckpointEvery: 1})
	_, bus := waitLeader(t, a)
	pages := createPages(t, bus, 2)
	// A second term: the leader loses its lease and leads again.
	a.currentLease().pause()
	deadline := time.Now().Add(60 * time.Second)
	bus2 := a.Leader()
	for bus2 == nil || bus2 == bus {
		if time.Now().After(deadline) {
			t.Fatal("node a did not lead a second term within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
		bus2 = a.Leader()
	}
	if _, err := load(ctx, bus2, pages, 1, 2, 1); err != nil {
		t.Fatal(err)
	}
	ckpt := bus2.LastLSN()
	for {
		lsns, err := a.res.checkpointObjects(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(lsns) > 0 && lsns[len(lsns)-1] == ckpt {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint at LSN %d stored within 60 s (stored: %v)", ckpt, lsns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if terms := streamTerms(t, a.res); len(terms) == 0 || terms[len(terms)-1] < 2 {
		t.Fatalf("stream terms %v, want the last at least 2 (the case under test)", terms)
	}
	b := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", Dir: filepath.Join(parent, "b"), FollowOnly: true})
	waitApplied(t, b, ckpt)

	a.stop()
	if err := a.res.js.DeleteStream(ctx, a.res.cfg.StreamName()); err != nil {
		t.Fatal(err)
	}
	a2 := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: adir, CheckpointEvery: -1})
	_, lb := waitLeader(t, a2)
	if lb.LastLSN() != ckpt {
		t.Fatalf("node a leads the new stream at LSN %d, want the checkpoint's %d", lb.LastLSN(), ckpt)
	}
	if _, err := load(ctx, lb, pages, 1, 1, 1); err != nil {
		t.Fatal(err)
	}
	want, wantHash := lb.LastLSN(), stateHash(t, lb)
	deadline = time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-b.done:
			b.done <- err // for its stop
			t.Fatalf("node b stopped on the stream made again: %v", err)
		default:
		}
		if rb := b.Bus(); rb != nil && rb.LastLSN() >= want {
			if got := stateHash(t, rb); rb.LastLSN() != want || got != wantHash {
				t.Fatalf("node b at LSN %d with state hash %x, want LSN %d, %x", rb.LastLSN(), got, want, wantHash)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b did not apply LSN %d of the stream made again within 60 s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
