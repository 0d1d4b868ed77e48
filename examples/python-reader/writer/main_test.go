package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// TestRunRejectsBadFlags guards the writer's flags: -pages below 1 or too
// large and -every not positive are refused with errBadFlag naming the
// flag, before a bus is opened. Before, -pages -1 panicked (makeslice),
// -pages 0 created an empty bus and then failed on an empty batch, and
// -every 0 committed in a busy loop.
func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pages   int
		every   time.Duration
		mention string
	}{
		{"negative pages", -1, time.Millisecond, "-pages"},
		{"zero pages", 0, time.Millisecond, "-pages"},
		{"huge pages", 1 << 30, time.Millisecond, "-pages"},
		{"zero every", 4, 0, "-every"},
		{"negative every", 4, -time.Second, "-every"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- run(context.Background(), io.Discard, t.TempDir(), tc.pages, tc.every) }()
			select {
			case err := <-done:
				if !errors.Is(err, errBadFlag) || !strings.Contains(err.Error(), tc.mention) {
					t.Fatalf("got %v, want errBadFlag mentioning %s", err, tc.mention)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("run kept running: the flag was accepted")
			}
		})
	}
}

// TestFlagsRefuseArguments: an argument that is no flag is refused with
// errBadFlag naming it. Before, `writer /tmp/x` (meant as -dir /tmp/x)
// ignored it and every flag after it and wrote to the default directory.
func TestFlagsRefuseArguments(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // "" for none
		want    flags
	}{
		{"no arguments", nil, "", flags{"/tmp/mmsb-python-demo", 4, 100 * time.Millisecond}},
		{"every flag", []string{"-dir", "/tmp/x", "-pages", "2", "-every", "1s"}, "", flags{"/tmp/x", 2, time.Second}},
		{"a directory without -dir", []string{"/tmp/x"}, `unexpected argument "/tmp/x"`, flags{}},
		{"flags after an argument", []string{"-pages", "2", "x", "-dir", "/tmp/x"}, `unexpected argument "x"`, flags{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("writer", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			got, err := parseFlags(fs, tc.args)
			if tc.wantErr != "" {
				if !errors.Is(err, errBadFlag) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseFlags(%q) = %v, want errBadFlag with %s", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseFlags(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
			}
		})
	}
}
