package replicate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"
)

// TestFollowerSpellEndsWhenServerGone: a follower whose NATS server goes
// away (the one-machine recipe's leader, killed, took its embedded server
// with it) ends its spell with ErrStreamUnavailable naming the server
// (ErrServerUnreachable, without its token), logs and counts it, and
// follows again once a server is back on the same address. Before, nats.go
// paused the consumer's heartbeat check while it reconnected (for ever):
// the follower waited in Next, silent, stream_retries=0, for good.
func TestFollowerSpellEndsWhenServerGone(t *testing.T) {
	defer func(d time.Duration) { disconnectedLimit = d }(disconnectedLimit)
	disconnectedLimit = 500 * time.Millisecond
	c, res, leader, _ := catchUpStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &Metrics{}
	fb, applied, logs, done := runFollower(t, ctx, res, m)
	pages := createPages(t, leader, 2)
	waitRunApplied(t, applied, done, leader.LastLSN())

	c.Stop(0)
	// The first spell ends in its read of the consumer, the next at its
	// position check (a request that times out): both say why.
	for i := 1; i <= 2; i++ {
		select {
		case line := <-logs:
			t.Log(line)
			for _, want := range []string{ErrStreamUnavailable.Error(), ErrServerUnreachable.Error(), fmt.Sprintf("127.0.0.1:%d", c.cfgs[0].Port)} {
				if !strings.Contains(line, want) {
					t.Errorf("log line %d %q does not say %q", i, line, want)
				}
			}
			if strings.Contains(line, c.token) {
				t.Errorf("log line %d %q shows the server's token", i, line)
			}
		case err := <-done:
			t.Fatalf("Run ended with the server gone: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%d spells ended in 30 s after the server stopped (stream_retries=%d): the follower waits for ever", i-1, m.StreamRetries.Load())
		}
	}
	if n := m.StreamRetries.Load(); n < 2 {
		t.Fatalf("StreamRetries = %d after two logged retries", n)
	}

	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	var err error
	for try := 0; try < 100; try++ { // the leader's connection reconnects first
		if _, err = load(ctx, leader, pages, 1, 3, 2); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("commits after the restart: %v", err)
	}
	waitRunApplied(t, applied, done, leader.LastLSN())
	if got, want := stateHash(t, fb), stateHash(t, leader); got != want {
		t.Fatalf("follower state hash %016x, leader %016x", got, want)
	}
}

// TestTakeLeaseNamesUnreachableServer: a take of the lease while the
// connection is down says the NATS server cannot be reached and names it
// without its token. Before, a second node whose server was killed logged
// only "replicate: take lease: context deadline exceeded".
func TestTakeLeaseNamesUnreachableServer(t *testing.T) {
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	nc := res.js.Conn()
	down := nc.StatusChanged(nats.RECONNECTING)
	defer nc.RemoveStatusListener(down)
	c.Stop(0)
	select {
	case <-down:
	case <-time.After(30 * time.Second):
		t.Fatal("the connection did not notice the server's stop in 30 s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := acquireLease(ctx, res.lease, "a", 3*time.Second)
	if !errors.Is(err, ErrServerUnreachable) {
		t.Fatalf("take lease with the server gone: %v, want ErrServerUnreachable", err)
	}
	if want := fmt.Sprintf("nats://127.0.0.1:%d", c.cfgs[0].Port); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
	if strings.Contains(err.Error(), c.token) {
		t.Errorf("error %q shows the server's token", err)
	}
}

// TestRestartedNodeAppliedLSNIsBusLSN: a node restarted on a directory
// holding records reports the bus's LSN as its applied LSN (status line
// applied_lsn, mmsb_replication_applied_lsn), and so does it once it leads
// without new writes. Before, it stayed 0 until a record was applied or
// published: "leader=1 applied_lsn=0" for good beside a bus at LSN 14001096.
func TestRestartedNodeAppliedLSNIsBusLSN(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	dir := filepath.Join(t.TempDir(), "a")
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", Dir: dir, CheckpointEvery: -1})
	_, bus := waitLeader(t, a)
	pages := createPages(t, bus, 2)
	if _, err := load(ctx, bus, pages, 1, 3, 2); err != nil {
		t.Fatal(err)
	}
	a.stop()

	a2 := startNode(t, c, NodeConfig{Config: cfg, ID: "a", Dir: dir, CheckpointEvery: -1})
	_, bus2 := waitLeader(t, a2)
	lsn := bus2.LastLSN()
	if lsn == 0 {
		t.Fatal("restarted bus at LSN 0")
	}
	if got := a2.Metrics.AppliedLSN.Load(); got != uint64(lsn) {
		t.Fatalf("restarted leader's applied LSN %d, its bus at LSN %d", got, lsn)
	}
}

// fakeConn is a natsConn whose connection status a test sets; its status
// listeners get events as nats.go's do (dropped when their buffer of 10
// is full).
type fakeConn struct {
	mu        sync.Mutex
	up        bool
	servers   []string
	listeners map[chan nats.Status]bool
}

func newFakeConn(servers ...string) *fakeConn {
	return &fakeConn{up: true, servers: servers, listeners: map[chan nats.Status]bool{}}
}

func (c *fakeConn) IsConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up
}

func (c *fakeConn) Status() nats.Status {
	if c.IsConnected() {
		return nats.CONNECTED
	}
	return nats.RECONNECTING
}

func (c *fakeConn) Servers() []string { return c.servers }

func (c *fakeConn) StatusChanged(...nats.Status) chan nats.Status {
	ch := make(chan nats.Status, 10)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners[ch] = true
	return ch
}

func (c *fakeConn) RemoveStatusListener(ch chan nats.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.listeners, ch)
	close(ch)
}

