package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/replicate"
)

// TestServeReplicateBusDropsStreamPrefix: 'serve --replicate-bus
// MMSB_LOG_pfx' names the bus that 'replicate --bus MMSB_LOG_pfx' (and
// 'follow --stream MMSB_LOG_pfx') name, whose stream is MMSB_LOG_pfx: a
// follow-only serve joins the running leader of it and serves its bus.
// Before, serve kept the prefix and looked for the stream
// MMSB_LOG_MMSB_LOG_pfx, which no leader makes: it answered 503 "waiting
// for the stream" for ever beside the leader.
func TestServeReplicateBusDropsStreamPrefix(t *testing.T) {
	c, err := replicate.StartCluster("prefixtest", []string{t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	root := t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	var lout, lerr syncText
	leaderDone := make(chan int, 1)
	go func() {
		leaderDone <- run(ctx, []string{"replicate", "--nats", c.URL(), "--bus", "MMSB_LOG_pfx", "--dir", filepath.Join(root, "leader"), "--status-every", "0"}, &lout, &lerr)
	}()
	defer func() {
		cancel()
		if code := <-leaderDone; code != exitOK {
			t.Errorf("replicate exited %d:\n%s", code, lerr.String())
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(lerr.String(), "leader at LSN"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("replicate --bus MMSB_LOG_pfx never led:\n%s", lerr.String())
		}
	}

	addr, log, stop := startServe(t, "--replicate", "--follow-only", "--nats", c.URL(), "--replicate-bus", "MMSB_LOG_pfx",
		"--dir", filepath.Join(root, "follower"), "--addr", "127.0.0.1:0")
	defer stop()
	var status int
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			status, body = resp.StatusCode, string(b)
			if status == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve --replicate-bus MMSB_LOG_pfx never served the leader's bus (last: %v %d %.200q)\n%s", err, status, body, log.String())
		}
	}
	if !strings.Contains(log.String(), "bus=pfx") {
		t.Errorf("serve's log does not name the bus pfx:\n%s", log.String())
	}
}
