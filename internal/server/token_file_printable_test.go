package server_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestTokenFileUnprintable: a token must be at least 16 printable UTF-8
// characters, as LoadTokenFile and docs/server.md state. Before, the
// parser only split on spaces and counted bytes: a token with a control
// character or a byte that is not UTF-8 (which no Authorization header
// can carry, so it could never authenticate), or six 4-byte characters,
// loaded.
func TestTokenFileUnprintable(t *testing.T) {
	for _, c := range []struct{ name, tok, msg string }{
		{"control character", "r-7f3c0d2a9b8e\x01f61a5c3", "not printable"},
		{"DEL", "r-7f3c0d2a9b8e\x7ff61a5c3", "not printable"},
		{"not UTF-8", "r-7f3c0d2a9b8e\xfff61a5c3", "not printable"},
		{"16 bytes, 4 characters", "\U0001F600\U0001F601\U0001F602\U0001F603", "shorter"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := server.LoadTokenFile(writeTokenFile(t, "read "+c.tok+"\n", 0o600))
			if !errors.Is(err, server.ErrTokenFile) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want ErrTokenFile mentioning %q", err, c.msg)
			}
			if strings.Contains(err.Error(), c.tok) {
				t.Fatal("error quotes the token")
			}
		})
	}
	// Positive control: printable non-ASCII characters are fine.
	if _, err := server.LoadTokenFile(writeTokenFile(t, "read r-7f3c0d2a9b8e\u00e9f61a5c3\n", 0o600)); err != nil {
		t.Fatalf("a printable token refused: %v", err)
	}
}
