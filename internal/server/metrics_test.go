package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// metricsServer is an in-process server wired as `mmsb serve` wires it:
// the RPC-metrics interceptor on the service, /metrics on the mux.
func metricsServer(t *testing.T) (*httptest.Server, *client.Client) {
	t.Helper()
	bus, err := mmsb.Open(t.TempDir(), &mmsb.Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ProgressInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	reg, ic, err := srv.NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	mux := srv.Mux(server.HTTPOptions{OuterInterceptors: []connect.Interceptor{ic}})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	hs := httptest.NewServer(mux)
	c, err := client.New(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		hs.CloseClientConnections()
		_ = srv.Shutdown(context.Background())
		hs.Close()
		_ = bus.Close()
	})
	return hs, c
}

// scrapeMetrics GETs /metrics and parses it as Prometheus text.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v\n%s", res.StatusCode, err, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v", err)
	}
	return fams
}

// metricValue returns the counter, gauge or histogram count of the sample
// of name whose labels include want (0 when absent: a counter not yet
// incremented has no series).
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	for _, m := range f.Metric {
		match := 0
		for _, l := range m.Label {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match != len(want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

func TestMetricsEndpointMovesWithTheWork(t *testing.T) {
	hs, c := metricsServer(t)
	ctx := context.Background()
	before := scrapeMetrics(t, hs.URL)
	for _, name := range []string{"mmsb_commits_total", "mmsb_committed_lsn", "mmsb_watchers", "mmsb_build_info",
		"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := before[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	ids, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	// A watch stays open while we scrape: the watcher gauge counts it.
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	seen := make(chan mmsb.LSN, 100)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- c.Watch(wctx, client.WatchOptions{FromLSN: 1}, func(ev client.WatchEvent) error {
			for _, ch := range ev.Changes {
				seen <- ch.LSN
			}
			return nil
		})
	}()
	const commits = 4
	var last mmsb.LSN
	for i := 0; i < commits; i++ {
		info, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{byte(i)}), mmsb.Write(ids[1], 8, []byte{1, 2})})
		if err != nil {
			t.Fatal(err)
		}
		last = info.LastLSN
	}
	if _, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(999, 0, []byte{1})}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("commit to an unknown page: %v", err)
	}
	for lsn := mmsb.LSN(0); lsn < last; { // the watch has delivered everything
		select {
		case lsn = <-seen:
		case err := <-watchDone:
			t.Fatalf("watch ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("watch stuck at LSN %d of %d", lsn, last)
		}
	}

	after := scrapeMetrics(t, hs.URL)
	moved := func(name string, labels map[string]string) float64 {
		return metricValue(after, name, labels) - metricValue(before, name, labels)
	}
	const commitProc = "/mmsb.v1.BusService/Commit"
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mmsb_commits_total", nil, commits},
		{"mmsb_deltas_total", nil, 2 * commits},
		{"mmsb_committed_lsn", nil, float64(last)},
		{"mmsb_pages", nil, 2},
		{"mmsb_rpc_requests_total", map[string]string{"procedure": commitProc, "code": "ok"}, commits},
		{"mmsb_rpc_requests_total", map[string]string{"procedure": commitProc, "code": "not_found"}, 1},
		{"mmsb_rpc_duration_seconds", map[string]string{"procedure": commitProc}, commits + 1},
		{"mmsb_watchers", nil, 1},
	} {
		if got := moved(c.name, c.labels); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	stopWatch()
	if err := recv(t, watchDone, "end of the stopped watch"); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("watch: %v", err)
	}
}
