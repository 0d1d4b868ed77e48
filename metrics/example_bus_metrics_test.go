package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/metrics"
)

// A program that serves one bus after another under one registry keeps
// its counters rising: the function adds what the closed buses counted
// to the current bus's figures (here only the commit and delta counters;
// a real program adds every counter and histogram).
func ExampleNewBusMetricsCollector() {
	ctx := context.Background()
	var (
		mu     sync.Mutex
		bus    *mmsb.Bus
		before mmsb.Metrics // what the closed buses counted
	)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewBusMetricsCollector(func() (mmsb.Metrics, bool) {
		mu.Lock()
		defer mu.Unlock()
		if bus == nil {
			return mmsb.Metrics{}, false // no bus yet: no bus metrics
		}
		m := bus.Metrics()
		m.Commits += before.Commits
		m.Deltas += before.Deltas
		return m, true
	}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	for range 2 { // two buses, one after the other (a role change, say)
		b, err := mmsb.Open("", nil)
		if err != nil {
			panic(err)
		}
		id, _ := b.CreatePage(ctx, mmsb.PageSpec{Size: 64})
		_, _ = b.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("hi"))})
		mu.Lock()
		if bus != nil {
			last := bus.Metrics()
			before.Commits += last.Commits
			before.Deltas += last.Deltas
			_ = bus.Close()
		}
		bus = b
		mu.Unlock()
	}
	defer bus.Close()

	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "mmsb_commits_total ") || strings.HasPrefix(line, "mmsb_deltas_total ") {
			fmt.Println(line)
		}
	}
	// Output:
	// mmsb_commits_total 2
	// mmsb_deltas_total 2
}
