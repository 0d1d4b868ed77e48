package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// ErrHostNotAllowed refuses a request whose Host header names a host the
// server does not answer for (HostGuard).
var ErrHostNotAllowed = errors.New("server: Host not allowed")

// HostGuard answers only requests addressed to this server by a name the
// operator knows: its DNS rebinding defence, for a server without
// authentication. A web page in a browser on this machine can have its
// own name (attacker.example) resolve to 127.0.0.1 and then, being the
// same origin as far as the browser knows, call the bus and read the
// answers; the request still carries Host: attacker.example. The guard
// lets through a request whose Host (port ignored) is
//
//   - an IP address (a page can only reach an address by its own name,
//     which is never an IP literal when rebinding),
//   - localhost or a name under .localhost (browsers resolve those to
//     loopback themselves),
//   - the host of the listen address, or one of allowed (compared without
//     case and trailing dot);
//
// an empty Host (an HTTP/1.0 client, not a browser) passes too. Others
// get 403 with a message naming the host and the way to allow it
// (--allowed-hosts); an RPC gets it as a permission_denied error in its
// protocol (Connect, gRPC, gRPC-Web), any other path (the UI, /metrics,
// the probes) as plain text. allowed holding "*" turns the guard off.
//
// Servers with bearer tokens or client certificates need no guard: a
// rebinding page cannot present either (browsers send no Authorization
// header they were not told to, and a client certificate goes with TLS,
// whose server name check fails for the page's name).
func HostGuard(h http.Handler, listenAddr string, allowed []string) http.Handler {
	names := make(map[string]bool, len(allowed)+1)
	for _, a := range allowed {
		if a == "*" {
			return h
		}
		names[canonicalHost(a)] = true
	}
	if host, _, err := net.SplitHostPort(listenAddr); err == nil && host != "" {
		names[canonicalHost(host)] = true
	}
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkHost(r.Host, names); err != nil {
			if rpcPath(r.URL.Path) && ew.IsSupported(r) {
				// An RPC gets the reason in its protocol's error (a
				// client showed only "permission_denied: HTTP status
				// 403 Forbidden").
				_ = ew.Write(w, r, connect.NewError(connect.CodePermissionDenied, err))
				return
			}
			// The UI, /metrics and the probes get plain text: the error
			// writer takes every GET for a Connect one, and a browser
			// opening /ui/ was shown a Connect JSON error
			// (TestHostGuardPlainTextOutsideRPCs).
			http.Error(w, "mmsb: "+err.Error(), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// rpcPath says whether path is an RPC's, /package.Service/Method
// (/mmsb.v1.BusService/Commit): its first element names a service, with a
// dot, which none of the other paths served (/ui/, /metrics, /healthz,
// /readyz) has.
func rpcPath(path string) bool {
	service, method, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return ok && method != "" && strings.Contains(service, ".")
}

// CheckAllowedHost refuses an --allowed-hosts entry HostGuard could never
// match: empty, with a port, or with characters no host name has.
func CheckAllowedHost(name string) error {
	if name == "*" || net.ParseIP(strings.Trim(name, "[]")) != nil {
		return nil
	}
	if name == "" || strings.ContainsAny(name, ":/ \t@[]") {
		return fmt.Errorf("%w: --allowed-hosts entry %s is no host name (want a name or an IP, without port, or *)", ErrHostNotAllowed, quoteShort(name))
	}
	return nil
}

// checkHost is HostGuard's test of one request's Host.
func checkHost(hostport string, names map[string]bool) error {
	if hostport == "" {
		return nil
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if net.ParseIP(host) != nil {
		return nil
	}
	c := canonicalHost(host)
	if c == "localhost" || strings.HasSuffix(c, ".localhost") || names[c] {
		return nil
	}
	return fmt.Errorf("%w: this server has no authentication and answers only requests addressed to localhost, an IP address or its listen address (a guard against DNS rebinding); Host %s is none of them: start it with --allowed-hosts %s to allow it",
		ErrHostNotAllowed, quoteShort(hostport), quoteShort(c))
}

// canonicalHost is name in lower case without its trailing dot.
func canonicalHost(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
}
