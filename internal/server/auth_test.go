package server_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

const (
	readTok  = "read-token-0123456789abcdef"
	writeTok = "write-token-0123456789abcdef"
	adminTok = "admin-token-0123456789abcdef"
)

func writeTokenFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuth(t *testing.T) {
	p := writeTokenFile(t, "# roles\nread "+readTok+"\nwrite "+writeTok+"\n\nadmin "+adminTok+"\n", 0o600)
	toks, err := server.LoadTokenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixOpts{http: server.HTTPOptions{Auth: server.NewAuth(toks)}})
	ctx := context.Background()
	cl := func(tok string) *client.Client {
		opts := []client.Option{client.WithRetries(0, 0)}
		if tok != "" {
			opts = append(opts, client.WithToken(tok))
		}
		c, err := client.New(f.http.URL, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	none, wrong, reader, writer, admin := cl(""), cl("wrong-token-0123456789abcdef"), cl(readTok), cl(writeTok), cl(adminTok)

	_, err = none.Stats(ctx)
	wantCode(t, err, connect.CodeUnauthenticated)
	_, err = wrong.Stats(ctx)
	wantCode(t, err, connect.CodeUnauthenticated)
	_, err = reader.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	wantCode(t, err, connect.CodePermissionDenied)
	id, err := writer.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("w"))}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := reader.ReadPage(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = writer.Checkpoint(ctx)
	wantCode(t, err, connect.CodePermissionDenied)
	if _, err := admin.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// Streams are checked too.
	err = none.Watch(ctx, client.WatchOptions{}, func(client.WatchEvent) error { return nil })
	wantCode(t, err, connect.CodeUnauthenticated)
	stop := errors.New("stop")
	if err := reader.Watch(ctx, client.WatchOptions{FromLSN: f.bus.LastLSN() + 1}, func(client.WatchEvent) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("reader watch: %v", err)
	}
	// Raw JSON without a token, and with a bad scheme.
	if code, body := postJSON(t, f.http.URL, "Stats", `{}`, nil); code != 401 || !strings.Contains(body, "unauthenticated") {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, _ := postJSON(t, f.http.URL, "Stats", `{}`, map[string]string{"Authorization": "Basic " + readTok}); code != 401 {
		t.Fatalf("basic auth: %d", code)
	}
	if code, _ := postJSON(t, f.http.URL, "Stats", `{}`, map[string]string{"Authorization": "Bearer " + readTok}); code != 200 {
		t.Fatalf("bearer: %d", code)
	}
	// No token ever reaches the logs, not even a rejected one.
	logs := f.logs.String()
	for _, tok := range []string{readTok, writeTok, adminTok, "wrong-token-0123456789abcdef"} {
		if strings.Contains(logs, tok) {
			t.Fatalf("token %q in the logs", tok)
		}
	}
	if !strings.Contains(logs, "permission_denied") {
		t.Fatal("negative control: the logs do not record the refused calls at all")
	}
}

func TestLoadTokenFile(t *testing.T) {
	for _, c := range []struct {
		name, content string
		mode          os.FileMode
		msg           string
	}{
		{"group readable", "read " + readTok + "\n", 0o640, "chmod 600"},
		{"bad role", "root " + readTok + "\n", 0o600, "unknown role"},
		{"short token", "read short\n", 0o600, "shorter"},
		{"three fields", "read a b\n", 0o600, "ROLE TOKEN"},
		{"empty", "# nothing\n", 0o600, "no token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := server.LoadTokenFile(writeTokenFile(t, c.content, c.mode))
			if !errors.Is(err, server.ErrTokenFile) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want ErrTokenFile mentioning %q", err, c.msg)
			}
			if strings.Contains(err.Error(), readTok) {
				t.Fatal("error quotes the token")
			}
		})
	}
}

func TestCheckExposure(t *testing.T) {
	for _, c := range []struct {
		addr          string
		auth, insecur bool
		ok            bool
	}{
		{"127.0.0.1:7070", false, false, true},
		{"[::1]:7070", false, false, true},
		{"localhost:7070", false, false, true},
		{"0.0.0.0:7070", false, false, false},
		{":7070", false, false, false},
		{"10.1.2.3:7070", false, false, false},
		{"0.0.0.0:7070", true, false, true},
		{"0.0.0.0:7070", false, true, true},
	} {
		err := server.CheckExposure(c.addr, c.auth, c.insecur)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, server.ErrExposed)) {
			t.Errorf("%s auth=%v insecure=%v: %v", c.addr, c.auth, c.insecur, err)
		}
	}
}
