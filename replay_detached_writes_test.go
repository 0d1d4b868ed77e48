package mmsb

import (
	"context"
	"testing"
)

// TestReplayBusWritesStayInMemory pins what Replay's doc says of the bus it
// returns: a commit to it applies to it alone, and the directory keeps its
// state (its doc said the bus refused writes; it took them, in memory).
func TestReplayBusWritesStayInMemory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bus := openT(t, dir, nil)
	id, err := bus.CreatePage(ctx, PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []Delta{Write(id, 0, []byte("disk"))}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}

	past, err := Replay(ctx, dir, ReplayTarget{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer past.Close()
	if _, err := past.Commit(ctx, []Delta{Write(id, 0, []byte("mem!"))}); err != nil {
		t.Fatalf("commit to the replayed bus: %v", err)
	}
	if b, _, err := past.ReadPage(id, nil); err != nil || string(b[:4]) != "mem!" {
		t.Fatalf("replayed bus after its commit: %q, %v; want \"mem!\"", b, err)
	}

	again, err := Replay(ctx, dir, ReplayTarget{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if b, _, err := again.ReadPage(id, nil); err != nil || string(b[:4]) != "disk" {
		t.Fatalf("the directory after a commit to a replay of it: %q, %v; want \"disk\"", b, err)
	}
}
