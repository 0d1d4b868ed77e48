package replicate

import (
	"errors"
	"strings"
	"testing"
)

// TestConnectErrorHidesSecrets: an error of Connect names the servers
// without their passwords or tokens (`mmsb follow --nats
// nats://u:secretpw@127.0.0.1:1` printed the password on stderr), and a
// URL that does not parse is refused as ErrConfig without quoting it
// (url.Parse's error quotes it whole, and its detail part of it).
func TestConnectErrorHidesSecrets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		url     string
		secrets []string
		shown   string // in the error
		config  bool   // ErrConfig: refused before connecting
	}{
		{name: "user and password", url: "nats://u:secretpw@127.0.0.1:1", secrets: []string{"secretpw"}, shown: "nats://u:xxxxx@127.0.0.1:1"},
		{name: "token as user", url: "nats://tok3n5ecret@127.0.0.1:1", secrets: []string{"tok3n5ecret"}, shown: "nats://xxxxx@127.0.0.1:1"},
		{name: "no scheme", url: "u:secretpw@127.0.0.1:1", secrets: []string{"secretpw"}, shown: "nats://u:xxxxx@127.0.0.1:1"},
		{name: "several servers", url: "nats://a:pw0ne@127.0.0.1:1, nats://tokTwo@127.0.0.1:2,,nats://127.0.0.1:3", secrets: []string{"pw0ne", "tokTwo"},
			shown: "nats://a:xxxxx@127.0.0.1:1,nats://xxxxx@127.0.0.1:2,nats://127.0.0.1:3"},
		{name: "unparsable: space in password", url: "nats://u:se cretpw@127.0.0.1:1", secrets: []string{"se cretpw", "cretpw"}, shown: "URL 1 of 1 does not parse", config: true},
		{name: "unparsable: slash in password", url: "nats://u:pa/sspw@127.0.0.1:1", secrets: []string{"pa/sspw", ":pa", "sspw"}, shown: "URL 1 of 1 does not parse", config: true},
		{name: "unparsable: bad escape", url: "nats://127.0.0.1:1,nats://u:s%zzcret@h:1", secrets: []string{"s%zzcret", "%zz"}, shown: "URL 2 of 2 does not parse", config: true},
		{name: "unparsable without userinfo", url: "nats://127.0.0.1:bad", shown: `invalid port ":bad"`, config: true},
		{name: "no server", url: " , ", shown: "no NATS server URL", config: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, stop, _, err := Connect(tc.url, "")
			if err == nil {
				stop()
				_ = nc
				t.Fatal("connected; want an error")
			}
			msg := err.Error()
			for _, s := range tc.secrets {
				if strings.Contains(msg, s) {
					t.Errorf("error shows the secret %q: %s", s, msg)
				}
			}
			if !strings.Contains(msg, tc.shown) {
				t.Errorf("error %q does not contain %q", msg, tc.shown)
			}
			if errors.Is(err, ErrConfig) != tc.config {
				t.Errorf("errors.Is(err, ErrConfig) = %v, want %v: %v", !tc.config, tc.config, err)
			}
		})
	}
}

// TestStartServerRouteErrorHidesPassword: a route URL that does not parse
// is ErrConfig, not quoted when it may hold a password.
func TestStartServerRouteErrorHidesPassword(t *testing.T) {
	_, err := StartServer(ServerConfig{Name: "r", StoreDir: t.TempDir(), ClusterName: "c",
		Routes: []string{"nats://127.0.0.1:1", "nats://mmsb:pa ss@127.0.0.1:2"}})
	if err == nil || !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "pa ss") || !strings.Contains(err.Error(), "route URL 2 of 2") {
		t.Fatalf("StartServer with a bad route: %v; want ErrConfig naming route 2 of 2 without its password", err)
	}
}

// TestRedactURLs: each server of a list is shown without its password or
// token; one that does not parse is not quoted when it holds an "@".
func TestRedactURLs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://h:4222", "nats://h:4222"},
		{"nats://u:pw@h:4222", "nats://u:xxxxx@h:4222"},
		{"nats://tok@h:4222", "nats://xxxxx@h:4222"},
		{"tok@h", "nats://xxxxx@h"},
		{" nats://u:pw@h:1 ,,tls://tok@h:2", "nats://u:xxxxx@h:1,tls://xxxxx@h:2"},
		{"nats://u:p w@h:1,nats://h:2", "(unparsable URL, not shown),nats://h:2"},
		{"nats://h:bad", "nats://h:bad"},
	} {
		if got := redactURLs(tc.in); got != tc.want {
			t.Errorf("redactURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
