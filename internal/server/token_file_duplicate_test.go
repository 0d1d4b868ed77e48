package server_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestTokenFileDuplicate: a token listed twice is refused, naming both
// lines, instead of taking whichever role its last line gives (a token
// listed as read and then as admin was silently admin).
func TestTokenFileDuplicate(t *testing.T) {
	for _, c := range []struct{ name, content string }{
		{"two roles", "read " + readTok + "\nwrite " + writeTok + "\nadmin " + readTok + "\n"},
		{"same role", "read " + readTok + "\nread " + readTok + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := server.LoadTokenFile(writeTokenFile(t, c.content, 0o600))
			if !errors.Is(err, server.ErrTokenFile) || !strings.Contains(err.Error(), "line 1") {
				t.Fatalf("got %v, want ErrTokenFile naming the first line of the token", err)
			}
			if strings.Contains(err.Error(), readTok) {
				t.Fatalf("the error quotes the token: %v", err)
			}
		})
	}
}
