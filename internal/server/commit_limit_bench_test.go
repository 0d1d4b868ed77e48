package server_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// BenchmarkCommitThroughLimitRequests is BenchmarkCommitOverServer
// through LimitRequests, as mmsb serve mounts the server: each Commit
// counts its body and what its decode allocates against the bounds on
// write bytes (countWrites, holdDecode).
func BenchmarkCommitThroughLimitRequests(b *testing.B) {
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(server.Config{Bus: bus, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(server.LimitRequests(srv.Mux(server.HTTPOptions{}), 0, 0, quiet))
	defer hs.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()
	ctx := context.Background()
	specs := make([]mmsb.PageSpec, 65536)
	for i := range specs {
		specs[i].Size = 1024
	}
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		b.Fatal(err)
	}
	c, err := client.New(hs.URL)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	payload := make([]byte, 16*1000)
	ds := make([]mmsb.Delta, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range ds {
			ds[i] = mmsb.Write(ids[rng.IntN(len(ids))], uint32(rng.IntN(1008)), payload[16*i:16*i+16])
		}
		if _, err := c.Commit(ctx, ds); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(ds))/b.Elapsed().Seconds(), "deltas/s")
}
