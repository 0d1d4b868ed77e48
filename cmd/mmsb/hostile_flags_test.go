package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/harness"
)

// TestHostileFlagValues: flag values at the edges of their types. Each was
// accepted and then panicked, reported wrong figures, allocated without
// bound or ran for hours; each is now a usage error naming the flag
// (exit 2, nothing attempted), or runs correctly.
func TestHostileFlagValues(t *testing.T) {
	maxInt := strconv.FormatInt(math.MaxInt64, 10)
	huge := filepath.Join(t.TempDir(), "huge.json")
	var raw map[string]any
	if err := json.Unmarshal(harness.DefaultTargets(), &raw); err != nil {
		t.Fatal(err)
	}
	raw["benchmarks"].([]any)[0].(map[string]any)["thresholds"].(map[string]any)["sources"] = 1e12
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(huge, b, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	data := newTestBus(t).dir
	serve := []string{"serve", "--addr", "127.0.0.1:0"}
	small := []string{"bench", "--no-progress", "--pages", "16"}
	// Not small's --pages: the growth workload does not read it (its
	// page counts are --growth-pages), and refuses it.
	growth := []string{"bench", "--no-progress", "--workload", "growth", "--growth-pages", "16", "--growth-batch-pages", "16"}
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		// #5 measured every worker count up to --workers.
		// (checked by harness.Config.Validate, the one check a Go caller
		// of the harness gets too: TestConfigValidate)
		{"validate --workers past MaxWorkers", []string{"validate", "--workers", "1025", "--only", "4"}, "--workers 1025: must be in 0..1024"},
		{"validate --workers huge", []string{"validate", "--workers", "100000000", "--only", "4"}, "--workers 100000000: must be in 0..1024"},
		{"validate --workers negative", []string{"validate", "--workers", "-1", "--only", "4"}, "--workers -1: must be in 0..1024"},
		// A targets file sizing #1 with 1e12 sources ran out of memory.
		{"validate --targets with a huge size", []string{"validate", "--quick", "--only", "1", "--targets", huge},
			`replay: size "sources" is 1e+12, above its bound 4096`},
		{"validate --targets a device", []string{"validate", "--quick", "--only", "1", "--targets", os.DevNull}, "is not a regular file"},
		// One batch is one log record of at most 256 MiB: the buffers of
		// a larger one were allocated first (about 90 GB here).
		{"bench --batch past a log record", append(append([]string{}, small...), "--batch", "1000000000", "--count", "1000000000"),
			"--batch 1000000000 × --delta-size 16: more than the 268435456 bytes a log record holds"},
		{"bench growth batch past a log record", append(append([]string{}, growth...), "--count", "100000000", "--growth-batches", "100000000"),
			"batch 100000000 × --delta-size 16: more than the 268435456 bytes"},
		// A --dir that is a file exited 1, as if the bench had failed.
		{"bench --dir a file", append(append([]string{}, small...), "--count", "10", "--dir", file), "--dir " + file + ": "},
		{"bench --stall-threshold negative", append(append([]string{}, small...), "--count", "10", "--stall-threshold", "-1s"), "--stall-threshold must not be negative"},
		// Paths that can never work failed with exit 1 and named no flag:
		// "mmsb: create F: mkdir F: not a directory" (serve --dir),
		// "invalid option: SharedDir ..." (serve --shm-dir), "server: bad
		// token file: open ...", "output directory F: open F: not a
		// directory" (replay --out). A missing read --shm-dir read the
		// files as if no writer ran (exit 0), and watch's said "writer
		// gone".
		{"serve --dir a file", append(append([]string{}, serve...), "--dir", file), "--dir " + file + ": "},
		{"serve --dir below a file", append(append([]string{}, serve...), "--dir", filepath.Join(file, "sub")), "--dir " + filepath.Join(file, "sub") + ": "},
		{"serve --shm-dir missing", append(append([]string{}, serve...), "--dir", dir, "--shared", "--shm-dir", missing), "--shm-dir " + missing + ": "},
		{"serve --shm-dir a file", append(append([]string{}, serve...), "--dir", dir, "--shared", "--shm-dir", file), "--shm-dir " + file + ": not a directory"},
		{"serve --token-file missing", append(append([]string{}, serve...), "--token-file", missing), "--token-file " + missing + ": "},
		{"serve --token-file a directory", append(append([]string{}, serve...), "--token-file", dir), "--token-file " + dir + ": is a directory"},
		{"serve --tls-cert missing", append(append([]string{}, serve...), "--tls-cert", missing, "--tls-key", file), "--tls-cert " + missing + ": "},
		{"serve --tls-key a directory", append(append([]string{}, serve...), "--tls-cert", file, "--tls-key", dir), "--tls-key " + dir + ": is a directory"},
		{"serve --client-ca missing", append(append([]string{}, serve...), "--tls-cert", file, "--tls-key", file, "--client-ca", missing), "--client-ca " + missing + ": "},
		{"read --shm-dir missing", []string{"read", data, "--page", "1", "--shm-dir", missing}, "--shm-dir " + missing + ": "},
		{"read --shm-dir with --at-lsn", []string{"read", data, "--page", "1", "--at-lsn", "1", "--shm-dir", dir}, "--shm-dir and --at-lsn exclude each other"},
		{"watch --shm-dir a file", []string{"watch", data, "--count", "1", "--shm-dir", file}, "--shm-dir " + file + ": not a directory"},
		{"replay --out a file", []string{"replay", data, "--out", file}, "--out " + file + ": "},
		{"replay --out below a file", []string{"replay", data, "--out", filepath.Join(file, "a", "b")}, "--out " + filepath.Join(file, "a", "b") + ": "},
		// Already refused; kept so that they stay so.
		{"serve --max-conns 0", append(append([]string{}, serve...), "--max-conns", "0"), "--max-conns must be in 1..1048576, got 0"},
		{"serve --max-request-bytes huge", append(append([]string{}, serve...), "--max-request-bytes", maxInt), "--max-request-bytes must be in 1..1073741824"},
		{"serve --ticks negative", append(append([]string{}, serve...), "--ticks", "-1ms"), "--ticks must not be negative"},
		{"serve --shutdown-timeout negative", append(append([]string{}, serve...), "--shutdown-timeout", "-1s"), "--shutdown-timeout must not be negative"},
		{"serve --gzip-min-bytes negative", append(append([]string{}, serve...), "--gzip-min-bytes", "-1"), "--gzip-min-bytes must not be negative"},
		{"serve --addr bad port", []string{"serve", "--addr", "127.0.0.1:99999"}, `--addr "127.0.0.1:99999"`},
		{"serve --demo with --dir", append(append([]string{}, serve...), "--demo", "--dir", dir), "--demo runs its own in-memory bus"},
		{"serve --shared without --dir", append(append([]string{}, serve...), "--shared"), "--shared needs --dir"},
		{"serve --lease-ttl without --replicate", append(append([]string{}, serve...), "--lease-ttl", "1s"), "--lease-ttl needs --replicate"},
		{"loadtest --duration 0", []string{"loadtest", "--duration", "0s"}, "--duration must be positive"},
		{"loadtest --clients huge", []string{"loadtest", "--clients", maxInt}, "--clients must be in 1..4096"},
		{"loadtest --watchers with --stalled-watchers", []string{"loadtest", "--watchers", "1", "--stalled-watchers", "1"}, "exclude each other"},
		{"loadtest --server not http", []string{"loadtest", "--server", "ftp://127.0.0.1:1"}, `--server "ftp://127.0.0.1:1"`},
		// These failed only at the first call (exit 1, "dial tcp:
		// address 99999: invalid port"; "base URL ... has a query").
		{"loadtest --server port out of range", []string{"loadtest", "--server", "http://127.0.0.1:99999"}, "port 99999 is not in 1..65535"},
		{"loadtest --server port 0", []string{"loadtest", "--server", "http://127.0.0.1:0"}, "port 0 is not in 1..65535"},
		{"loadtest --server with a query", []string{"loadtest", "--server", "http://127.0.0.1:7070/?x=1"}, "want no query or fragment"},
		// A token no server accepts: a control character failed at the
		// first call, a space or a short one was sent and refused.
		{"loadtest --token with a newline", []string{"loadtest", "--token", "0123456789abcdef\n"}, "--token: want at least 16 printable characters"},
		{"loadtest --token with a space", []string{"loadtest", "--token", "0123456789 abcdef"}, "--token: want at least 16 printable characters"},
		{"loadtest --token short", []string{"loadtest", "--token", "short"}, "--token: want at least 16 printable characters"},
		{"read --page 0", []string{"read", data}, "--page N (N >= 1) is required"},
		{"read --hex with --f64", []string{"read", data, "--page", "1", "--hex", "--f64"}, "--hex and --f64 exclude each other"},
		{"watch --count negative", []string{"watch", data, "--count", "-1"}, "--count must be >= 0"},
		{"replay --to-time negative", []string{"replay", data, "--out", missing, "--to-time", "-5"}, "--to-time"},
		{"replay two targets", []string{"replay", data, "--out", missing, "--to-lsn", "2", "--page", "1", "--epoch", "1"}, "exclude each other"},
		// Printed status lines flat out. (An unreachable --nats: were the
		// bound gone, the node would fail, not run.)
		{"follow --status-every 1ns", []string{"follow", "--nats", "nats://127.0.0.1:1", "--dir", missing, "--status-every", "1ns"}, "--status-every 1ns: want 0 (never) or at least 100ms"},
		{"replicate --status-every 99ms", []string{"replicate", "--nats", "nats://127.0.0.1:1", "--dir", missing, "--status-every", "99ms"}, "--status-every 99ms: want 0 (never) or at least 100ms"},
		{"graph --json with --dot", []string{"graph", data, "--json", "--dot"}, "--json and --dot exclude each other"},
		// One embedded nats-server (no --nats) holds one replica: the node
		// said nothing for 30 s, then failed (exit 1) with nats-server's
		// "replicas > 1 not supported in non-clustered mode", DIR.nats made.
		{"replicate --replicas 3 without --nats", []string{"replicate", "--dir", missing, "--replicas", "3"}, "--replicas 3 needs --nats"},
		{"serve --replicate --replicas 2 without --nats", append(append([]string{}, serve...), "--replicate", "--dir", missing, "--replicas", "2"), "--replicas 2 needs --nats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...).mustCode(t, exitUsage)
			if !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("stderr lacks %q (or stdout not empty):\n%s\n%s", tc.want, r.stderr, r.stdout)
			}
		})
	}

	// --batch near MaxInt64: (count+batch-1)/batch overflowed to a
	// negative batch count, and bench reported "1000 deltas in 0 batches"
	// at a rate while committing none.
	t.Run("bench --batch MaxInt64", func(t *testing.T) {
		r := runCLI(t, append(append([]string{}, small...), "--count", "1000", "--batch", maxInt, "--json")...).mustCode(t, exitOK)
		var res struct {
			Deltas, Batches int64
			LastLSN         uint64 `json:"last_lsn"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		// 16 creates and 1000 deltas, one LSN each.
		if res.Deltas != 1000 || res.Batches != 1 || res.LastLSN != 1016 {
			t.Fatalf("deltas %d in %d batches, last LSN %d, want 1000 in 1, 1016\n%s", res.Deltas, res.Batches, res.LastLSN, r.stdout)
		}
	})
	// --growth-batches near MaxInt64: batch × 20,000 went negative and
	// the point panicked in makeslice.
	t.Run("bench growth --growth-batches MaxInt64", func(t *testing.T) {
		r := runCLI(t, append(append([]string{}, growth...), "--count", "1000", "--growth-batches", maxInt, "--json")...).mustCode(t, exitOK)
		var res growthResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if len(res.ByBatch) != 1 || res.ByBatch[0].Deltas != 1000 || !(res.ByBatch[0].DeltasPerSec > 0) {
			t.Fatalf("batch point %+v, want 1000 deltas committed", res.ByBatch)
		}
	})
}
