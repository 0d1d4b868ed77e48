package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb/internal/replicate"
)

// TestFollowWaitsForStream: 'mmsb follow' and 'serve --replicate
// --follow-only' naming a bus no leader made (a mistyped --stream or
// --replicate-bus) create nothing on the NATS server: follow says it waits
// (stderr names the stream and asks whether the flag is right; the status
// line says waiting_for_stream=1), serve answers 503 saying so, and the
// server holds no stream or bucket afterwards. Before, both created the
// stream and buckets and followed the new, empty bus at LSN 0, looking
// healthy.
func TestFollowWaitsForStream(t *testing.T) {
	c := startNATS(t, "clitest")

	// follow runs until both what it prints on stderr and a status line
	// saying it waits have come (a fixed window was a race with a loaded
	// machine), or 30 s at most; the checks below say what was missing.
	f := startCmd(t, "follow", "--nats", c.URL(), "--stream", "typo", "--dir", filepath.Join(t.TempDir(), "f"), "--status-every", "100ms")
	f.waitOutput(t, func() bool {
		return strings.Contains(f.stderr.String(), "waiting for stream") && strings.Contains(f.stdout.String(), " waiting_for_stream=1")
	})
	if code := f.stop(); code != exitOK {
		t.Fatalf("follow exited %d: %s", code, f.stderr.String())
	}
	if want := "waiting for stream MMSB_LOG_typo (no leader has created it; is --stream right?)"; !strings.Contains(f.stderr.String(), want) {
		t.Errorf("follow's stderr lacks %q:\n%s", want, f.stderr.String())
	}
	if out := f.stdout.String(); !strings.Contains(out, " lag_lsn=unknown ") || !strings.Contains(out, " waiting_for_stream=1") {
		t.Errorf("follow's status lines do not say it waits (lag_lsn=unknown, waiting_for_stream=1):\n%s", out)
	}

	addr, log, stop := startFollowOnlyServe(t, c, "typo2")
	want := "waiting for the stream MMSB_LOG_typo2"
	waitAnswer(t, addr, "/readyz", "503 "+want, log, func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, want)
	})
	stop()
	// serve's log names serve's flag, as its 503 does: it asked "is
	// --stream/--bus right?", flags serve does not have.
	if want := "waiting for stream MMSB_LOG_typo2 (no leader has created it; is --replicate-bus right?)"; !strings.Contains(log.String(), want) {
		t.Errorf("serve's log lacks %q:\n%s", want, log.String())
	}

	nc, stopNC, _, err := replicate.Connect(c.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer stopNC()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer lcancel()
	names := js.StreamNames(lctx) // buckets are streams too: KV_*, OBJ_*
	var made []string
	for name := range names.Name() {
		made = append(made, name)
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	if len(made) != 0 {
		t.Errorf("follow-only commands made %v on the server, want nothing", made)
	}
}
