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
