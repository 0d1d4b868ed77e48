package replicate

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// BenchmarkReplicatedCommit: batches of 1,000 16-byte deltas committed in
// sync mode replicated by 8 goroutines to a leader on an embedded server
// (R1) or a three-server cluster (R3), with one follower applying them.
// ns/op is per batch; deltas/s is reported.
func BenchmarkReplicatedCommit(b *testing.B) {
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("R%d", replicas), func(b *testing.B) {
			c := startTestCluster(b, replicas)
			cfg := testConfig(replicas)
			leader := startNode(b, c, NodeConfig{Config: cfg, ID: "leader", Logf: func(string, ...any) {}})
			_, bus := waitLeader(b, leader)
			startNode(b, c, NodeConfig{Config: cfg, ID: "follower", FollowOnly: true, Logf: func(string, ...any) {}})
			pages := createPages(b, bus, 4096)
			const batch, workers = 1000, 8
			b.ResetTimer()
			var next sync.Mutex
			n := 0
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					ds := make([]mmsb.Delta, batch)
					for {
						next.Lock()
						if n >= b.N {
							next.Unlock()
							return
						}
						i := n
						n++
						next.Unlock()
						for k := range ds {
							ds[k] = mmsb.Write(pages[(i*batch+k*7+w)%len(pages)], uint32(k%4)*16, []byte("0123456789abcdef"))
						}
						if _, err := bus.Commit(context.Background(), ds); err != nil {
							errs <- err
							return
						}
					}
				}(w)
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deltas/s")
		})
	}
}
