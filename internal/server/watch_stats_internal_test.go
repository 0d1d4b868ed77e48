package server

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// TestWatchStatsWithoutHubLock: WatchStats (each /metrics scrape) reads
// the hub's kept counts and does not take the hub's lock, which the
// fan-out, joins and progress messages need. It walked every synced
// watcher under that lock, stalling them all for the walk (0.6 ms at
// 10,000 watchers, 0.3 s at the 2^20 that --max-watchers allows).
func TestWatchStatsWithoutHubLock(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	s, err := New(Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background()) }()

	s.hub.mu.Lock() // the hub busy fanning out, say
	locked := true
	defer func() {
		if locked {
			s.hub.mu.Unlock()
		}
	}()
	done := make(chan struct{})
	go func() {
		_ = s.WatchStats()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.hub.mu.Unlock()
		locked = false
		<-done
		t.Fatal("WatchStats waited for the watch hub's lock")
	}
}

// TestWatchStatsKeptCounts drives a hub through random joins, steps
// fanned out (queues filling, watchers demoted), steps received, and
// watches ending, and checks after each that the counts a scrape reads
// are those a walk of the synced watchers under the lock finds.
func TestWatchStatsKeptCounts(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		h := &hub{s: &Server{}, qcap: 1 + rng.IntN(4), synced: map[*watcher]struct{}{}}
		type client struct {
			w    *watcher
			q    chan queued // nil while demoted
			want uint64
		}
		var clients []*client
		var lsn mmsb.LSN
		for op := range 400 {
			switch k := rng.IntN(10); {
			case k < 2 || len(clients) == 0: // a watch starts
				w := &watcher{all: rng.IntN(2) == 0, pages: []uint64{uint64(rng.IntN(4))}}
				c := &client{w: w}
				c.q, _ = h.join(w, h.cursor)
				clients = append(clients, c)
			case k < 5: // a step, fanned out
				var cs []*mmsbv1.Change
				for range 1 + rng.IntN(3) {
					lsn++
					cs = append(cs, &mmsbv1.Change{Lsn: uint64(lsn), Page: uint64(rng.IntN(4))})
				}
				h.mu.Lock()
				h.fanOutLocked(cs, h.cursor)
				h.cursor = lsn
				h.mu.Unlock()
			case k < 8: // a watcher receives a step, as Watch does
				c := clients[rng.IntN(len(clients))]
				if c.q == nil {
					break
				}
				select {
				case step, ok := <-c.q:
					if ok {
						h.received()
					}
					if !ok || step.seq != c.want {
						c.q = nil // demoted: it would catch up, then join again
						c.q, _ = h.join(c.w, h.cursor)
						c.want = 0
						break
					}
					c.want++
				default:
				}
			default: // a watch ends
				i := rng.IntN(len(clients))
				h.leave(clients[i].w)
				clients = append(clients[:i], clients[i+1:]...)
			}
			synced, pending := h.load()
			h.mu.Lock()
			walked := 0
			for w := range h.synced {
				walked += len(w.queue)
			}
			n := len(h.synced)
			h.mu.Unlock()
			if synced != n || pending != walked {
				t.Fatalf("seed %d, op %d: load() = %d synced, %d pending; a walk finds %d, %d", seed, op, synced, pending, n, walked)
			}
		}
	}
}
