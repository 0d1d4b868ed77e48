// Package inspector is the web inspector of an MMSB bus: a browser UI (plain
// ES modules and SVG, embedded in the binary) served at /ui/, and the
// view-shaped RPC service it calls (mmsb.inspector.v1.InspectorService, over
// the Connect protocol with JSON). The server mounts both next to its
// BusService and wraps them in the same auth, so the inspector needs no
// Node toolchain and sees exactly what a read-role client may see.
package inspector

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/tick"
)

//go:embed assets
var assets embed.FS

// UIPath is where Handler expects to be mounted.
const UIPath = "/ui/"

// ErrNoBus is returned by New when Options.Bus is nil.
var ErrNoBus = errors.New("inspector: no bus")

// ErrTooManyStreams refuses a Changes or Events stream while
// Options.MaxStreams of them are open, as a Connect ResourceExhausted
// error naming the bound.
var ErrTooManyStreams = errors.New("inspector: too many streams")

// DefaultMaxStreams is the default of Options.MaxStreams: each open tab
// holds one or two streams (Changes, and Events on the events view), and a
// browser speaking HTTP/1.1 holds at most 6 connections to one server, so
// 256 is room for dozens of people; past it, a client opening streams in a
// loop is refused instead of costing the server a goroutine, a poll of the
// bus every PollInterval and a connection each.
const DefaultMaxStreams = 256

// DefaultMaxRequestBytes is the default of Options.MaxRequestBytes: the
// inspector's requests are a few numbers and a search string.
const DefaultMaxRequestBytes = 1 << 20

// defaultMaxRequestBytesName is the default of
// Options.MaxRequestBytesName.
const defaultMaxRequestBytesName = "inspector Options.MaxRequestBytes"

// ErrClosed ends the streams (Changes, Events) still open when the
// inspector is closed, as a Connect Unavailable error: the browser then
// reconnects, to the inspector that replaced this one (a role change of
// `mmsb serve --replicate`) or to nothing (a server shutting down).
var ErrClosed = errors.New("inspector: closed")

// Options configure an Inspector.
type Options struct {
	// Bus is the bus inspected (required).
	Bus *mmsb.Bus
	// Ticks is the orchestrator driving the bus, if the server runs ticks:
	// it feeds the Events view and the tick phase latencies. Nil: none.
	Ticks *tick.Orchestrator
	// PollInterval is how often the Changes stream looks for new commits
	// (default 100 ms).
	PollInterval time.Duration
	// HandlerOptions are passed to the Connect handler (the server's auth
	// and metrics interceptors), after the inspector's own read limit and
	// gzip decompressor (see MaxRequestBytes).
	HandlerOptions []connect.HandlerOption
	// MaxRequestBytes bounds one request message, compressed or as it
	// inflates: a larger one is refused (resource_exhausted,
	// server.ErrRequestTooLarge) naming MaxRequestBytesName and the
	// bound, before it is decoded, and a gzip request stops being
	// decompressed past it, instead of Connect's default inflating all of
	// it to measure it (a gzip bomb). 0: DefaultMaxRequestBytes. mmsb
	// serve passes its --max-request-bytes where that is lower than
	// DefaultMaxRequestBytes, else DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxRequestBytesName is what the refusal of a message larger than
	// MaxRequestBytes calls the bound: the flag or option that set it
	// (mmsb serve: "--max-request-bytes"). "": "inspector
	// Options.MaxRequestBytes".
	MaxRequestBytesName string
	// MaxStreams bounds the Changes and Events streams open at once; the
	// next is refused with ResourceExhausted (ErrTooManyStreams). 0:
	// DefaultMaxStreams.
	MaxStreams int
	// Gate, when set, wraps the RPC service's HTTP handler: the server's
	// auth gate (server.Auth.Gate), which refuses a call without a valid
	// credential before Connect reads and decodes its message.
	Gate func(http.Handler) http.Handler
	// AsOfSlot, when set, is taken around each as-of page view's replay
	// (Bus.ReadPageAt) and released after it: the server's bound on
	// replays running at once (server.Server.AsOfSlot, --max-asof-reads).
	// Nil: unbounded (an inspector served on its own).
	AsOfSlot func(ctx context.Context) (release func(), err error)
	// LogQuerySlot, when set, is taken around every read of the log and
	// released after it, or refuses it: the server's bound on log queries
	// running at once (server.Server.LogQuerySlot, --max-log-queries).
	// The reads are a QueryLog stream (until it ends), a GetPage's search
	// for the page's recent writes, a Provenance answer, and each scan of
	// a Changes stream for the pages written. Refused, QueryLog, GetPage
	// and Provenance fail with its error (resource_exhausted), and a
	// Changes message reports pages_truncated instead of the pages. Nil:
	// unbounded (an inspector served on its own).
	LogQuerySlot func() (release func(), err error)
	// AnswerTimeout bounds the time the answer of a unary call or of a
	// UI file may take to be written, from its first byte, as the
	// server's (server.HTTPOptions.AnswerTimeout; 0:
	// server.DefaultAnswerTimeout): Mount serves them behind
	// server.AnswerDeadline. The streams (QueryLog, Changes, Events) have
	// none.
	AnswerTimeout time.Duration
}

