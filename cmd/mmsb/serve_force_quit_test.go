package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeSecondSignalForceQuits: the first SIGTERM starts the graceful
// shutdown, which a client stuck in the middle of a request holds open (up
// to --shutdown-timeout, here far longer than the test); a second signal
// must end the process at once, with exit status 1 and a message saying
// the shutdown was cut short. It runs mmsb serve as a child process (this
// test binary, through TestMain), since only a real process receives
// signals.
func TestServeSecondSignalForceQuits(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "serve", "--addr", "127.0.0.1:0", "--shutdown-timeout", "10m", "--timeout", "0")
	cmd.Env = append(os.Environ(), cliSelfEnv+"=1")
	var stderr syncText
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	go func() { _, _ = io.Copy(&stderr, pr) }()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); _ = pw.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// waitFor waits for re in the child's stderr; the deadline only
	// bounds a child that hangs or died, it measures nothing.
	waitFor := func(re *regexp.Regexp, what string) []string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if m := re.FindStringSubmatch(stderr.String()); m != nil {
				return m
			}
			select {
			case err := <-exited:
				exited <- err
				t.Fatalf("serve exited (%v) before %s:\n%s", err, what, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve did not reach %s:\n%s", what, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	addr := waitFor(servingRe, "the serving state")[1]
	// A slow client: a request whose body never comes keeps its
	// connection active, so the graceful shutdown waits for it. With
	// "Expect: 100-continue" the server answers "100 Continue" only once
	// the handler reads the body: proof that the request is in flight
	// before the first signal (a connection still in the listen backlog,
	// or between requests, would just be dropped by the shutdown).
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST /mmsb.v1.BusService/Stats HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n", addr); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("the slow request was not taken up: %q %v", line, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(regexp.MustCompile(`msg="shutting down"`), "the graceful shutdown")
	// The first signal was read before that line was logged: a second one
	// sent duplicateSignalWindow later is read at least that long after
	// it, so it is a second request, not the first delivered twice.
	time.Sleep(duplicateSignalWindow)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("second signal: %v (the shutdown was not held open):\n%s", err, stderr.String())
	}
	select {
	case err := <-exited:
		exited <- err
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitFailure {
			t.Fatalf("serve ended with %v after the second signal, want exit status %d:\n%s", err, exitFailure, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit after a second signal (the graceful shutdown still waits for the slow client):\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "shutdown cut short") {
		t.Errorf("stderr does not say that the shutdown was cut short:\n%s", stderr.String())
	}
}
