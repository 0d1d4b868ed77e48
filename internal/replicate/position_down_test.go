package replicate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestFollowerPositionEndsWhenConnectionDown: a position check made while
// the follower's connection is down (its only server stopped) ends at
// once with ErrStreamUnavailable wrapping ErrServerUnreachable, however
// long AckTimeout is. Before, each read waited AckTimeout (nats.go keeps
// a request made while it reconnects until its timeout), so every retry
// of a follower whose server was gone took AckTimeout before Run could
// log it and retry. Control: without the connection watch in position
// the check was still waiting after 30 s (AckTimeout 10 min here).
func TestFollowerPositionEndsWhenConnectionDown(t *testing.T) {
	c, _, _, _ := catchUpStream(t)
	cfg := testConfig(1)
	cfg.AckTimeout = 10 * time.Minute
	res := testResources(t, c, cfg)
	fb, err := mmsb.Open(t.TempDir(), &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fb.Close() })
	f := newFollower(fb, res, &Metrics{})
	if _, err := f.position(context.Background()); err != nil {
		t.Fatalf("position with the server up: %v", err)
	}

	nc := res.js.Conn()
	down := nc.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED)
	defer nc.RemoveStatusListener(down)
	c.Stop(0)
	select {
	case <-down:
	case <-time.After(30 * time.Second):
		t.Fatalf("connection still %v 30 s after its server stopped", nc.Status())
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.position(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStreamUnavailable) || !errors.Is(err, ErrServerUnreachable) {
			t.Fatalf("position with the server stopped: %v, want %v wrapping %v", err, ErrStreamUnavailable, ErrServerUnreachable)
		}
		t.Log(err)
	case <-time.After(30 * time.Second):
		t.Fatalf("position still waiting 30 s after the connection went down (AckTimeout %v)", cfg.AckTimeout)
	}
}

// TestFollowerPositionEndsWhenConnectionDropsWhileAReadWaits: the
// connection is up when the position check starts and its server stops
// while one of its reads waits for an answer: the check ends with
// ErrStreamUnavailable wrapping ErrServerUnreachable, not after
// AckTimeout (10 min here). The follower's JetStream API requests go
// through a proxy (an API prefix the test serves, forwarding to the real
// API) that holds the first record read unanswered, so the server is
// stopped while that read surely waits, without a sleep. Control: without
// the connection watch in position the check was still waiting after 30 s.
func TestFollowerPositionEndsWhenConnectionDropsWhileAReadWaits(t *testing.T) {
	c, _, _, _ := catchUpStream(t)
	cfg := testConfig(1)
	cfg.AckTimeout = 10 * time.Minute
	res := testResources(t, c, cfg)
	ctx := context.Background()

	const prefix = "R4PROXY.API."
	proxy := connect(t, c.URL())
	waiting := make(chan string, 1)
	sub, err := proxy.Subscribe(prefix+">", func(m *nats.Msg) {
		api := strings.TrimPrefix(m.Subject, prefix)
		if !strings.HasPrefix(api, "STREAM.INFO.") {
			select {
			case waiting <- api: // held: never answered
			default:
			}
			return
		}
		resp, err := proxy.RequestMsg(&nats.Msg{Subject: jetstream.DefaultAPIPrefix + api, Data: m.Data, Header: m.Header}, 10*time.Second)
		if err == nil {
			_ = m.RespondMsg(&nats.Msg{Data: resp.Data, Header: resp.Header})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := proxy.Flush(); err != nil { // the server has the subscription
		t.Fatal(err)
	}
	js, err := jetstream.NewWithAPIPrefix(res.js.Conn(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, res.cfg.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	proxied := *res
	proxied.js, proxied.stream = js, stream

	fb, err := mmsb.Open(t.TempDir(), &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fb.Close() })
	f := newFollower(fb, &proxied, &Metrics{})
	done := make(chan error, 1)
	go func() {
		_, err := f.position(ctx)
		done <- err
	}()
	select {
	case api := <-waiting:
		t.Logf("held %s; stopping the server", api)
	case err := <-done:
		t.Fatalf("position returned %v before any read was held", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no record read of the position check reached the proxy in 30 s")
	}
	c.Stop(0)
	select {
	case err := <-done:
		if !errors.Is(err, ErrStreamUnavailable) || !errors.Is(err, ErrServerUnreachable) {
			t.Fatalf("position with the server stopped during a read: %v, want %v wrapping %v", err, ErrStreamUnavailable, ErrServerUnreachable)
		}
		t.Log(err)
	case <-time.After(30 * time.Second):
		t.Fatalf("position still waiting 30 s after the server stopped during its read (AckTimeout %v)", cfg.AckTimeout)
	}
}
