package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestReadyzHidesBusError: /readyz is served without authentication (a
// probe has no token), so once the bus failed it answers 503 with a fixed
// text, and the bus's error (which names the log's files and the system's
// error) goes to the server's log, once. Until 2026-12-06 the body quoted
// the error to anyone who asked.
func TestReadyzHidesBusError(t *testing.T) {
	tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected))
	f := newFixture(t, fixOpts{dir: "/bus", bus: &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: mmsb.SyncAlways}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	tog.On()
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err == nil {
		t.Fatal("a commit whose fsync failed succeeded")
	}
	tog.Off()
	busErr := f.bus.Err()
	if busErr == nil {
		t.Fatal("the bus did not fail")
	}
	for range 3 {
		resp, err := http.Get(f.http.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/readyz of a failed bus: %d %q, want 503", resp.StatusCode, body)
		}
		if got, want := strings.TrimSpace(string(body)), "not ready: the bus failed (the server's log has the error)"; got != want {
			t.Fatalf("/readyz of a failed bus answered %q, want %q (the bus's error is %q)", got, want, busErr)
		}
	}
	if n := strings.Count(f.logs.String(), `"msg":"not ready: the bus failed"`); n != 1 {
		t.Fatalf("the bus's error logged %d times by 3 probes, want once:\n%s", n, f.logs.String())
	}
	if !strings.Contains(f.logs.String(), errorfs.ErrInjected.Error()) {
		t.Fatalf("the log does not hold the bus's error %q:\n%s", busErr, f.logs.String())
	}
}
