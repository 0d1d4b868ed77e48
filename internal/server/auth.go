package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// Role is what a credential may do; each role includes the ones below it.
type Role int

// Roles, weakest first.
const (
	RoleNone  Role = iota
	RoleRead       // reads, watches, log queries, stats
	RoleWrite      // RoleRead plus every state change
	RoleAdmin      // RoleWrite plus Checkpoint and VerifyReplay
)

// String names the role as token files spell it.
func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole parses "read", "write" or "admin".
func ParseRole(s string) (Role, error) {
	switch s {
	case "read":
		return RoleRead, nil
	case "write":
		return RoleWrite, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, fmt.Errorf("%w: unknown role %q (want read, write or admin)", ErrTokenFile, s)
}

// ErrTokenFile is returned for a token file that cannot be used (unreadable, readable by
// others, malformed).
var ErrTokenFile = errors.New("server: bad token file")

// MinTokenLength is the shortest token accepted, so that a token cannot be
// guessed.
const MinTokenLength = 16

// Token is one bearer token and its role.
type Token struct {
	Role  Role
	Value string
}

// procedureRoles maps each procedure to the role it needs; a procedure
// not listed needs RoleAdmin.
var procedureRoles = map[string]Role{
	mmsbv1connect.BusServiceReadProcedure:        RoleRead,
	mmsbv1connect.BusServiceListPagesProcedure:   RoleRead,
	mmsbv1connect.BusServiceWatchProcedure:       RoleRead,
	mmsbv1connect.BusServiceQueryLogProcedure:    RoleRead,
	mmsbv1connect.BusServiceProvenanceProcedure:  RoleRead,
	mmsbv1connect.BusServiceStatsProcedure:       RoleRead,
	mmsbv1connect.BusServiceCreatePagesProcedure: RoleWrite,
	mmsbv1connect.BusServiceFreePageProcedure:    RoleWrite,
	mmsbv1connect.BusServiceSetMetadataProcedure: RoleWrite,
	mmsbv1connect.BusServiceCommitProcedure:      RoleWrite,
	mmsbv1connect.BusServiceAddEdgeProcedure:     RoleWrite,
	mmsbv1connect.BusServiceRemoveEdgeProcedure:  RoleWrite,
	mmsbv1connect.BusServiceBindProcedure:        RoleWrite,
	mmsbv1connect.BusServiceUnbindProcedure:      RoleWrite,
	mmsbv1connect.BusServiceSubmitProcedure:      RoleWrite,
}

// RequiredRole returns the role a procedure needs. The web inspector's
// service only reads, so the read role suffices for all of it.
func RequiredRole(procedure string) Role {
	if r, ok := procedureRoles[procedure]; ok {
		return r
	}
	if strings.HasPrefix(procedure, "/"+inspectorv1connect.InspectorServiceName+"/") {
		return RoleRead
	}
	return RoleAdmin
}

// LoadTokenFile reads a token file: one "ROLE TOKEN" pair per line (role
// read, write or admin; token at least MinTokenLength printable UTF-8
// characters without spaces), blank lines and lines starting with # ignored
// (a UTF-8 byte order mark at the start of the file too). The file
// must not be readable or writable by group or others (mode 0600 or
// stricter), like an SSH key. A token may appear once. Errors never quote
// a token.
func LoadTokenFile(path string) ([]Token, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenFile, err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenFile, err)
	}
	if fi.Mode()&fs.FileMode(0o077) != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v: group or others may access it (chmod 600)", ErrTokenFile, path, fi.Mode().Perm())
	}
	return parseTokens(f, path)
}

