package client_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestWithTokenRefused: New refuses a token no server's token file can
// hold, empty or with a space, with mmsb.ErrInvalidOption, as it refuses
// one with a control character. Until 2026-12-07 both were accepted and
// every call failed later with code Unauthenticated (an empty token sent
// no header at all). The control: a token file's token is accepted.
func TestWithTokenRefused(t *testing.T) {
	for _, c := range []struct{ name, tok, says string }{
		{"empty", "", `WithToken("")`},
		{"a space", "r-7f3c0d2a 9b8e4f61a5c3", "space"},
		{"a tab", "r-7f3c0d2a\t9b8e4f61a5c3", "space"},
		{"a no-break space", "r-7f3c0d2a\u00a09b8e4f61a5c3", "space"},
		{"a leading space", " r-7f3c0d2a9b8e4f61a5c3", "space"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := client.New("http://127.0.0.1:7070", client.WithToken(c.tok))
			if !errors.Is(err, mmsb.ErrInvalidOption) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("New(WithToken(%q)): %v, want mmsb.ErrInvalidOption saying %q", c.tok, err, c.says)
			}
		})
	}
	c, err := client.New("http://127.0.0.1:7070", client.WithToken("r-7f3c0d2a9b8e4f61a5c3"))
	if err != nil {
		t.Fatalf("New with a valid token: %v", err)
	}
	_ = c.Close()
}
