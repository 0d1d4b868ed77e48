package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisProgram is the server the Redis target starts (Debian's
// redis-server package).
const RedisProgram = "redis-server"

// redisTarget runs a private redis-server on a free loopback port, in the
// target's directory, and applies a batch as one pipeline of SETRANGE
// commands (one round trip). nosync runs with no persistence at all; sync
// with appendonly yes and appendfsync always (Redis fsyncs the AOF before
// answering a pipeline's writes).
type redisTarget struct {
	sync    bool
	cmd     *exec.Cmd
	done    chan struct{} // closed once the server has exited
	exitErr error         // its exit status, set before done is closed
	rdb     *redis.Client
	log     bytes.Buffer
}

func (t *redisTarget) Setup(ctx context.Context, dir string, w Workload) error {
	prog, err := exec.LookPath(RedisProgram)
	if err != nil {
		return fmt.Errorf("%w: %s not found on PATH (Debian package redis-server)", ErrUnavailable, RedisProgram)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--daemonize", "no", "--logfile", "", "--protected-mode", "yes"}
	if t.sync {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	t.cmd = exec.Command(prog, args...)
	t.cmd.Stdout, t.cmd.Stderr = &t.log, &t.log
	if err := t.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", prog, err)
	}
	t.done = make(chan struct{})
	go func() { t.exitErr = t.cmd.Wait(); close(t.done) }()
	t.rdb = redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	if err := t.waitReady(ctx); err != nil {
		return err
	}
	zero := make([]byte, w.PageSize)
	const chunk = 4096
	for first := 0; first < w.Pages; first += chunk {
		pipe := t.rdb.Pipeline()
		for i := first; i < min(first+chunk, w.Pages); i++ {
			pipe.Set(ctx, redisKey(uint32(i)), zero, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("redis: create pages: %w", err)
		}
	}
	return nil
}

// waitReady pings the server until it answers (it needs a moment to bind).
func (t *redisTarget) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := t.rdb.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-t.done:
			return fmt.Errorf("%s exited before answering (%w): %s", RedisProgram, t.exitErr, t.log.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within 10s: %w", RedisProgram, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort asks the kernel for a free loopback port. Another process
// could take it before redis-server binds it; Setup then fails visibly.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }() // only probing for a free port
	return l.Addr().(*net.TCPAddr).Port, nil
}

func redisKey(i uint32) string { return "p:" + strconv.FormatUint(uint64(i), 10) }

func (t *redisTarget) Commit(ctx context.Context, batch []Write) error {
	pipe := t.rdb.Pipeline()
	for i := range batch {
		wr := &batch[i]
		pipe.SetRange(ctx, redisKey(wr.Page), int64(wr.Off), string(wr.Data[:]))
	}
	_, err := pipe.Exec(ctx)
	return err
}

func (t *redisTarget) ReadPage(ctx context.Context, i uint32) ([]byte, error) {
	return t.rdb.Get(ctx, redisKey(i)).Bytes()
}

func (t *redisTarget) Close() error {
	var errs []error
	if t.rdb != nil {
		errs = append(errs, t.rdb.Close())
	}
	if t.cmd != nil && t.cmd.Process != nil {
		_ = t.cmd.Process.Signal(os.Interrupt) // SIGINT: redis-server exits (no save configured)
		select {
		case <-t.done:
		case <-time.After(10 * time.Second):
			_ = t.cmd.Process.Kill()
			<-t.done
		}
	}
	return errors.Join(errs...)
}
