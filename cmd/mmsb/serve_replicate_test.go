package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/replicate"
)

// startServe runs 'mmsb serve' with args until the test ends (or stop)
// and returns its listening address, stderr and stop.
func startServe(t *testing.T, args ...string) (string, *syncText, func()) {
	t.Helper()
	var stdout, stderr syncText
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, append([]string{"serve"}, args...), &stdout, &stderr) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-exited:
				if code != exitOK {
					t.Errorf("serve %v exited %d:\n%s", args, code, stderr.String())
				}
			case <-time.After(60 * time.Second):
				t.Errorf("serve %v did not stop", args)
			}
		})
	}
	t.Cleanup(stop)
	addrRe := regexp.MustCompile(`msg=(?:listening|serving) addr=(127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := addrRe.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], &stderr, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServeReplicate: 'mmsb serve --replicate' without --nats leads with an
// embedded nats-server; a second 'serve --replicate --follow-only' joins
// it, serves the leader's commits read-only, and refuses writes with
// FailedPrecondition.
func TestServeReplicate(t *testing.T) {
	root := t.TempDir()
	leaderAddr, leaderLog, _ := startServe(t, "--replicate", "--dir", filepath.Join(root, "a"), "--addr", "127.0.0.1:0", "--lease-ttl", "1s")
	natsRe := regexp.MustCompile(`embedded nats-server" url=(nats://[0-9a-f]+@[0-9.:]+)`)
	m := natsRe.FindStringSubmatch(leaderLog.String())
	if m == nil {
		t.Fatalf("no embedded NATS URL in the log:\n%s", leaderLog.String())
	}
	lc, err := client.New("http://"+leaderAddr, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var id mmsb.PageID
	deadline := time.Now().Add(30 * time.Second)
	for { // the node serves 503 until it leads
		if id, err = lc.CreatePage(ctx, mmsb.PageSpec{Size: 16}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader never accepted a write: %v\n%s", err, leaderLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	info, err := lc.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("replicated"))})
	if err != nil {
		t.Fatal(err)
	}
	// The leader's /metrics holds the bus's and the replication node's
	// metrics: it leads, and the stream acknowledged its records.
	text := httpGet(t, "http://"+leaderAddr+"/metrics")
	for _, want := range []string{"\nmmsb_leader 1\n", "\nmmsb_replication_published_records_total ", "\nmmsb_replication_publish_duration_seconds_count ", "\nmmsb_commits_total "} {
		if !strings.Contains(text, want) {
			t.Errorf("leader /metrics lacks %q", strings.TrimSpace(want))
		}
	}

	followerAddr, followerLog, _ := startServe(t, "--replicate", "--follow-only", "--nats", m[1], "--dir", filepath.Join(root, "b"), "--addr", "127.0.0.1:0")
	fc, err := client.New("http://"+followerAddr, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if lsn, err := fc.LastLSN(ctx); err == nil && lsn >= info.LastLSN {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower never reached LSN %d:\n%s", info.LastLSN, followerLog.String())
		}
	}
	// The read-only follower serves the web inspector too.
	if page := httpGet(t, "http://"+followerAddr+"/ui/"); !strings.Contains(page, "<html") {
		t.Errorf("follower /ui/ is not the inspector's page:\n%.200s", page)
	}
	b, _, _, err := fc.ReadPage(ctx, id)
	if err != nil || string(b[:10]) != "replicated" {
		t.Fatalf("follower read %q, %v", b, err)
	}
	lh, err1 := lc.StateHash(ctx)
	fh, err2 := fc.StateHash(ctx)
	if err1 != nil || err2 != nil || lh != fh {
		t.Fatalf("state hashes leader %#x (%v), follower %#x (%v)", lh, err1, fh, err2)
	}
	_, err = fc.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("no"))})
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("write to a follower: %v (code %v), want FailedPrecondition", err, connect.CodeOf(err))
	}
}

