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

// BenchmarkCommitOverServer: one client commits batches of 1,000 16-byte
// writes over loopback HTTP/1.1 to an in-memory bus with 65,536 pages of
// 1 KiB (the peers workload); allocs/op counts client and server together.
func BenchmarkCommitOverServer(b *testing.B) {
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
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
