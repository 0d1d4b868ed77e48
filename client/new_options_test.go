package client_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestNewRefusesBadOptions: New refuses a base URL it cannot use,
// negative retry settings and a nil HTTP client with errors wrapping
// mmsb.ErrInvalidOption, so that callers can tell them from a server's
// answer.
func TestNewRefusesBadOptions(t *testing.T) {
	cases := []struct {
		name string
		url  string
		opts []client.Option
	}{
		{"no scheme", "127.0.0.1:7070", nil},
		{"unix scheme", "unix:///tmp/mmsb.sock", nil},
		{"negative retries", "http://127.0.0.1:7070", []client.Option{client.WithRetries(-1, time.Millisecond)}},
		{"negative backoff", "http://127.0.0.1:7070", []client.Option{client.WithRetries(1, -time.Millisecond)}},
		// Before 2026-12-06: taken for the default HTTP client.
		{"WithHTTPClient(nil)", "http://127.0.0.1:7070", []client.Option{client.WithHTTPClient(nil)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := client.New(c.url, c.opts...); !errors.Is(err, mmsb.ErrInvalidOption) {
				t.Fatalf("New(%q): want an error wrapping mmsb.ErrInvalidOption, got %v", c.url, err)
			}
		})
	}
	if _, err := client.New("http://127.0.0.1:7070", client.WithRetries(0, 0), client.WithHTTPClient(&http.Client{})); err != nil {
		t.Fatalf("control: %v", err)
	}
}