// parseTokens reads a token file's lines from r (path names it in
// errors), by the rules LoadTokenFile states.
func parseTokens(r io.Reader, path string) ([]Token, error) {
	var toks []Token
	lineOf := map[string]int{} // token -> its line
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if line == 1 {
			// A byte order mark, which some editors write at the start
			// of a UTF-8 file, marks the encoding and is not part of the
			// role: "unknown role" until 2026-12-07 (TestTokenFileBOM).
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%w: %s:%d: want \"ROLE TOKEN\"", ErrTokenFile, path, line)
		}
		role, err := ParseRole(fields[0])
		if err != nil {
			// Not ParseRole's error: it quotes the field, which is the
			// token when a line has its fields swapped.
			return nil, fmt.Errorf("%w: %s:%d: unknown role (want read, write or admin, then the token: \"ROLE TOKEN\")", ErrTokenFile, path, line)
		}
		if utf8.RuneCountInString(fields[1]) < MinTokenLength {
			return nil, fmt.Errorf("%w: %s:%d: token shorter than %d characters", ErrTokenFile, path, line, MinTokenLength)
		}
		if !printable(fields[1]) {
			// A control character or a byte that is not UTF-8 cannot be
			// sent in an Authorization header, so such a token could
			// never authenticate: most likely a damaged file.
			return nil, fmt.Errorf("%w: %s:%d: token has a character that is not printable UTF-8", ErrTokenFile, path, line)
		}
		if first, ok := lineOf[fields[1]]; ok {
			return nil, fmt.Errorf("%w: %s:%d: the token of line %d again (one role per token)", ErrTokenFile, path, line, first)
		}
		lineOf[fields[1]] = line
		toks = append(toks, Token{Role: role, Value: fields[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrTokenFile, path, err)
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("%w: %s holds no token", ErrTokenFile, path)
	}
	return toks, nil
}

// printable reports whether s is valid UTF-8 of printable characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// compareTokens compares credentials; a variable so that tests can check
// what it is given.
var compareTokens = subtle.ConstantTimeCompare

type certRoleKey struct{}

// ClientCertTLS makes cfg ask every client for a certificate chaining to
// pool and verify the one given (a certificate of another CA fails the
// handshake), but accept a client that gives none: ClientCertMiddleware
// then refuses it everything but the health probes and /metrics, which
// any client may reach. With tls.RequireAndVerifyClientCert (until
// 2026-12-07) a probe or a scrape without a certificate could not even
// connect (TestClientCertPaths).
func ClientCertTLS(cfg *tls.Config, pool *x509.CertPool) {
	cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
}

// ErrNoClientCert refuses a request without a verified client certificate
// on a server that requires one (ClientCertMiddleware).
var ErrNoClientCert = errors.New("server: no client certificate")

// ClientCertMiddleware records the role of a verified TLS client
// certificate for the auth interceptor: the role named by the leaf
// certificate's first Subject OrganizationalUnit that is a role name, else
// RoleRead. Wrap the whole mux with it when serving TLS with client CAs
// (ClientCertTLS): a request without a verified certificate is refused,
// a bearer token or not, except GET or HEAD /healthz, /readyz and
// /metrics; an RPC as unauthenticated in its protocol, any other path
// (the inspector's UI) with 401 in plain text.
func ClientCertMiddleware(next http.Handler) http.Handler {
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			role := RoleRead
			for _, ou := range r.TLS.VerifiedChains[0][0].Subject.OrganizationalUnit {
				if rr, err := ParseRole(ou); err == nil {
					role = rr
					break
				}
			}
			r = r.WithContext(context.WithValue(r.Context(), certRoleKey{}, role))
			next.ServeHTTP(w, r)
			return
		}
		if openPath(r) {
			next.ServeHTTP(w, r)
			return
		}
		err := fmt.Errorf("%w: this server requires a client certificate that chains to its --client-ca for everything but GET or HEAD %s", ErrNoClientCert, strings.Join(openPaths, ", "))
		if rpcPath(r.URL.Path) && ew.IsSupported(r) {
			_ = ew.Write(w, r, connect.NewError(connect.CodeUnauthenticated, err))
			return
		}
		http.Error(w, "mmsb: "+err.Error(), http.StatusUnauthorized)
	})
}

// openPaths are the paths any client may GET or HEAD without a
// credential: the health probes (/readyz/reads: the bus answers reads,
// serve --replicate's follower readiness) and /metrics. Exact: an
// unclean spelling (//healthz, /healthz/) is refused, not redirected.
var openPaths = []string{"/healthz", "/readyz", "/readyz/reads", "/metrics"}

// openPath says whether r is one any client may make without a
// credential: GET or HEAD of one of openPaths.
func openPath(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && slices.Contains(openPaths, r.URL.Path)
}

// Auth is a Connect interceptor that authorises every call (unary and
// streaming) by bearer token or verified client certificate.
type Auth struct {
	tokens []tokenDigest
}