func (c *fakeConn) set(up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.up = up
	s := nats.RECONNECTING
	if up {
		s = nats.CONNECTED
	}
	for ch := range c.listeners {
		select {
		case ch <- s:
		default:
		}
	}
}

func (c *fakeConn) listening() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.listeners)
}

// watch runs watchConnection on c with a 10 s limit until stop is called;
// ended reports whether it ended the spell (and with what).
func watch(c *fakeConn) (ended func() error, stop func()) {
	ctx, end := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); watchConnection(ctx, c, 10*time.Second, end) }()
	return func() error { return context.Cause(ctx) }, func() { end(nil); <-done }
}

// TestWatchConnectionEndsOnFlappingConnection: a connection down 9 s and
// up 1 s, over and over (never down 10 s in a row, never up long enough
// for the consumer's heartbeat check), ends the spell once it has been
// down 10 s in all: during its second outage. Before, each reconnect
// started the 10 s afresh: the spell never ended, the follower silent
// while it got nothing. Fake time (synctest): no wall-clock bound.
func TestWatchConnectionEndsOnFlappingConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newFakeConn("nats://127.0.0.1:4222")
		ended, stop := watch(c)
		defer stop()
		for i := 0; i < 10 && ended() == nil; i++ {
			c.set(false)
			time.Sleep(9 * time.Second)
			synctest.Wait()
			if i == 0 && ended() != nil {
				t.Fatalf("spell ended after 9 s down: %v", ended())
			}
			c.set(true)
			time.Sleep(time.Second)
			synctest.Wait()
		}
		err := ended()
		if !errors.Is(err, ErrServerUnreachable) {
			t.Fatalf("after 10 spells of 9 s down and 1 s up the spell did not end (cause %v): the follower waits for ever", err)
		}
		t.Log(err)
	})
}

// TestWatchConnectionForgivesRecoveredConnection: an outage followed by
// 10 s connected is forgiven (two 9 s outages 10 s apart end nothing), a
// steady connection ends nothing, and 10 s down in a row ends the spell.
func TestWatchConnectionForgivesRecoveredConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newFakeConn("nats://127.0.0.1:4222")
		ended, stop := watch(c)
		defer stop()
		for range 3 {
			c.set(false)
			time.Sleep(9 * time.Second)
			c.set(true)
			time.Sleep(10 * time.Second)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if err := ended(); err != nil {
			t.Fatalf("spell ended though the connection never stayed down 10 s and recovered after each outage: %v", err)
		}
		c.set(false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if err := ended(); !errors.Is(err, ErrServerUnreachable) {
			t.Fatalf("connection down 10 s in a row: spell's cause %v, want ErrServerUnreachable", err)
		}
	})
}

// TestWatchConnectionLeavesNoListener: 1000 spells, ended by their
// context (connected or not) or by the watch itself, leave no status
// listener registered and no goroutine running (synctest.Test fails
// while one does).
func TestWatchConnectionLeavesNoListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newFakeConn("nats://127.0.0.1:4222")
		for i := range 1000 {
			c.set(i%3 != 0)
			ended, stop := watch(c)
			if i%3 == 0 {
				time.Sleep(10 * time.Second)
				synctest.Wait()
				if ended() == nil {
					t.Fatalf("spell %d: not ended after 10 s down", i)
				}
			}
			stop()
			if n := c.listening(); n != 0 {
				t.Fatalf("after spell %d: %d status listeners registered", i, n)
			}
		}
	})
}

// TestUnreachableRedactsServers: ErrServerUnreachable names each server
// without its password or token (nats.go's Servers shows neither today;
// unreachable does not count on it).
func TestUnreachableRedactsServers(t *testing.T) {
	c := newFakeConn("nats://alice:pw-s3cret@10.0.0.1:4222", "nats://tok-s3cret@10.0.0.2:4223")
	if err := unreachable(c); err != nil {
		t.Fatalf("connected: %v", err)
	}
	c.set(false)
	err := unreachable(c)
	if !errors.Is(err, ErrServerUnreachable) {
		t.Fatalf("down: %v, want ErrServerUnreachable", err)
	}
	for _, want := range []string{"10.0.0.1:4222", "10.0.0.2:4223", "RECONNECTING"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("%q shows a password or token", err)
	}
}