// TestServeReplicateFailover: two 'serve --replicate' nodes on one
// three-server cluster; when the leader's process stops, the other takes
// the lease and accepts writes, and the commit acknowledged by the old
// leader is in its state.
func TestServeReplicateFailover(t *testing.T) {
	root := t.TempDir()
	c, err := replicate.StartCluster("servetest", []string{t.TempDir(), t.TempDir(), t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	if err := c.WaitJetStream(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	common := []string{"--replicate", "--nats", c.URL(), "--replicas", "3", "--lease-ttl", "1s", "--addr", "127.0.0.1:0"}
	addrA, logA, stopA := startServe(t, append(common, "--dir", filepath.Join(root, "a"))...)
	ctx := context.Background()
	ca, _ := client.New("http://"+addrA, client.WithRetries(0, 0))
	var id mmsb.PageID
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if id, err = ca.CreatePage(ctx, mmsb.PageSpec{Size: 16}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node a never led: %v\n%s", err, logA.String())
		}
	}
	addrB, logB, _ := startServe(t, append(common, "--dir", filepath.Join(root, "b"))...)
	info, err := ca.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("before"))})
	if err != nil {
		t.Fatal(err)
	}
	// Node b follows: once it serves the commit, its /metrics counts
	// its reads, its bus's log and the rest; they must not go down when
	// it leads with a new bus (one registry for the process).
	cb, _ := client.New("http://"+addrB, client.WithRetries(0, 0))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, _, _, err := cb.ReadPage(ctx, id); err == nil && string(b[:6]) == "before" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b never served the leader's commit\n%s", logB.String())
		}
	}
	for range 5 { // more reads than it serves after the role change
		if _, _, _, err := cb.ReadPage(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	followerMetrics := httpGet(t, "http://"+addrB+"/metrics")
	stopA()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err = cb.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 8, []byte("after"))}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b never took over: %v\n%s\nA:\n%s", err, logB.String(), logA.String())
		}
	}
	b, _, lsn, err := cb.ReadPage(ctx, id)
	if err != nil || string(b[:6]) != "before" || string(b[8:13]) != "after" || lsn <= info.LastLSN {
		t.Fatalf("new leader reads %q at LSN %d (%v); the old leader acknowledged LSN %d", b, lsn, err, info.LastLSN)
	}
	for _, p := range countersWentDown(t, followerMetrics, httpGet(t, "http://"+addrB+"/metrics")) {
		t.Error(p)
	}
}

// countersWentDown compares two scrapes of one process's /metrics and
// describes every counter, histogram count and histogram bucket of the
// first that is lower, or missing, in the second.
func countersWentDown(t *testing.T, before, after string) []string {
	t.Helper()
	parse := func(text string) map[string]float64 {
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(text))
		if err != nil {
			t.Fatalf("parse /metrics: %v\n%s", err, text)
		}
		out := map[string]float64{}
		for name, f := range fams {
			for _, m := range f.Metric {
				key := name
				for _, l := range m.Label {
					key += fmt.Sprintf(",%s=%q", l.GetName(), l.GetValue())
				}
				switch f.GetType() {
				case dto.MetricType_COUNTER:
					out[key] = m.GetCounter().GetValue()
				case dto.MetricType_HISTOGRAM:
					out[key+" count"] = float64(m.GetHistogram().GetSampleCount())
					for _, b := range m.GetHistogram().Bucket {
						out[fmt.Sprintf("%s le=%g", key, b.GetUpperBound())] = float64(b.GetCumulativeCount())
					}
				}
			}
		}
		return out
	}
	b, a := parse(before), parse(after)
	var problems []string
	for key, v := range b {
		w, ok := a[key]
		if !ok && strings.Contains(key, ",sync=") {
			// The commit durations of one sync mode, which the bus of a
			// follower ("group") and of a leader ("replicated") do not
			// share: exported while a bus in that mode serves.
			continue
		}
		if !ok || w < v {
			problems = append(problems, fmt.Sprintf("%s: %v before the role change, %v after (present: %v)", key, v, w, ok))
		}
	}
	slices.Sort(problems)
	if len(b) < 10 {
		problems = append(problems, fmt.Sprintf("only %d counter samples in the first scrape", len(b)))
	}
	return problems
}

// httpGet returns the body a GET of url answers, failing the test unless
// it is 200.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, body)
	}
	return string(body)
}
