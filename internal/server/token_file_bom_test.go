package server_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestTokenFileBOM: a token file that starts with a UTF-8 byte order
// mark (written by some editors) loads as the same file without it: the
// mark is not part of the first role. Until 2026-12-07 it was refused as
// "f:1: unknown role". A mark anywhere else is still refused.
func TestTokenFileBOM(t *testing.T) {
	const tok = "r-7f3c0d2a9b8e4f61a5c3"
	toks, err := server.LoadTokenFile(writeTokenFile(t, "\ufeffread "+tok+"\n", 0o600))
	if err != nil {
		t.Fatalf("a token file with a byte order mark: %v", err)
	}
	if len(toks) != 1 || toks[0].Role != server.RoleRead || toks[0].Value != tok {
		t.Fatalf("loaded %+v, want the read token", toks)
	}
	// A mark before a comment line is passed over with it.
	if _, err := server.LoadTokenFile(writeTokenFile(t, "\ufeff# tokens\nwrite "+tok+"\n", 0o600)); err != nil {
		t.Fatalf("a byte order mark before a comment: %v", err)
	}
	_, err = server.LoadTokenFile(writeTokenFile(t, "read "+tok+"\n\ufeffwrite w-7f3c0d2a9b8e4f61a5c3\n", 0o600))
	if !errors.Is(err, server.ErrTokenFile) || !strings.Contains(err.Error(), ":2: unknown role") {
		t.Fatalf("a byte order mark on line 2: %v, want ErrTokenFile at line 2", err)
	}
}
