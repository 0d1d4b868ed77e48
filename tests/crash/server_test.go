//go:build crash

package crash

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// The server crash tests run the real `mmsb serve` (built once per test
// binary) on a directory, load it from concurrent Go clients in this
// process, and kill it (SIGKILL) or stop it (SIGTERM) at a random moment.
// The clients remember every commit acknowledged to them; the restarted
// server must hold each of them, byte for byte, at the acknowledged LSNs.
//
// Workload: client w owns srvPagesPer pages; its batch s overwrites each
// of them whole with content(w, s, j)[:srvPageSize], so the pages of a
// client must always agree on s (batches are all or nothing) and s is the
// last acknowledged batch or the one after it (one batch in flight).
const (
	srvWorkers  = 4
	srvPagesPer = 8
	srvPageSize = 256
	// srvStartTimeout bounds a server's start (the serving log line).
	srvStartTimeout = 30 * time.Second
	// srvStopTimeout bounds a graceful shutdown (its --shutdown-timeout is
	// 10 s).
	srvStopTimeout = 30 * time.Second
)

func srvPageID(w, j int) mmsb.PageID { return mmsb.PageID(w*srvPagesPer + j + 1) }

func srvContent(w int, s uint64, j int) []byte { return content(w, s, j)[:srvPageSize] }

// serverIterations is how many kills (or stops) a server test makes: a
// few by default, more with -crash.iterations.
func serverIterations(minimum int) int { return max(minimum, *iterations/10) }

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildDir  string
)

// mmsbBinary builds cmd/mmsb once for the test binary.
func mmsbBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the go command is needed to build mmsb serve: %w", err)
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "mmsb-crash-bin-"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "mmsb")
		out, err := exec.Command(goBin, "build", "-o", buildBin, "github.com/mmsb-go/mmsb/cmd/mmsb").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/mmsb: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// serverProc is one `mmsb serve` child.
type serverProc struct {
	cmd    *exec.Cmd
	url    string
	out    *testutil.SyncBuffer
	exited chan error
}

var servingAddr = regexp.MustCompile(`msg=serving addr=(\S+)`)

// startServer runs `mmsb serve --dir dir --sync group` on a free loopback
// port and waits for its serving line.
func startServer(t *testing.T, dir string) *serverProc {
	t.Helper()
	cmd := exec.Command(mmsbBinary(t), "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--sync", "group",
		"--shutdown-timeout", "10s", "--log-level", "info")
	// The server dies with the test binary if the test is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &serverProc{cmd: cmd, out: &testutil.SyncBuffer{}, exited: make(chan error, 1)}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.out, line)
			if m := servingAddr.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(p.out, stderr)
	}()
	go func() {
		<-scanned // Wait closes the pipe: read it all first
		p.exited <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case err := <-p.exited:
		t.Fatalf("mmsb serve exited before serving (%v):\n%s", err, p.out.String())
	case <-time.After(srvStartTimeout):
		_ = cmd.Process.Kill()
		t.Fatalf("mmsb serve did not start in %v:\n%s", srvStartTimeout, p.out.String())
	}
	return p
}

// kill sends SIGKILL and fails the test unless the kill ended the server.
func (p *serverProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-p.exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("mmsb serve ended with %v before the kill:\n%s", err, p.out.String())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("mmsb serve exited by itself (%v), not by the kill:\n%s", err, p.out.String())
	}
}

// stop sends SIGTERM and requires a clean exit (status 0) in time.
func (p *serverProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("mmsb serve after SIGTERM: %v\n%s", err, p.out.String())
		}
	case <-time.After(srvStopTimeout):
		_ = p.cmd.Process.Kill()
		t.Fatalf("mmsb serve did not stop within %v of SIGTERM:\n%s", srvStopTimeout, p.out.String())
	}
}

// srvAck is one commit acknowledged to a client: worker w's batch seq
// was given LSNs first..last.
type srvAck struct {
	worker      int
	seq         uint64
	first, last mmsb.LSN
}

// srvLoad runs the clients against one server until ctx ends or a commit
// fails (the server went away); each worker stops at its first error.
type srvLoad struct {
	mu   sync.Mutex
	acks []srvAck
	errs [srvWorkers]error
	wg   sync.WaitGroup
}

