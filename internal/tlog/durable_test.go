package tlog

import (
	"context"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// survivesPowerFailure checks that a power-failure image of fs (only
// fsynced bytes and entries) replays every LSN up to durable.
func survivesPowerFailure(t *testing.T, fs *vfs.MemFS, durable base.LSN, what string) {
	t.Helper()
	got, _, l, err := replay(t, Options{FS: fs.CrashClone(), Dir: "/wal"}, 0)
	if err != nil {
		t.Fatalf("%s: replay of the power-failure image: %v", what, err)
	}
	l.Close()
	var last base.LSN
	if n := len(got); n > 0 {
		last = got[n-1].First + base.LSN(got[n-1].Count) - 1
	}
	if last < durable {
		t.Fatalf("%s: DurableLSN was %d, but a power failure keeps only up to LSN %d", what, durable, last)
	}
}

// TestDurableLSNSurvivesPowerFailure pins issue 7 item 8 (DurableLSN under
// none): in every sync mode, every LSN up to Stats().DurableLSN survives a
// power failure. The old Stats reported the written LSN as durable under
// SyncNone; it is now WrittenLSN, and DurableLSN follows fsyncs only.
func TestDurableLSNSurvivesPowerFailure(t *testing.T) {
	for _, mode := range []SyncMode{SyncNone, SyncGroup, SyncAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			fs := vfs.NewMem()
			l := openLog(t, Options{FS: fs, Dir: "/wal", Sync: mode, SegmentBytes: 1 << 20})
			appendAll(t, l, genRecords(1, 20, 64))
			st := l.Stats()
			if st.WrittenLSN != st.LastLSN {
				t.Fatalf("WrittenLSN %d, LastLSN %d: every acknowledged record is written", st.WrittenLSN, st.LastLSN)
			}
			if mode == SyncNone && st.DurableLSN == st.LastLSN {
				t.Fatalf("sync none: DurableLSN %d claims records nobody fsynced", st.DurableLSN)
			}
			survivesPowerFailure(t, fs, st.DurableLSN, "after appends")
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			if st := l.Stats(); st.DurableLSN != st.LastLSN {
				t.Fatalf("after Sync: DurableLSN %d, LastLSN %d", st.DurableLSN, st.LastLSN)
			}
			l.Close()
		})
	}
}

// TestReopenSyncsUnsyncedTail pins issue 7 item 8 (durability at reopen): a
// SyncNone writer that crashed leaves records the OS has but no disk;
// reopening the log used to mark them all durable (synced = last) without
// an fsync, so Sync and Checkpoint skipped them and a power failure after
// the reopen lost records reported durable. Open now fsyncs the active
// segment.
func TestReopenSyncsUnsyncedTail(t *testing.T) {
	fs := vfs.NewMem()
	l := openLog(t, Options{FS: fs, Dir: "/wal", Sync: SyncNone})
	appendAll(t, l, genRecords(1, 20, 64))
	want := l.Stats().LastLSN
	_ = l // crash: the process dies without Close; the OS keeps the writes

	got, _, l2, err := replay(t, Options{FS: fs, Dir: "/wal", Sync: SyncGroup}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if len(got) != 20 {
		t.Fatalf("reopen after a process crash replayed %d records, want 20", len(got))
	}
	st := l2.Stats()
	if st.DurableLSN != want {
		t.Fatalf("reopened log: DurableLSN %d, want %d", st.DurableLSN, want)
	}
	if err := l2.Sync(); err != nil {
		t.Fatal(err)
	}
	survivesPowerFailure(t, fs, st.DurableLSN, "power failure after the reopen")
}

// TestCloseStopsFlusher: Close returns once the SyncGroup flusher goroutine
// has ended, so a closed log leaves no goroutine behind. It checks each
// log's own flusher (its done channel), not a count of every flusher in
// the process, which a log of another test could change (a CI run saw 1
// before and 0 after).
func TestCloseStopsFlusher(t *testing.T) {
	for i := 0; i < 3; i++ {
		l := openLog(t, Options{FS: vfs.NewMem(), Dir: "/wal"})
		if l.flusherDone == nil {
			t.Fatal("a SyncGroup log has no flusher")
		}
		tk, err := l.Append(1, 1, []byte("x"))
		if err == nil {
			l.Kick()
			err = l.Wait(context.Background(), tk)
		}
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-l.flusherDone:
			t.Fatal("the flusher ended before Close")
		default:
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-l.flusherDone:
		default:
			t.Fatalf("log %d: Close returned with its flusher still running", i)
		}
	}
}