// Inspector serves the inspector UI and its RPC service for one bus.
type Inspector struct {
	bus   *mmsb.Bus
	ticks *tick.Orchestrator
	poll  time.Duration
	hopts []connect.HandlerOption
	gate  func(http.Handler) http.Handler
	asOf  func(ctx context.Context) (func(), error)
	// logQuery is Options.LogQuerySlot.
	logQuery func() (func(), error)
	// maxRequest is Options.MaxRequestBytes, and maxRequestName
	// Options.MaxRequestBytesName.
	maxRequest     int
	maxRequestName string
	// answerTimeout is Options.AnswerTimeout.
	answerTimeout time.Duration
	// streams holds a token for each open Changes or Events stream; its
	// capacity is Options.MaxStreams.
	streams chan struct{}
	// streamOpened and streamClosed, when set (by tests), are called
	// when a stream has taken its token and after it gave it back.
	streamOpened, streamClosed func()
	// tableScans holds a token for each ListPages reading every page
	// (sorted by a column other than the ID, or the "flagged" search);
	// its capacity is maxTableScans.
	tableScans chan struct{}
	// scanChecked, when set (by tests), is called each time a whole-table
	// scan looks at its context (every scanCheckEvery pages).
	scanChecked func()
	// pageRead, when set (by tests), is called in GetPage after the page
	// is read and before its binding is.
	pageRead func()
	// holdAnswer, when set (by tests), replaces server.HoldAnswer.
	holdAnswer func(ctx context.Context, what string, n int) error
	// dropAnswer, when set (by tests), replaces server.DropAnswer.
	dropAnswer func(ctx context.Context, keep int)

	// events is a short history of tick events, so that the Events view
	// shows what happened before it was opened.
	events eventRing
	stop   context.CancelFunc
	wg     sync.WaitGroup
	// done is closed by Close: the streams still open end with ErrClosed
	// rather than outlive the inspector.
	done <-chan struct{}

	// mux is where Mount put the inspector; Overview asks it whether the
	// server also serves MetricsPath.
	mux atomic.Pointer[http.ServeMux]

	// streamCut holds the stream requests being served (QueryLog,
	// Changes, Events), which Close cuts: one blocked writing to a client
	// that stopped reading does not see done.
	streamCut server.StreamCut
}

// MetricsPath is where the server's Prometheus metrics are looked for. When
// the mux the inspector is mounted on serves it, the Overview charts the
// log fsync latency from its mmsb_log_fsync_duration_seconds histogram.
const MetricsPath = "/metrics"

// New returns an inspector over o.Bus. Close stops its event collection.
func New(o Options) (*Inspector, error) {
	if o.Bus == nil {
		return nil, ErrNoBus
	}
	if o.MaxStreams < 0 {
		return nil, fmt.Errorf("%w: inspector: Options.MaxStreams is %d: want 0 (the default, %d) or more", mmsb.ErrInvalidOption, o.MaxStreams, DefaultMaxStreams)
	}
	if o.MaxRequestBytes < 0 {
		return nil, fmt.Errorf("%w: inspector: Options.MaxRequestBytes is %d: want 0 (the default, %d) or more", mmsb.ErrInvalidOption, o.MaxRequestBytes, DefaultMaxRequestBytes)
	}
	in := &Inspector{bus: o.Bus, ticks: o.Ticks, poll: o.PollInterval, hopts: o.HandlerOptions, gate: o.Gate, asOf: o.AsOfSlot, logQuery: o.LogQuerySlot,
		maxRequest: o.MaxRequestBytes, maxRequestName: o.MaxRequestBytesName, answerTimeout: o.AnswerTimeout}
	if in.poll <= 0 {
		in.poll = 100 * time.Millisecond
	}
	if in.maxRequest == 0 {
		in.maxRequest = DefaultMaxRequestBytes
	}
	if in.maxRequestName == "" {
		in.maxRequestName = defaultMaxRequestBytesName
	}
	maxStreams := o.MaxStreams
	if maxStreams == 0 {
		maxStreams = DefaultMaxStreams
	}
	in.streams = make(chan struct{}, maxStreams)
	in.tableScans = make(chan struct{}, maxTableScans)
	in.events.init(256)
	ctx, cancel := context.WithCancel(context.Background())
	in.stop, in.done = cancel, ctx.Done()
	if in.ticks != nil {
		sub, err := in.ticks.Subscribe(tick.EventFilter{Types: inspectedEvents}, 1024, false)
		if err != nil {
			cancel()
			return nil, err
		}
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			in.collectEvents(ctx, sub)
		}()
	}
	return in, nil
}

