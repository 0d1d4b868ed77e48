package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// BenchmarkHubFanOutUnderProgress measures one fan-out step (the hub's
// lock taken, every synced watcher's filter run, the cursor moved) with
// watchers synced, while tickers goroutines call progress for those
// watchers as fast as they can (a progress message per watcher per tick
// takes the hub's lock): does a flood of progress ticks make the fan-out
// wait? ns/op is one step; progress/s the ticks served meanwhile. The
// lockfree variants read what a progress without the lock would read (an
// atomic cursor, the queue's length, a flag), as a measure of what
// taking the lock away could gain, not as a correct progress.
//
// 2026-12-07, a loaded 2-core machine (noisy): at 1,024 watchers a step
// took 14-35 µs with no ticker, 13-36 µs with one ticking 4-14 million
// times a second under the lock, 77-80 µs with one reading lock-free
// (it takes more of the CPU); at 16,384 watchers 0.8-1.1 ms, 0.23-0.46
// ms and 1.1-1.7 ms. The ticks a server makes are far fewer (4,096
// watches at the 10 ms floor of progress_ms: 409,600 a second; at the
// default 1 s, 4,096): the lock does not hold the fan-out up, and
// progress keeps it.
func BenchmarkHubFanOutUnderProgress(b *testing.B) {
	for _, watchers := range []int{1024, 16384} {
		for _, tc := range []struct {
			tickers  int
			lockFree bool
		}{{0, false}, {1, false}, {1, true}, {4, false}, {4, true}} {
			tickers := tc.tickers
			name := fmt.Sprintf("watchers=%d/tickers=%d", watchers, tickers)
			if tc.lockFree {
				name += "/lockfree"
			}
			b.Run(name, func(b *testing.B) {
				h := &hub{qcap: 4, synced: map[*watcher]struct{}{}}
				ws := make([]*watcher, watchers)
				for i := range ws {
					// Each watches a page of its own that the step does
					// not touch: the fan-out filters, queues nothing.
					ws[i] = &watcher{pages: []uint64{uint64(i + 2)}, queue: make(chan queued, 4)}
					h.synced[ws[i]] = struct{}{}
				}
				changes := []*mmsbv1.Change{{Lsn: 1, Page: 1}}
				var published atomic.Uint64 // the lock-free variant's cursor
				var flag atomic.Bool
				stop := make(chan struct{})
				var ticks atomic.Int64
				var wg sync.WaitGroup
				for g := range tickers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := g; ; i++ {
							select {
							case <-stop:
								return
							default:
							}
							w := ws[i%len(ws)]
							if tc.lockFree {
								// What a progress without the lock would
								// read: the cursor, its queue's length, a
								// flag (the cost, not a correct version).
								if c := published.Load(); len(w.queue) == 0 && !flag.Load() {
									_ = c
								}
							} else {
								_ = h.progress(w, w.queue, 0)
							}
							ticks.Add(1)
						}
					}()
				}
				b.ResetTimer()
				for i := range b.N {
					h.mu.Lock()
					h.fanOutLocked(changes, h.cursor)
					h.cursor = mmsb.LSN(i + 1)
					published.Store(uint64(i + 1))
					h.mu.Unlock()
				}
				b.StopTimer()
				close(stop)
				wg.Wait()
				b.ReportMetric(float64(ticks.Load())/b.Elapsed().Seconds(), "progress/s")
			})
		}
	}
}
