package replicate

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerConfig configures an embedded, in-process nats-server with
// JetStream.
type ServerConfig struct {
	Name     string // server name, unique in a cluster
	StoreDir string // JetStream storage directory
	Host     string // listen host (default 127.0.0.1)
	Port     int    // client port (0: a free one)
	// Cluster: a cluster name and route port, and the route URLs of every
	// member (this one included is fine). Empty ClusterName: a single server.
	ClusterName string
	ClusterPort int
	Routes      []string
	// MaxPayload is the largest message the server accepts (default
	// DefaultMaxRecordBytes plus room for headers).
	MaxPayload int32
	// Token, when set, is required of every client (the token of a URL
	// nats://TOKEN@host:port, or nats.Token) and, as the password of user
	// "mmsb", of every route between cluster members. The servers listen
	// on loopback, where any local user could otherwise read the log's
	// stream and publish forged records into it. StartCluster and Connect
	// set a random one.
	Token string
}

// ErrServerUnreachable says the connection to the NATS server(s) is down
// (nats.go keeps reconnecting: see Connect). A follower's spell ends with
// it (wrapped in ErrStreamUnavailable) once the connection has been down
// 2 × the consumer's 5 s heartbeat (watchConnection), and a take of the
// lease that fails while it is down says so.
var ErrServerUnreachable = errors.New("replicate: NATS server cannot be reached")

// natsConn is what unreachable and watchConnection use of a *nats.Conn
// (a test gives them a connection whose status it sets).
type natsConn interface {
	IsConnected() bool
	Status() nats.Status
	Servers() []string
	StatusChanged(statuses ...nats.Status) chan nats.Status
	RemoveStatusListener(ch chan nats.Status)
}

// unreachable returns ErrServerUnreachable naming nc's servers (without
// their tokens) and its connection status while nc is not connected, nil
// while it is.
func unreachable(nc natsConn) error {
	if nc.IsConnected() {
		return nil
	}
	return fmt.Errorf("%w: %s (connection %s)", ErrServerUnreachable, redactURLs(strings.Join(nc.Servers(), ",")), nc.Status())
}

// routeUser is the user name cluster members authenticate routes with
// (the password is ServerConfig.Token).
const routeUser = "mmsb"

// NewToken returns a random token for ServerConfig.Token (128 bits, hex).
func NewToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("replicate: token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// StartServer starts an embedded nats-server with JetStream file storage
// under cfg.StoreDir and sync_interval "always": every message a stream
// stores is fsynced before the server acknowledges it, which closes the
// loss window Jepsen found with the default 2-minute flush (NATS 2.12.1,
// December 2025). It returns once the server accepts clients.
func StartServer(cfg ServerConfig) (*server.Server, error) {
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := cfg.Port
	if port == 0 {
		port = -1 // random
	}
	maxPayload := cfg.MaxPayload
	if maxPayload == 0 {
		maxPayload = DefaultMaxRecordBytes + 64<<10
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: true,
		MaxPayload: maxPayload,
		NoSigs:     true,
		NoLog:      true,
	}
	opts.Authorization = cfg.Token
	if cfg.ClusterName != "" {
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: host, Port: cfg.ClusterPort}
		if cfg.Token != "" {
			opts.Cluster.Username, opts.Cluster.Password = routeUser, cfg.Token
		}
		for i, r := range cfg.Routes {
			u, err := url.Parse(r)
			if err != nil {
				// Not quoted when it may hold a password (url.Parse's
				// error quotes the whole URL).
				return nil, fmt.Errorf("%w: route URL %d of %d does not parse (%w)", ErrConfig, i+1, len(cfg.Routes), parseError(r, err))
			}
			if cfg.Token != "" {
				u.User = url.UserPassword(routeUser, cfg.Token)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("replicate: nats-server %s: %w", cfg.Name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("replicate: nats-server %s did not start", cfg.Name)
	}
	return s, nil
}

// FreePorts returns n TCP ports on 127.0.0.1 that were free a moment ago
// (for the route ports of a cluster, which must be known before start).
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		_, p, _ := net.SplitHostPort(l.Addr().String())
		v, err := strconv.Atoi(p)
		if err != nil {
			return nil, err
		}
		ports = append(ports, v)
	}
	return ports, nil
}

// Cluster is a set of embedded servers on loopback forming one JetStream
// cluster (tests, benchmarks, demos). Its servers require a random token
// (ServerConfig.Token), which URL carries.
type Cluster struct {
	Servers []*server.Server
	cfgs    []ServerConfig
	token   string
}

// StartCluster starts n embedded servers in one cluster with storage
// under dirs[i] (one server: no cluster).
func StartCluster(name string, dirs []string) (*Cluster, error) {
	n := len(dirs)
	ports, err := FreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	token, err := NewToken()
	if err != nil {
		return nil, err
	}
	var routes []string
	for i := 0; i < n; i++ {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
	}
	c := &Cluster{token: token}
	for i := 0; i < n; i++ {
		cfg := ServerConfig{Name: fmt.Sprintf("%s-%d", name, i), StoreDir: dirs[i], Port: ports[i], Token: token}
		if n > 1 {
			cfg.ClusterName, cfg.ClusterPort, cfg.Routes = name, ports[n+i], routes
		}
		c.cfgs = append(c.cfgs, cfg)
	}
	errs := make(chan error, n)
	c.Servers = make([]*server.Server, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			s, err := StartServer(c.cfgs[i])
			c.Servers[i] = s
			errs <- err
		}(i)
	}
	var first error
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		c.Shutdown()
		return nil, first
	}
	return c, nil
}