// Close stops collecting events and ends the Changes and Events streams
// still open (Unavailable, ErrClosed), so that a browser reconnects instead
// of waiting on an inspector that was replaced, and a server shutting down
// does not wait for them; a stream (QueryLog included) whose client
// stopped reading is blocked writing and cannot send that end, so its
// writes fail server.StreamEndGrace later (the stream is reset, or its
// HTTP/1.1 connection closed): until 2026-12-06 one such client held
// `mmsb serve`'s shutdown to its whole --shutdown-timeout
// (TestCloseCutsStalledStream). The unary handlers keep answering from
// the bus.
func (in *Inspector) Close() error {
	in.stop()
	in.streamCut.Cut(nil)
	in.wg.Wait()
	return nil
}

// metricsPath returns MetricsPath when the mux serves it, else "".
func (in *Inspector) metricsPath() string {
	mux := in.mux.Load()
	if mux == nil {
		return ""
	}
	_, pattern := mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: MetricsPath}, Host: "localhost"})
	if pattern == "" {
		return ""
	}
	return MetricsPath
}

// ServiceHandler returns the path to mount the RPC service on and its
// handler.
func (in *Inspector) ServiceHandler() (string, http.Handler) {
	// The server's read limit and decompressor, whose refusals name the
	// bound's setting, and its codecs: JSON that refuses an unknown enum
	// name (Connect's dropped it, so a misspelt sort answered sorted by
	// ID: TestUnknownSortNameRefused), and binary requests counted before
	// they are decoded.
	opts := append([]connect.HandlerOption{connect.WithReadMaxBytes(in.maxRequest),
		server.BoundedGzip(in.maxRequest, in.maxRequestName), server.ProtoCodec()}, server.JSONCodecs()...)
	opts = append(opts, in.hopts...)
	path, h := inspectorv1connect.NewInspectorServiceHandler(&service{in: in}, opts...)
	// A message past the bound is refused naming it, before Connect's
	// own refusal, which named no setting (TestRequestTooLargeNamesSetting).
	h = server.BoundMessages(h, in.maxRequest, in.maxRequestName)
	// A body cut inside an envelope: invalid_argument, not internal.
	h = server.CutEnvelopes(h)
	return path, in.streamCut.Track(h, inspectorv1connect.InspectorServiceQueryLogProcedure,
		inspectorv1connect.InspectorServiceChangesProcedure, inspectorv1connect.InspectorServiceEventsProcedure)
}

// uiPolicy is the UI's Content-Security-Policy (see UIHandler). img-src
// allows data: for the empty favicon.
const uiPolicy = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// UIHandler serves the embedded UI assets; mount it at UIPath. The assets
// are public (no data in them): every datum comes through the RPC service,
// which the server's auth guards.
func UIHandler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServer(http.FS(sub))
	return http.StripPrefix(UIPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The files are read-only: http.FileServer would answer a POST or
		// a DELETE with the file as if it had been accepted.
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "inspector UI: method "+r.Method+" not allowed (GET or HEAD)", http.StatusMethodNotAllowed)
			return
		}
		// No caching: a rebuilt binary must serve its own UI.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// The UI shows strings anyone with the write role chose (sources,
		// intents, metadata). It builds its DOM with textContent, and this
		// policy is the second line: only the UI's own files run (no
		// inline or injected script, no eval), it talks only to this
		// server, and no other site may frame it.
		w.Header().Set("Content-Security-Policy", uiPolicy)
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	}))
}

// Mount registers the UI at UIPath (and a redirect to it at /) and the RPC
// service on mux.
//
// The answers of the UI's files, of the redirect and of the unary calls
// must be written within Options.AnswerTimeout of their first byte, as
// the server's own (server.AnswerDeadline), which does not cover these
// paths: until 2026-12-07 a client announcing an HTTP/2 window of 0, or
// one that stopped reading, held each such answer, its handler and its
// place among the server's requests in flight until its connection
// closed (TestInspectorUnreadAnswerReset).
func (in *Inspector) Mount(mux *http.ServeMux) {
	in.mux.Store(mux)
	mux.Handle(UIPath, server.AnswerDeadline(UIHandler(), in.answerTimeout))
	mux.Handle("GET /{$}", server.AnswerDeadline(http.RedirectHandler(UIPath, http.StatusFound), in.answerTimeout))
	path, h := in.ServiceHandler()
	if in.gate != nil {
		h = in.gate(h)
	}
	// Outermost, so that the gate's refusals are bounded too.
	h = server.AnswerDeadline(h, in.answerTimeout, inspectorv1connect.InspectorServiceQueryLogProcedure,
		inspectorv1connect.InspectorServiceChangesProcedure, inspectorv1connect.InspectorServiceEventsProcedure)
	mux.Handle(path, h)
}
