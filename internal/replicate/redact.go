package replicate

import (
	"errors"
	"net/url"
	"strings"
)

// redactedSecret stands for a password or token in a URL shown in an error
// (as url.URL.Redacted writes a password).
const redactedSecret = "xxxxx"

// serverURLs splits a comma-separated list of NATS server URLs as nats.go
// does: each trimmed, empty ones dropped.
func serverURLs(urls string) []string {
	var out []string
	for _, s := range strings.Split(urls, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseServerURL parses one NATS server URL as nats.go does (one without
// a scheme is nats://). Its error never quotes the URL when it may hold a
// secret (url.Parse's does, and its detail can quote part of a password:
// "nats://u:pa/ss@h" is an invalid port ":pa").
func parseServerURL(raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, parseError(raw, err)
	}
	return u, nil
}

// parseError returns url.Parse's error err for raw, or, when raw may hold
// a password or token, one that does not quote it.
func parseError(raw string, err error) error {
	if strings.Contains(raw, "@") {
		return errors.New("not shown: it may hold a password or token")
	}
	return err
}

// redactURL returns u for errors and logs: its password replaced, and a
// user name without a password too (nats.go sends it as the token).
func redactURL(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	if _, ok := u.User.Password(); ok {
		c.User = url.UserPassword(u.User.Username(), redactedSecret)
	} else {
		c.User = url.User(redactedSecret)
	}
	return c.String()
}

// redactURLs returns a comma-separated list of NATS server URLs fit for
// errors and logs (redactURL); one that does not parse is shown as such,
// not quoted, when it may hold a secret.
func redactURLs(urls string) string {
	parts := serverURLs(urls)
	for i, raw := range parts {
		switch u, err := parseServerURL(raw); {
		case err == nil && (!strings.Contains(raw, "@") || u.User != nil && strings.Count(raw, "@") == 1):
			parts[i] = redactURL(u)
		case err == nil:
			// An "@" that does not end a user part: a password holding
			// "#" or "?" ends the host early ("nats://u:2024#pw@h"
			// parses as host u, port 2024 and the fragment "pw@h"), and
			// the URL, shown whole, showed the password (FuzzRedactURLs).
			parts[i] = "(URL not shown: it may hold a password or token)"
		case strings.Contains(raw, "@"):
			parts[i] = "(unparsable URL, not shown)"
		}
	}
	return strings.Join(parts, ",")
}
