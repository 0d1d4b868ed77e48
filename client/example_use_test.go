package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// serveExample serves an in-memory bus in process, as `mmsb serve` does
// (with auth, tokens of the roles given), and returns its base URL, the
// bus and a function that stops both.
func serveExample(tokens ...server.Token) (string, *mmsb.Bus, func()) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		panic(err)
	}
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		panic(err)
	}
	var opts server.HTTPOptions
	if len(tokens) > 0 {
		opts.Auth = server.NewAuth(tokens)
	}
	hs := httptest.NewUnstartedServer(srv.Mux(opts))
	// HTTP/1.1 and cleartext HTTP/2 (gRPC), as `mmsb serve` answers.
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	hs.Config.Protocols = &protos
	hs.Start()
	return hs.URL, bus, func() {
		hs.Close()
		_ = srv.Shutdown(context.Background())
		_ = bus.Close()
	}
}

// New with a bearer token and options: the token's role decides what the
// client may do (`mmsb serve --token-file`), and a refusal is a
// *connect.Error whose code says why.
func ExampleNew() {
	url, _, stop := serveExample(
		server.Token{Role: server.RoleWrite, Value: "writer-token-0123456789"},
		server.Token{Role: server.RoleRead, Value: "reader-token-0123456789"})
	defer stop()
	ctx := context.Background()

	c, err := client.New(url,
		client.WithToken("writer-token-0123456789"),
		// Idempotent calls: 2 retries, 10 ms then 20 ms apart.
		client.WithRetries(2, 10*time.Millisecond),
		// Over HTTP/2 (gRPC, or https://): ping a connection silent
		// for 30 s, drop it if the ping is not answered in 10 s.
		client.WithPings(30*time.Second, 10*time.Second))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	id, err := c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	fmt.Println("writer creates page", id, err)

	reader, _ := client.New(url, client.WithToken("reader-token-0123456789"))
	defer reader.Close()
	_, err = reader.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	fmt.Println("reader creates a page:", connect.CodeOf(err))
	_, _, _, err = reader.ReadPage(ctx, id)
	fmt.Println("reader reads it:", err)

	anon, _ := client.New(url)
	defer anon.Close()
	_, err = anon.LastLSN(ctx)
	fmt.Println("no token:", connect.CodeOf(err))

	// What New cannot use is refused at once.
	_, err = client.New("localhost:7070")
	fmt.Println("a URL without a scheme:", errors.Is(err, mmsb.ErrInvalidOption))
	// Output:
	// writer creates page 1 <nil>
	// reader creates a page: permission_denied
	// reader reads it: <nil>
	// no token: unauthenticated
	// a URL without a scheme: true
}

// Commit applies a batch atomically and fills each delta's LSN and the
// page's epoch after it; a delta with CheckEpoch commits only if the page
// is still at ExpectEpoch (optimistic concurrency).
func ExampleClient_Commit() {
	url, _, stop := serveExample()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url)
	defer c.Close()

	id, _ := c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	ds := []mmsb.Delta{mmsb.Write(id, 0, []byte("abcd")), mmsb.Write(id, 4, []byte("efgh"))}
	info, err := c.Commit(ctx, ds)
	if err != nil {
		panic(err)
	}
	fmt.Printf("LSNs %d..%d, epochs %d and %d\n", info.FirstLSN, info.LastLSN, ds[0].Epoch, ds[1].Epoch)

	data, epoch, lsn, _ := c.ReadRange(ctx, id, 2, 4)
	fmt.Printf("bytes 2..5: %q at epoch %d, LSN %d\n", data, epoch, lsn)
	// A read as of an LSN sees whole batches: LSN 1 is before this one,
	// LSN 2 inside it, read at its end.
	before, _, _ := c.ReadPageAt(ctx, id, info.FirstLSN-1)
	inside, _, _ := c.ReadPageAt(ctx, id, info.FirstLSN)
	fmt.Printf("as of LSN %d: %q, as of LSN %d: %q\n", info.FirstLSN-1, before, info.FirstLSN, inside)

	// Written as if the page were still at epoch 1: refused, nothing applied.
	stale := mmsb.Write(id, 0, []byte("zz"))
	stale.CheckEpoch, stale.ExpectEpoch = true, 1
	_, err = c.Commit(ctx, []mmsb.Delta{stale})
	fmt.Println("stale write:", errors.Is(err, mmsb.ErrConflict), connect.CodeOf(err))
	// Output:
	// LSNs 2..3, epochs 1 and 2
	// bytes 2..5: "cdef" at epoch 2, LSN 3
	// as of LSN 1: "\x00\x00\x00\x00\x00\x00\x00\x00", as of LSN 2: "abcdefgh"
	// stale write: true aborted
}

