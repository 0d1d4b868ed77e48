package server_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestTokenFileErrorsQuoteNoToken: an error about a token file line never
// quotes what may be a token, whichever field holds it: a line written
// "TOKEN ROLE" (the fields swapped) used to be refused with
// `unknown role "TOKEN"`, putting the secret in the logs of the failed
// start. The error still names the line and what was wrong.
func TestTokenFileErrorsQuoteNoToken(t *testing.T) {
	const secret = "s3cret-0123456789abcdef"
	for _, c := range []struct {
		name, content, msg string
	}{
		{"fields swapped", secret + " read\n", "unknown role"},
		{"no role", "\n" + secret + "\n", "ROLE TOKEN"},
		{"role missing, token and more", secret + " " + secret + "x\n", "unknown role"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := server.LoadTokenFile(writeTokenFile(t, c.content, 0o600))
			if !errors.Is(err, server.ErrTokenFile) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want ErrTokenFile mentioning %q", err, c.msg)
			}
			if strings.Contains(err.Error(), secret[:8]) {
				t.Fatalf("the error quotes the token: %v", err)
			}
		})
	}
}