func (l *srvLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

// runLoad starts srvWorkers clients; worker w continues from batch
// start[w]+1.
func runLoad(ctx context.Context, url string, start [srvWorkers]uint64) (*srvLoad, error) {
	l := &srvLoad{}
	for w := range srvWorkers {
		c, err := client.New(url, client.WithRetries(0, 0))
		if err != nil {
			return nil, err
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			ds := make([]mmsb.Delta, srvPagesPer)
			for seq := start[w] + 1; ctx.Err() == nil; seq++ {
				for j := range ds {
					ds[j] = mmsb.Write(srvPageID(w, j), 0, srvContent(w, seq, j))
				}
				info, err := c.Commit(ctx, ds)
				if err != nil {
					l.mu.Lock()
					l.errs[w] = err
					l.mu.Unlock()
					return
				}
				l.mu.Lock()
				l.acks = append(l.acks, srvAck{worker: w, seq: seq, first: info.FirstLSN, last: info.LastLSN})
				l.mu.Unlock()
			}
		}()
	}
	return l, nil
}

// srvChain is what the test knows about one directory across servers.
type srvChain struct {
	recovered [srvWorkers]uint64 // the batch each worker's pages showed at the last check
	acks      []srvAck           // every acknowledged commit, in order
	checked   int                // acks already checked against the log
	verified  int                // acknowledged commits found in the log, byte for byte
}

// createServerPages creates the workload's pages through c.
func createServerPages(ctx context.Context, c *client.Client) error {
	specs := make([]mmsb.PageSpec, 0, srvWorkers*srvPagesPer)
	for w := range srvWorkers {
		for j := range srvPagesPer {
			specs = append(specs, mmsb.PageSpec{ID: srvPageID(w, j), Size: srvPageSize})
		}
	}
	_, err := c.CreatePages(ctx, specs)
	return err
}

// checkServer checks a restarted server against everything acknowledged
// on its directory: each acknowledged commit not yet checked is in the log
// at its LSNs with exactly the bytes the client sent (read through
// QueryLog), every worker's pages agree on one batch (no batch
// half-applied) and hold that batch's bytes, and that batch is the last
// acknowledged or recovered one, or the one after it (the batch in flight
// when the server died). It updates ch.
func checkServer(ctx context.Context, c *client.Client, ch *srvChain) error {
	// Acknowledged commits, from the log.
	pending := ch.acks[ch.checked:]
	if len(pending) > 0 {
		lo, hi := pending[0].first, pending[0].last
		for _, a := range pending {
			lo, hi = min(lo, a.first), max(hi, a.last)
		}
		type logged struct {
			page mmsb.PageID
			kind mmsb.OpKind
			data []byte
		}
		ops := map[mmsb.LSN]logged{}
		err := c.QueryLog(ctx, mmsb.LogQuery{FromLSN: lo, ToLSN: hi}, func(op *mmsb.LoggedOp) bool {
			l := logged{kind: op.Op.Kind}
			if op.Op.Kind == mmsb.OpDelta {
				l.page = op.Op.Delta.Page
				if rs := op.Op.Delta.Runs; len(rs) == 1 && rs[0].Offset == 0 {
					l.data = bytes.Clone(rs[0].Data)
				}
			}
			ops[op.LSN] = l
			return true
		})
		if err != nil {
			return fmt.Errorf("QueryLog [%d, %d]: %w", lo, hi, err)
		}
		for _, a := range pending {
			if a.last-a.first+1 != srvPagesPer {
				return fmt.Errorf("acknowledged commit of worker %d batch %d: LSNs %d..%d for %d deltas", a.worker, a.seq, a.first, a.last, srvPagesPer)
			}
			for j := range srvPagesPer {
				lsn := a.first + mmsb.LSN(j)
				got, ok := ops[lsn]
				switch {
				case !ok:
					return fmt.Errorf("acknowledged commit missing: worker %d batch %d, LSN %d is not in the log (acknowledged LSNs %d..%d)", a.worker, a.seq, lsn, a.first, a.last)
				case got.kind != mmsb.OpDelta || got.page != srvPageID(a.worker, j) || !bytes.Equal(got.data, srvContent(a.worker, a.seq, j)):
					return fmt.Errorf("acknowledged commit missing: worker %d batch %d, LSN %d holds a %s on page %d that is not what the client sent", a.worker, a.seq, lsn, got.kind, got.page)
				}
			}
			ch.verified++
		}
	}

	// The state, read at one LSN.
	items := make([]*mmsbv1.ReadItem, 0, srvWorkers*srvPagesPer)
	for w := range srvWorkers {
		for j := range srvPagesPer {
			items = append(items, &mmsbv1.ReadItem{Page: uint64(srvPageID(w, j))})
		}
	}
	resp, err := c.Read(ctx, items, 0)
	if err != nil {
		return fmt.Errorf("read the pages: %w", err)
	}
	var lastAck [srvWorkers]uint64
	for _, a := range ch.acks {
		lastAck[a.worker] = max(lastAck[a.worker], a.seq)
	}
	for w := range srvWorkers {
		var seq uint64
		for j := range srvPagesPer {
			b := resp.GetPages()[w*srvPagesPer+j].GetData()
			if len(b) != srvPageSize {
				return fmt.Errorf("worker %d page %d: %d bytes, want %d", w, j, len(b), srvPageSize)
			}
			s := binary.LittleEndian.Uint64(b)
			if j == 0 {
				seq = s
			} else if s != seq {
				return fmt.Errorf("half-applied batch: worker %d page 0 shows batch %d, page %d shows batch %d", w, seq, j, s)
			}
			if !bytes.Equal(b, srvContent(w, s, j)) {
				return fmt.Errorf("worker %d page %d does not hold what batch %d wrote", w, j, s)
			}
		}
		floor := max(ch.recovered[w], lastAck[w])
		if seq < floor {
			return fmt.Errorf("acknowledged commit missing: worker %d pages show batch %d, but batch %d was acknowledged or recovered before", w, seq, floor)
		}
		if seq > floor+1 {
			return fmt.Errorf("worker %d pages show batch %d, more than one past batch %d", w, seq, floor)
		}
		ch.recovered[w] = seq
	}
	ch.checked = len(ch.acks)
	return nil
}

// offlineServerCheck opens a directory a server left (after a clean stop)
// and runs VerifyReplay and the offline checks on it.
func offlineServerCheck(dir string) error {
	e, err := mmsb.Open(dir, &mmsb.Options{CheckpointBytes: -1})
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	for _, newest := range []bool{false, true} {
		rep, err := e.VerifyReplay(context.Background(), newest)
		if err != nil {
			_ = e.Close()
			return fmt.Errorf("VerifyReplay(newest=%v): %w", newest, err)
		}
		if !rep.Equal() {
			_ = e.Close()
			return fmt.Errorf("replay differs from the recovered state (newest=%v): %+v", newest, rep)
		}
	}
	if err := e.Close(); err != nil {
		return err
	}
	return offlineCheck(dir, newStats())
}

// waitAcks waits until l has at least n acknowledgements.
func waitAcks(t *testing.T, l *srvLoad, n int, p *serverProc) {
	t.Helper()
	deadline := time.Now().Add(srvStartTimeout)
	for l.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("no commit acknowledged within %v (errors %v):\n%s", srvStartTimeout, l.errs, p.out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestServerCrash kills `mmsb serve --sync group` with SIGKILL at a random
// moment while srvWorkers clients commit batches, restarts it on the same
// directory, and checks that every acknowledged commit is there (checkServer).
// The last server is stopped with SIGTERM and the directory checked offline.
func TestServerCrash(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("server crash seed %d (rerun with -crash.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	dir := filepath.Join(t.TempDir(), "bus")
	ctx := context.Background()
	ch := &srvChain{}
	p := startServer(t, dir)
	c, err := client.New(p.url)
	if err != nil {
		t.Fatal(err)
	}
	if err := createServerPages(ctx, c); err != nil {
		t.Fatal(err)
	}
	n := serverIterations(3)
	for i := range n {
		loadCtx, cancel := context.WithCancel(ctx)
		l, err := runLoad(loadCtx, p.url, ch.recovered)
		if err != nil {
			t.Fatal(err)
		}
		waitAcks(t, l, 1, p)
		delay := time.Duration(rng.Int64N(int64(maxKill)))
		time.Sleep(delay)
		p.kill(t)
		l.wg.Wait() // every commit in flight has failed: nothing reaches the next server
		cancel()
		ch.acks = append(ch.acks, l.acks...)
		before := ch.verified
		p = startServer(t, dir)
		if c, err = client.New(p.url); err != nil {
			t.Fatal(err)
		}
		if err := checkServer(ctx, c, ch); err != nil {
			t.Fatalf("iteration %d (killed %v after the first acknowledgement): %v\nserver output:\n%s", i, delay, err, p.out.String())
		}
		if ch.verified == before {
			t.Fatalf("iteration %d: no acknowledged commit was checked", i)
		}
	}
	p.stop(t)
	if err := offlineServerCheck(dir); err != nil {
		t.Fatal(err)
	}
	summary := fmt.Sprintf("server crash: %d SIGKILLs of mmsb serve under %d clients; %d acknowledged commits found in the log byte for byte (seed %d)",
		n, srvWorkers, ch.verified, seed)
	t.Log(summary)
	fmt.Println(summary)
}

// watchRecord is what one raw watch stream saw before the server stopped.
type watchRecord struct {
	lsns   []mmsb.LSN
	err    error
	resume *mmsbv1.Resume
	header string
}

// rawWatch watches every page from LSN 1 with the generated Connect
// client (no automatic resumption), so that the error that ends the
// stream is the server's.
func rawWatch(ctx context.Context, url string, started chan<- struct{}) *watchRecord {
	r := &watchRecord{}
	rpc := mmsbv1connect.NewBusServiceClient(http.DefaultClient, url)
	stream, err := rpc.Watch(ctx, connect.NewRequest(&mmsbv1.WatchRequest{FromLsn: 1, ProgressMs: 50}))
	if err != nil {
		r.err = err
		started <- struct{}{}
		return r
	}
	defer func() { _ = stream.Close() }()
	first := true
	for stream.Receive() {
		if first {
			started <- struct{}{}
			first = false
		}
		for _, c := range stream.Msg().GetChanges() {
			r.lsns = append(r.lsns, mmsb.LSN(c.GetLsn()))
		}
	}
	if first {
		started <- struct{}{}
	}
	r.err = stream.Err()
	var ce *connect.Error
	if errors.As(r.err, &ce) {
		r.header = ce.Meta().Get("Mmsb-Last-Lsn")
		for _, d := range ce.Details() {
			if m, derr := d.Value(); derr == nil {
				if res, ok := m.(*mmsbv1.Resume); ok {
					r.resume = res
				}
			}
		}
	}
	return r
}

// checkWatchEnd checks one watch ended by a graceful shutdown: the
// resumable Unavailable error with the Resume detail and header, changes
// delivered in LSN order from 1 with no gap, and a resume point at or past
// the last change delivered.
func checkWatchEnd(r *watchRecord) error {
	if connect.CodeOf(r.err) != connect.CodeUnavailable {
		return fmt.Errorf("watch ended with %w, want code unavailable", r.err)
	}
	if r.resume == nil {
		return fmt.Errorf("watch error %w carries no mmsb.v1.Resume detail", r.err)
	}
	if r.header != strconv.FormatUint(r.resume.GetLastLsn(), 10) {
		return fmt.Errorf("watch error header Mmsb-Last-Lsn %q, detail last_lsn %d", r.header, r.resume.GetLastLsn())
	}
	for i, l := range r.lsns {
		if l != mmsb.LSN(i+1) {
			return fmt.Errorf("watch change %d has LSN %d, want %d (gap or duplicate)", i, l, i+1)
		}
	}
	if n := mmsb.LSN(len(r.lsns)); mmsb.LSN(r.resume.GetLastLsn()) < n {
		return fmt.Errorf("watch resume point %d is before the last change delivered (%d)", r.resume.GetLastLsn(), n)
	}
	return nil
}

// resumeWatch resumes a watch on the restarted server from the resume
// point + 1 up to LSN end and checks that it continues with no gap.
func resumeWatch(ctx context.Context, c *client.Client, r *watchRecord, end mmsb.LSN) error {
	next := mmsb.LSN(r.resume.GetLastLsn()) + 1
	if next > end {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, srvStopTimeout)
	defer cancel()
	done := errors.New("done")
	err := c.Watch(ctx, client.WatchOptions{FromLSN: next}, func(ev client.WatchEvent) error {
		for _, ch := range ev.Changes {
			if ch.LSN != next {
				return fmt.Errorf("resumed watch: LSN %d, want %d", ch.LSN, next)
			}
			next++
		}
		if next > end {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		return fmt.Errorf("resumed watch from LSN %d: %w", r.resume.GetLastLsn()+1, err)
	}
	return nil
}

// TestServerGracefulShutdown stops `mmsb serve` with SIGTERM at a random
// moment while clients commit and watches stream: the server must exit 0,
// every watch must end with the resumable error (and resume on the
// restarted server with no gap), and every acknowledged commit must be
// there after the restart.
func TestServerGracefulShutdown(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("graceful shutdown seed %d (rerun with -crash.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	dir := filepath.Join(t.TempDir(), "bus")
	ctx := context.Background()
	ch := &srvChain{}
	p := startServer(t, dir)
	c, err := client.New(p.url)
	if err != nil {
		t.Fatal(err)
	}
	if err := createServerPages(ctx, c); err != nil {
		t.Fatal(err)
	}
	const watchers = 3
	n := serverIterations(2) / 2
	for i := range max(n, 1) {
		wctx, wcancel := context.WithCancel(ctx)
		records := make([]*watchRecord, watchers)
		started := make(chan struct{}, watchers)
		var wwg sync.WaitGroup
		for k := range watchers {
			wwg.Add(1)
			go func() { defer wwg.Done(); records[k] = rawWatch(wctx, p.url, started) }()
		}
		for range watchers {
			<-started
		}
		loadCtx, cancel := context.WithCancel(ctx)
		l, err := runLoad(loadCtx, p.url, ch.recovered)
		if err != nil {
			t.Fatal(err)
		}
		waitAcks(t, l, 1, p)
		delay := time.Duration(rng.Int64N(int64(maxKill)))
		time.Sleep(delay)
		p.stop(t)
		l.wg.Wait()
		cancel()
		wwg.Wait()
		wcancel()
		ch.acks = append(ch.acks, l.acks...)
		for k, r := range records {
			if err := checkWatchEnd(r); err != nil {
				t.Fatalf("iteration %d, watch %d: %v\nserver output:\n%s", i, k, err, p.out.String())
			}
		}
		before := ch.verified
		p = startServer(t, dir)
		if c, err = client.New(p.url); err != nil {
			t.Fatal(err)
		}
		if err := checkServer(ctx, c, ch); err != nil {
			t.Fatalf("iteration %d (SIGTERM %v after the first acknowledgement): %v\nserver output:\n%s", i, delay, err, p.out.String())
		}
		if ch.verified == before {
			t.Fatalf("iteration %d: no acknowledged commit was checked", i)
		}
		end, err := c.LastLSN(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for k, r := range records {
			if err := resumeWatch(ctx, c, r, end); err != nil {
				t.Fatalf("iteration %d, watch %d: %v", i, k, err)
			}
		}
		t.Logf("iteration %d: %d commits acknowledged, watches ended at LSN %d..%d of %d", i, len(l.acks),
			records[0].resume.GetLastLsn(), records[watchers-1].resume.GetLastLsn(), end)
	}
	p.stop(t)
	if err := offlineServerCheck(dir); err != nil {
		t.Fatal(err)
	}
}

// TestServerCrashCatchesMissingAck is the negative control of checkServer:
// after a real kill and restart, the true acknowledgements pass, while a
// fabricated acknowledgement of a commit that never happened (past the
// log's end, or claiming bytes a logged commit does not hold) and a
// half-applied batch (written to the restarted server on purpose) are
// each reported.
func TestServerCrashCatchesMissingAck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bus")
	ctx := context.Background()
	p := startServer(t, dir)
	c, err := client.New(p.url)
	if err != nil {
		t.Fatal(err)
	}
	if err := createServerPages(ctx, c); err != nil {
		t.Fatal(err)
	}
	loadCtx, cancel := context.WithCancel(ctx)
	l, err := runLoad(loadCtx, p.url, [srvWorkers]uint64{})
	if err != nil {
		t.Fatal(err)
	}
	waitAcks(t, l, 2*srvWorkers, p)
	p.kill(t)
	l.wg.Wait()
	cancel()
	p = startServer(t, dir)
	defer p.stop(t)
	if c, err = client.New(p.url); err != nil {
		t.Fatal(err)
	}
	last, err := c.LastLSN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	honest := l.acks
	top := honest[len(honest)-1]
	var w0 uint64
	for _, a := range honest {
		if a.worker == 0 {
			w0 = max(w0, a.seq)
		}
	}
	cases := []struct {
		name    string
		acks    []srvAck
		half    bool // commit a batch to half of worker 0's pages first
		wantErr string
	}{
		{"true acknowledgements", honest, false, ""},
		{"acknowledged past the log's end", append(append([]srvAck(nil), honest...),
			srvAck{worker: 0, seq: w0 + 2, first: last + 1, last: last + srvPagesPer}), false, "acknowledged commit missing"},
		{"acknowledged bytes the log does not hold", append(append([]srvAck(nil), honest...),
			srvAck{worker: (top.worker + 1) % srvWorkers, seq: top.seq, first: top.first, last: top.last}), false, "acknowledged commit missing"},
		{"half-applied batch", honest, true, "half-applied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.half {
				// A batch written to half of worker 0's pages: what a server
				// that applied half a batch would leave.
				cur, _, _, err := c.ReadPage(ctx, srvPageID(0, 0))
				if err != nil {
					t.Fatal(err)
				}
				s := binary.LittleEndian.Uint64(cur) + 1
				var ds []mmsb.Delta
				for j := range srvPagesPer / 2 {
					ds = append(ds, mmsb.Write(srvPageID(0, j), 0, srvContent(0, s, j)))
				}
				if _, err := c.Commit(ctx, ds); err != nil {
					t.Fatal(err)
				}
			}
			ch := &srvChain{acks: tc.acks}
			err := checkServer(ctx, c, ch)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("true acknowledgements failed the check: %v", err)
			case tc.wantErr == "" && ch.verified != len(honest):
				t.Fatalf("verified %d acknowledged commits, want %d", ch.verified, len(honest))
			case tc.wantErr != "" && err == nil:
				t.Fatal("the check passed")
			case tc.wantErr != "" && !bytes.Contains([]byte(err.Error()), []byte(tc.wantErr)):
				t.Fatalf("check error %q does not say %q", err, tc.wantErr)
			}
			if err != nil {
				t.Logf("caught: %v", err)
			}
		})
	}
}

// TestCheckWatchEndControl is the negative control of checkWatchEnd: a
// watch that ended with another code, without the Resume detail, with a
// header that disagrees, with a gap or a duplicate, or with a resume point
// before its last change is reported.
func TestCheckWatchEndControl(t *testing.T) {
	unavailable := connect.NewError(connect.CodeUnavailable, errors.New("server shutting down"))
	good := func() *watchRecord {
		return &watchRecord{lsns: []mmsb.LSN{1, 2, 3}, err: unavailable, resume: &mmsbv1.Resume{LastLsn: 4}, header: "4"}
	}
	cases := []struct {
		name   string
		change func(*watchRecord)
		ok     bool
	}{
		{"clean end", func(*watchRecord) {}, true},
		{"other code", func(r *watchRecord) { r.err = connect.NewError(connect.CodeInternal, errors.New("boom")) }, false},
		{"no detail", func(r *watchRecord) { r.resume = nil }, false},
		{"header disagrees", func(r *watchRecord) { r.header = "3" }, false},
		{"gap", func(r *watchRecord) { r.lsns = []mmsb.LSN{1, 3, 4} }, false},
		{"duplicate", func(r *watchRecord) { r.lsns = []mmsb.LSN{1, 2, 2} }, false},
		{"resume before the last change", func(r *watchRecord) { r.resume.LastLsn, r.header = 2, "2" }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := good()
			c.change(r)
			if err := checkWatchEnd(r); (err == nil) != c.ok {
				t.Fatalf("checkWatchEnd = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