// URL returns a client URL naming every running server, with the
// cluster's token (nats://TOKEN@127.0.0.1:PORT,...).
func (c *Cluster) URL() string {
	u := ""
	for i, s := range c.Servers {
		if s == nil || !s.Running() {
			continue
		}
		if u != "" {
			u += ","
		}
		u += fmt.Sprintf("nats://%s@127.0.0.1:%d", c.token, c.cfgs[i].Port)
	}
	return u
}

// Stop shuts server i down (its storage stays).
func (c *Cluster) Stop(i int) {
	if s := c.Servers[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts server i again on its old ports and storage.
func (c *Cluster) Restart(i int) error {
	s, err := StartServer(c.cfgs[i])
	if err != nil {
		return err
	}
	c.Servers[i] = s
	return nil
}

// Shutdown stops every server.
func (c *Cluster) Shutdown() {
	for i := range c.Servers {
		c.Stop(i)
	}
}

// WaitJetStream waits until the JetStream meta layer has a leader.
func (c *Cluster) WaitJetStream(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, s := range c.Servers {
			if s != nil && s.Running() && s.JetStreamIsLeader() {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("replicate: no JetStream meta leader elected")
}

// Healthy returns nil when every running server reports itself healthy
// (JetStream enabled, its meta layer and every stream and consumer it
// holds current, so each has a leader), or an error naming what each
// unhealthy server reported.
func (c *Cluster) Healthy() error {
	var bad []string
	for i, s := range c.Servers {
		if s == nil || !s.Running() {
			continue
		}
		if st := s.Healthz(&server.HealthzOptions{Details: true}); st.StatusCode != 200 {
			var msgs []string
			if st.Error != "" {
				msgs = append(msgs, st.Error)
			}
			for _, e := range st.Errors {
				msgs = append(msgs, e.Error)
			}
			bad = append(bad, fmt.Sprintf("server %d (%s): %s", i, s.Name(), strings.Join(msgs, "; ")))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("replicate: cluster not healthy: %s", strings.Join(bad, " | "))
	}
	return nil
}

// WaitHealthy waits until Healthy reports the cluster healthy, or returns
// its last error after timeout.
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.Healthy()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Connect connects to the NATS servers at url, or, when url is "", starts
// an embedded single server with JetStream storage under storeDir and
// connects to it. stop closes the connection and the embedded server; the
// returned URL names the servers (followers join with it).
func Connect(url, storeDir string) (nc *nats.Conn, stop func(), clientURL string, err error) {
	var s *server.Server
	if url == "" {
		if err := os.MkdirAll(storeDir, 0o700); err != nil { // the stream holds the whole log
			return nil, nil, "", fmt.Errorf("replicate: %w", err)
		}
		token, err := NewToken()
		if err != nil {
			return nil, nil, "", err
		}
		if s, err = StartServer(ServerConfig{Name: "mmsb-embedded", StoreDir: storeDir, Token: token}); err != nil {
			return nil, nil, "", err
		}
		url = strings.Replace(s.ClientURL(), "nats://", "nats://"+token+"@", 1)
	}
	// Errors name the servers without their passwords or tokens (the
	// URL came from a command line: its error goes to stderr and logs),
	// and a URL that does not parse is refused here, not by nats.go,
	// whose error quotes it whole.
	servers := serverURLs(url)
	if len(servers) == 0 {
		// nats.go would connect to its default, 127.0.0.1:4222.
		return nil, nil, "", fmt.Errorf("%w: no NATS server URL in %q", ErrConfig, url)
	}
	for i, raw := range servers {
		if _, err := parseServerURL(raw); err != nil {
			if s != nil {
				s.Shutdown()
			}
			return nil, nil, "", fmt.Errorf("%w: NATS server URL %d of %d does not parse (%w)", ErrConfig, i+1, len(servers), err)
		}
	}
	nc, err = nats.Connect(url, nats.Name("mmsb"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		if s != nil {
			s.Shutdown()
		}
		return nil, nil, "", fmt.Errorf("replicate: connect %s: %w", redactURLs(url), err)
	}
	return nc, func() {
		nc.Close()
		if s != nil {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}, url, nil
}
