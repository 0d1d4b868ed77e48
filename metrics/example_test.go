package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/metrics"
)

// An embedding program registers the bus's collector (and the build info,
// Go and process collectors) in its own registry and serves /metrics.
func ExampleNewBusCollector() {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil) // in memory; a directory works the same
	if err != nil {
		panic(err)
	}
	defer bus.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		metrics.NewBusCollector(bus),
		metrics.NewBuildInfoCollector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 1024})
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("hello")), mmsb.Write(id, 512, []byte("world"))})

	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{"mmsb_commits_total ", "mmsb_deltas_total ", "mmsb_pages ", "mmsb_page_bytes ", "mmsb_committed_lsn "} {
			if strings.HasPrefix(line, name) {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// mmsb_commits_total 1
	// mmsb_committed_lsn 3
	// mmsb_deltas_total 2
	// mmsb_page_bytes 1024
	// mmsb_pages 1
}

// A server exports its watch hub by handing the collector a function that
// reads the hub's counters at scrape time.
func ExampleNewWatchCollector() {
	hubStats := func() metrics.WatchStats { return metrics.WatchStats{Watchers: 3, Synced: 2, Slow: 1} }
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewWatchCollector(hubStats))
	fams, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range fams {
		m := f.GetMetric()[0]
		fmt.Println(f.GetName(), m.GetGauge().GetValue()+m.GetCounter().GetValue())
	}
	// Output:
	// mmsb_watch_compacted_total 0
	// mmsb_watch_pending_batches 0
	// mmsb_watch_slow_total 1
	// mmsb_watchers 3
	// mmsb_watchers_synced 2
}