// Watch ends when its function returns an error, and returns that error.
// The application resumes from the LSN after the last change it
// processed: nothing is skipped and nothing comes twice. (Dropped streams
// and silent connections Watch resumes by itself.)
func ExampleClient_Watch() {
	url, _, stop := serveExample()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url)
	defer c.Close()
	id, _ := c.CreatePage(ctx, mmsb.PageSpec{Size: 1})
	var last mmsb.LSN
	for i := range 3 {
		info, _ := c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{byte('a' + i)})})
		last = info.LastLSN
	}

	errFull := errors.New("buffer full") // the application's own error
	processed := mmsb.LSN(0)
	opts := client.WatchOptions{FromLSN: 1, Pages: []mmsb.PageID{id}, SilenceTimeout: 30 * time.Second}
	for {
		n := 0
		err := c.Watch(ctx, opts, func(ev client.WatchEvent) error {
			for _, ch := range ev.Changes {
				if n == 2 {
					return errFull // stop before ch; it comes again
				}
				fmt.Printf("LSN %d: %s\n", ch.LSN, ch.Kind)
				processed, n = ch.LSN, n+1
			}
			if ev.ProgressLSN >= last {
				return errors.New("done")
			}
			return nil
		})
		if errors.Is(err, errFull) {
			fmt.Println("resume after LSN", processed)
			opts.FromLSN = processed + 1
			continue
		}
		var ce *client.CompactedError
		if errors.As(err, &ce) {
			// The log no longer holds opts.FromLSN: read the pages, then
			// watch from the read's LSN + 1 (CompactedError).
			return
		}
		break
	}
	// Output:
	// LSN 1: create
	// LSN 2: delta
	// resume after LSN 2
	// LSN 3: delta
	// LSN 4: delta
}

// QueryLog streams the logged operations that match a query, in LSN order,
// until its function returns false.
func ExampleClient_QueryLog() {
	url, _, stop := serveExample()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url)
	defer c.Close()
	ids, _ := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 4}, {Size: 4}})
	_, _ = c.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte("a")), mmsb.Write(ids[1], 0, []byte("b"))})
	_ = c.SetMetadata(ctx, ids[1], []mmsb.MetaEntry{{Key: "unit", Value: []byte("m")}})

	q := mmsb.LogQuery{Page: ids[1], Kinds: []mmsb.OpKind{mmsb.OpDelta, mmsb.OpSetMeta}}
	err := c.QueryLog(ctx, q, func(op *mmsb.LoggedOp) bool {
		if op.Op.Kind == mmsb.OpDelta {
			fmt.Printf("LSN %d: %s of page %d, %q\n", op.LSN, op.Op.Kind, op.Op.Delta.Page, op.Op.Delta.Runs[0].Data)
		} else {
			fmt.Printf("LSN %d: %s of page %d\n", op.LSN, op.Op.Kind, op.Op.Page)
		}
		return true // false stops the query
	})
	fmt.Println(err)
	// Output:
	// LSN 4: delta of page 2, "b"
	// LSN 5: meta of page 2
	// <nil>
}

// The server's errors name the bus's sentinels: errors.Is holds on the
// client as with an embedded bus, and connect.CodeOf gives the code.
// What the client refuses before asking wraps mmsb.ErrInvalidOption.
func Example_errors() {
	url, _, stop := serveExample()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url)

	_, _, _, err := c.ReadPage(ctx, 42)
	fmt.Println("missing page:", errors.Is(err, mmsb.ErrPageNotFound), connect.CodeOf(err))
	_, err = c.CreatePage(ctx, mmsb.PageSpec{Size: mmsb.MaxPageSize + 1})
	fmt.Println("page too large:", errors.Is(err, mmsb.ErrInvalidPage))
	err = c.Watch(ctx, client.WatchOptions{MaxReconnects: -1}, func(client.WatchEvent) error { return nil })
	fmt.Println("bad option:", errors.Is(err, mmsb.ErrInvalidOption))
	_ = c.Close()
	_, err = c.Stats(ctx)
	fmt.Println("after Close:", errors.Is(err, mmsb.ErrClosed))
	// Output:
	// missing page: true not_found
	// page too large: true
	// bad option: true
	// after Close: true
}

// A watch stream that brings nothing for longer than SilenceTimeout (a
// hung server, a half-open connection) is dropped and resumed; when the
// reconnections run out, Watch returns an error wrapping ErrWatchSilent.
// Here a server that accepts the watch and then never answers.
func ExampleErrWatchSilent() {
	hung := &hungServer{}
	_, h := mmsbv1connect.NewBusServiceHandler(hung)
	hs := httptest.NewServer(h)
	defer hs.Close()
	c, _ := client.New(hs.URL)
	defer c.Close()

	// The bound is never below three progress intervals (asked for
	// here; the server's default is 1 s).
	opts := client.WatchOptions{SilenceTimeout: 60 * time.Millisecond, Progress: 20 * time.Millisecond, MaxReconnects: 1}
	err := c.Watch(context.Background(), opts, func(client.WatchEvent) error { return nil })
	fmt.Println("silent:", errors.Is(err, client.ErrWatchSilent), connect.CodeOf(err))
	// Output:
	// silent: true unavailable
}

