package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// Example serves an in-memory bus in process (what `mmsb serve` does),
// then creates a page, commits, reads and watches through the client.
func Example() {
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	srv, _ := server.New(server.Config{Bus: bus})
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	defer hs.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()

	ctx := context.Background()
	c, err := client.New(hs.URL)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	id, _ := c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	info, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("hi"))})
	if err != nil {
		panic(err)
	}
	data, epoch, _, _ := c.ReadPage(ctx, id)
	fmt.Printf("page %d: %q epoch %d\n", id, data[:2], epoch)

	// Every change from LSN 1 on, resumed by itself if the stream drops.
	done := errors.New("done")
	_ = c.Watch(ctx, client.WatchOptions{FromLSN: 1}, func(ev client.WatchEvent) error {
		for _, ch := range ev.Changes {
			fmt.Printf("LSN %d: %s page %d\n", ch.LSN, ch.Kind, ch.Page)
		}
		if ev.ProgressLSN >= info.LastLSN {
			return done
		}
		return nil
	})
	// Output:
	// page 1: "hi" epoch 1
	// LSN 1: create page 1
	// LSN 2: delta page 1
}

// StatsWithHash pairs the state hash with the LSN it is the state of, so a
// local replay to that LSN can be compared with it.
func ExampleClient_StatsWithHash() {
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	srv, _ := server.New(server.Config{Bus: bus})
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	defer hs.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()

	ctx := context.Background()
	c, _ := client.New(hs.URL)
	id, _ := c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	_, _ = c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("state 1"))})

	st, err := c.StatsWithHash(ctx)
	if err != nil {
		panic(err)
	}
	past, _ := bus.Replay(ctx, mmsb.ReplayTarget{ToLSN: mmsb.LSN(st.GetLastLsn())})
	defer past.Close()
	h, _ := past.StateHash()
	fmt.Printf("LSN %d: the server's hash equals the replay's: %v\n", st.GetLastLsn(), st.GetStateHash() == h)
	// Output:
	// LSN 2: the server's hash equals the replay's: true
}

// Close releases the client's connections and ends its watches; a call
// after it fails with mmsb.ErrClosed.
func ExampleClient_Close() {
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	srv, _ := server.New(server.Config{Bus: bus})
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	defer hs.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()

	ctx := context.Background()
	c, _ := client.New(hs.URL)
	lsn, _ := c.LastLSN(ctx)
	fmt.Println("last LSN:", lsn)
	_ = c.Close()
	_, err := c.LastLSN(ctx)
	fmt.Println("after Close:", errors.Is(err, mmsb.ErrClosed))
	// Output:
	// last LSN: 0
	// after Close: true
}
