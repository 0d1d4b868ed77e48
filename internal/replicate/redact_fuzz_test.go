package replicate

import (
	"strings"
	"testing"
)

// FuzzRedactURLs: a NATS server URL written with a password
// (scheme://user:secret@host, the scheme optional) is never shown with
// that password, whatever bytes the password and the rest hold: not by
// redactURLs (errors and logs), not in parseServerURL's error. Secrets
// shorter than 6 bytes, or that the URL holds elsewhere too, are not
// checked (the host may be "nats" or the user the secret itself).
func FuzzRedactURLs(f *testing.F) {
	for _, s := range [][4]string{
		{"nats://", "u", "secretpw", "127.0.0.1:4222"},
		{"", "u", "secretpw", "h:1"},
		{"tls://", "", "tok3n5ecret", "h"},
		{"nats://", "u", "pa/sspw", "h:1"},
		{"nats://", "u", "se cretpw", "h:1"},
		{"nats://", "u", "s%zzcret", "h:1"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, scheme, user, secret, host string) {
		if len(secret) < 6 || strings.Contains(scheme+user+host, secret) || strings.Contains(secret, ",") {
			return // too short to tell apart, or another server of a list
		}
		raw := scheme + user + ":" + secret + "@" + host
		if strings.Count(raw, secret) != 1 {
			return
		}
		if got := redactURLs(raw); strings.Contains(got, secret) {
			t.Fatalf("redactURLs(%q) = %q: shows the password %q", raw, got, secret)
		}
		if _, err := parseServerURL(raw); err != nil && strings.Contains(err.Error(), secret) {
			t.Fatalf("parseServerURL(%q): %v: shows the password %q", raw, err, secret)
		}
	})
}

// TestRedactURLsPasswordPastHost: a password holding "#" or "?" ends the
// URL's host early (url.Parse reads "nats://u:2024#pw@h" as host u, port
// 2024 and the fragment "pw@h", with no user part to redact), and the
// URL was shown whole, password included (found by FuzzRedactURLs).
func TestRedactURLsPasswordPastHost(t *testing.T) {
	for _, raw := range []string{"nats://admin:2024#Winterpw@nats.internal:4222", "nats://u:4222?secretpw@h", "u:1#secretpw@h:1"} {
		if got := redactURLs(raw); strings.Contains(got, "pw") || got != "(URL not shown: it may hold a password or token)" {
			t.Errorf("redactURLs(%q) = %q: want it not shown", raw, got)
		}
	}
	if got := redactURLs("nats://h:4222,nats://u:pw@h:1"); got != "nats://h:4222,nats://u:xxxxx@h:1" {
		t.Errorf("redactURLs of plain URLs = %q", got)
	}
}
