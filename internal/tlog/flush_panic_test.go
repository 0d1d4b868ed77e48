package tlog

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestFlushPanicFailsLog: a panic out of the log's own code (a defect,
// made here by a test hook) where a flush leader works outside the log's
// lock fails the log (sticky, ErrPanicked naming the panic) as a failed
// write does, whether the leader is the background flusher (Kick) or a
// caller's Wait. Before, on the flusher's goroutine the panic ended the
// process ("panic: log bug in the flush"); in a Wait it left the
// leader's flag set, so every later Sync and Close waited for ever. Every
// call after answers with the sticky error, and Close returns.
func TestFlushPanicFailsLog(t *testing.T) {
	recs := genRecords(1, 3, 40)
	for _, name := range []string{"flusher", "wait"} {
		t.Run(name, func(t *testing.T) {
			l := openLog(t, Options{FS: vfs.NewMem(), Dir: "/wal", Sync: SyncGroup})
			appendAll(t, l, recs[:1])
			l.mu.Lock()
			l.flushHook = func() { panic("log bug in the flush") }
			l.mu.Unlock()
			tk, err := l.Append(recs[1].First, recs[1].Count, recs[1].Payload)
			if err != nil {
				t.Fatal(err)
			}
			if name == "flusher" {
				l.Kick()
				within(t, "the flusher", func() {
					for l.Err() == nil {
						time.Sleep(time.Millisecond)
					}
				})
				err = l.Err()
			} else {
				within(t, "Wait", func() { err = l.Wait(context.Background(), tk) })
			}
			if !errors.Is(err, ErrPanicked) || !strings.Contains(err.Error(), "log bug in the flush") {
				t.Fatalf("the flush = %v; want ErrPanicked naming the panic", err)
			}
			within(t, "the calls after", func() {
				if err := l.Wait(context.Background(), tk); !errors.Is(err, ErrPanicked) {
					t.Errorf("Wait after the panic = %v; want the sticky error", err)
				}
				next := l.LastLSN() + 1
				if _, err := l.Append(next, 1, nil); !errors.Is(err, ErrPanicked) {
					t.Errorf("Append after the panic = %v; want the sticky error", err)
				}
				if err := l.Sync(); !errors.Is(err, ErrPanicked) {
					t.Errorf("Sync after the panic = %v; want the sticky error", err)
				}
				if err := l.Close(); !errors.Is(err, ErrPanicked) {
					t.Errorf("Close after the panic = %v; want the sticky error", err)
				}
			})
		})
	}
}