// hungServer answers every Watch with nothing until the client leaves.
type hungServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
}

func (*hungServer) Watch(ctx context.Context, _ *connect.Request[mmsbv1.WatchRequest], _ *connect.ServerStream[mmsbv1.WatchResponse]) error {
	<-ctx.Done()
	return ctx.Err()
}

// WithPings bounds how long a call waits on an HTTP/2 connection whose
// peer is gone: after a ping goes unanswered the connection is closed and
// its calls fail with an error wrapping ErrConnectionSilent (idempotent
// ones, like LastLSN, are retried on a new connection first). gRPC runs
// over HTTP/2; Connect over http:// is HTTP/1.1, where only a context
// deadline bounds a call.
func ExampleWithPings() {
	url, _, stop := serveExample()
	defer stop()
	c, _ := client.New(url, client.WithGRPC(), client.WithPings(5*time.Second, 2*time.Second))
	defer c.Close()

	lsn, err := c.LastLSN(context.Background())
	if errors.Is(err, client.ErrConnectionSilent) {
		fmt.Println("the server stopped answering:", err)
		return
	}
	fmt.Println("last LSN:", lsn, err)
	// Output:
	// last LSN: 0 <nil>
}

// A client reads no message larger than DefaultReadMaxBytes; a larger
// answer fails the call with code ResourceExhausted, naming the bound.
// connect.WithReadMaxBytes sets another (here, lower).
func ExampleWithConnectOptions() {
	url, _, stop := serveExample()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url, client.WithConnectOptions(connect.WithReadMaxBytes(1024)))
	defer c.Close()

	id, _ := c.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
	_, _, _, err := c.ReadPage(ctx, id)
	fmt.Println("4 KiB page:", connect.CodeOf(err))
	data, _, _, err := c.ReadRange(ctx, id, 0, 512)
	fmt.Println("512 bytes of it:", len(data), err)
	// Output:
	// 4 KiB page: resource_exhausted
	// 512 bytes of it: 512 <nil>
}

// A watch from an LSN the server's log no longer holds (checkpoints
// removed it) fails with a *CompactedError. The recipe: read the pages
// (the read's LSN is L), then watch from L+1.
func ExampleCompactedError() {
	dir, _ := os.MkdirTemp("", "mmsb-example")
	defer os.RemoveAll(dir)
	// Small log segments, so that checkpoints soon remove old ones.
	bus, _ := mmsb.Open(dir, &mmsb.Options{SegmentBytes: 4096})
	defer bus.Close()
	srv, _ := server.New(server.Config{Bus: bus})
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	defer hs.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()
	ctx := context.Background()
	c, _ := client.New(hs.URL)
	defer c.Close()

	id, _ := c.CreatePage(ctx, mmsb.PageSpec{Size: 1024})
	for range 3 {
		for range 30 {
			_, _ = c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, make([]byte, 512))})
		}
		_, _ = c.Checkpoint(ctx)
	}

	err := c.Watch(ctx, client.WatchOptions{FromLSN: 1}, func(client.WatchEvent) error { return nil })
	var ce *client.CompactedError
	if !errors.As(err, &ce) {
		panic(err)
	}
	fmt.Println("compacted:", errors.Is(err, client.ErrCompacted), ce.OldestLSN > ce.RequestedLSN)

	_, _, l, _ := c.ReadPage(ctx, id) // the state as of LSN l
	info, _ := c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("after"))})
	_ = c.Watch(ctx, client.WatchOptions{FromLSN: l + 1}, func(ev client.WatchEvent) error {
		for _, ch := range ev.Changes {
			fmt.Println("first change delivered is the commit after the read:", ch.LSN == info.FirstLSN)
		}
		if ev.ProgressLSN >= info.LastLSN {
			return errors.New("done")
		}
		return nil
	})
	// Output:
	// compacted: true true
	// first change delivered is the commit after the read: true
}

// ListPages pages through the bus in ID order: pass the cursor it returns
// as the next call's after, until it is 0 (PageIDs does this for IDs).
func ExampleClient_ListPages() {
	url, _, stop := serveExample()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url)
	defer c.Close()
	_, _ = c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 16}, {Size: 32}})

	for after := mmsb.PageID(0); ; {
		pages, next, err := c.ListPages(ctx, after, 2)
		if err != nil {
			panic(err)
		}
		for _, p := range pages {
			fmt.Printf("page %d: %d bytes\n", p.ID, p.Size)
		}
		if next == 0 {
			break
		}
		after = next
	}
	// Output:
	// page 1: 8 bytes
	// page 2: 16 bytes
	// page 3: 32 bytes
}