// tokenDigest is a configured token as the interceptor keeps it: its
// SHA-256, so that every comparison is of 32 bytes against 32 bytes.
type tokenDigest struct {
	role Role
	sum  [sha256.Size]byte
}

// NewAuth returns the interceptor for tokens (which may be empty when only
// client certificates authenticate).
func NewAuth(tokens []Token) *Auth {
	a := &Auth{tokens: make([]tokenDigest, len(tokens))}
	for i, t := range tokens {
		a.tokens[i] = tokenDigest{role: t.Role, sum: sha256.Sum256([]byte(t.Value))}
	}
	return a
}

// roleOf returns the role of the credential presented, comparing it with
// every token in constant time so that timing reveals neither which token
// nor how much of one matched. The comparison is of SHA-256 digests:
// subtle.ConstantTimeCompare returns at once on inputs of different
// lengths, which compared directly would reveal each token's length.
func (a *Auth) roleOf(ctx context.Context, header http.Header) (Role, error) {
	authz := header.Get("Authorization")
	if authz == "" {
		if role, ok := ctx.Value(certRoleKey{}).(Role); ok {
			return role, nil
		}
		return RoleNone, errors.New("no credentials: send \"Authorization: Bearer TOKEN\" or a client certificate")
	}
	// The scheme is case-insensitive and followed by one or more spaces
	// (RFC 7235 section 2.1, RFC 6750 section 2.1).
	scheme, tok, _ := strings.Cut(authz, " ")
	tok = strings.TrimLeft(tok, " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return RoleNone, errors.New("the Authorization header is not \"Bearer TOKEN\"")
	}
	sum := sha256.Sum256([]byte(tok))
	found := RoleNone
	for i := range a.tokens {
		if compareTokens(sum[:], a.tokens[i].sum[:]) == 1 {
			found = a.tokens[i].role
		}
	}
	if found == RoleNone {
		return RoleNone, errors.New("unknown bearer token")
	}
	return found, nil
}

func (a *Auth) check(ctx context.Context, procedure string, header http.Header) error {
	role, err := a.roleOf(ctx, header)
	if err != nil {
		return connect.NewError(connect.CodeUnauthenticated, err)
	}
	if need := RequiredRole(procedure); role < need {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s needs role %s; the credential has role %s", procedure, need, role))
	}
	return nil
}

// Gate wraps the service's HTTP handler so that a call the interceptor
// will refuse is refused without reading its message: Connect reads and
// decodes a unary request before any interceptor runs, which let a client
// without a credential make the server buffer and decode messages of up
// to the read limit. Such a call's body is replaced by an empty message
// in its protocol's framing; the interceptor then refuses it as before,
// so the logs and the RPC metrics still count it.
func (a *Auth) Gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.check(r.Context(), r.URL.Path, r.Header) != nil {
			r = withEmptyMessage(r)
		}
		next.ServeHTTP(w, r)
	})
}

// withEmptyMessage returns r with its body replaced by an empty,
// uncompressed message: an empty envelope for the enveloped protocols
// (gRPC, gRPC-Web, Connect streaming), else an empty Connect unary
// message ("{}" in JSON). A media type's name is case-insensitive, and
// Connect takes "Application/JSON" as JSON: matched as sent, such a call
// got an empty body its protocol refused before the interceptor ran
// (invalid_argument, unimplemented), not unauthenticated
// (TestAuthBeforeDecodingContentTypeCase).
func withEmptyMessage(r *http.Request) *http.Request {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	var body string
	switch {
	case strings.HasPrefix(ct, "application/grpc"), strings.HasPrefix(ct, "application/connect+"):
		body = "\x00\x00\x00\x00\x00" // flags 0 (uncompressed), length 0
	case strings.Contains(ct, "json"):
		body = "{}"
	}
	r = r.Clone(r.Context())
	r.Header.Del("Content-Encoding")
	// Nor are its messages (the enveloped protocols' headers).
	r.Header.Del("Grpc-Encoding")
	r.Header.Del("Connect-Content-Encoding")
	r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
	return r
}

// WrapUnary implements connect.Interceptor.
func (a *Auth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		if err := a.check(ctx, req.Spec().Procedure, req.Header()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor (no-op).
func (a *Auth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (a *Auth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := a.check(ctx, conn.Spec().Procedure, conn.RequestHeader()); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
