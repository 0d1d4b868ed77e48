package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// DefaultMaxRequests is the default of LimitRequests's server-wide
// bound (mmsb serve --max-requests): above the default --max-watchers
// (4,096) and the other streams' bounds together, so that it refuses
// nothing they admit, while bounding what answers nobody reads can hold
// to about 1 GB at /metrics's 120 KB each (it was --max-conns x
// --max-streams, 512,000 answers, tens of gigabytes).
const DefaultMaxRequests = 8192

// DefaultMaxRequestsPerClient is the default of LimitRequests's
// per-client bound (mmsb serve --max-requests-per-client): a client's
// calls and streams in flight, hundreds of watches from one process
// included, fit; one address alone holds at most 1/32 of
// DefaultMaxRequests, as with connections (DefaultMaxConnsPerClient).
const DefaultMaxRequestsPerClient = 256

// ProbeReserve is how many health probes (GET or HEAD /healthz or
// /readyz without a body) of each of the two paths LimitRequests
// answers at once beside its bounds, and ProbeReservePerClient how many
// of them one client (bounded as for the per-client bound, also where
// that is 0) may hold.
// Each path has its own (probeKey): readiness probes waiting for the bus
// cannot take the liveness probes' places. Probes do not count against
// --max-requests or --max-requests-per-client: a server whose requests
// are all taken is busy, not dead, and a liveness probe answered 503
// then restarted it, ending every open watch (TestProbesAnsweredWhenFull).
// Their own bound keeps a flood of probes from holding more than this
// many goroutines: /readyz waits for the bus's lock, which an as-of
// replay holds for its whole replay.
const (
	ProbeReserve          = 64
	ProbeReservePerClient = 8
)

// MetricsReserve is how many GET or HEAD /metrics requests (without a
// body) LimitRequests answers at once past its bounds (below them they
// count as any request), and
// MetricsReservePerClient how many of them one client may hold, counted
// as the probes' reserves are (a reserve of its own). An operator needs
// the metrics most when the server is saturated: until 2026-12-07 they
// counted against --max-requests and were refused with the rest
// (TestMetricsAnsweredWhenFull). Smaller than the probes' reserve: an
// answer is about 120 KB, which the reserve bounds to about 1 MB.
const (
	MetricsReserve          = 8
	MetricsReservePerClient = 2
)

// MaxAnswerBytes and MaxAnswerBytesPerClient bound the bytes that the
// answers of the requests in flight through LimitRequests hold, over all
// clients and from one client (bounded as for --max-requests-per-client:
// not behind --max-requests-per-client 0, not on loopback). The answers
// that can be large count: a Read's its pages' bytes from when they are
// copied and ReadItemCost per item from its start, a ListPages or
// Provenance answer (up to 16 MiB) its size once built, until the
// answer is sent (its place among the requests in
// flight is given back then too). A call that would pass either bound
// beside other answers is refused with resource_exhausted naming it
// (Mmsb-Busy: AnswerBytesFlag or AnswerBytesPerClientFlag), so that it
// may be retried once answers were read; an answer alone passes whatever
// its size. The request bounds count answers, not bytes: until 2026-12-07 a
// client that read none of its answers held --max-requests-per-client
// (256) Reads of up to 64 MiB each for the answer timeout (2 minutes),
// 16 GiB of page data and as much again encoded, and --max-requests
// (8,192) such Reads 512 GiB (TestUnreadAnswerBytesBounded). A Read's
// answer holds its data about twice while it is written (the message
// and its encoding), so these are about 2 GiB and 512 MiB of memory.
const (
	MaxAnswerBytes          = 1 << 30
	MaxAnswerBytesPerClient = 256 << 20
)

// MaxWriteBytes and MaxWriteBytesPerClient bound the bytes that the
// write requests in flight through LimitRequests hold (their bodies, as
// they arrive: CreatePages, FreePage, SetMetadata, Commit, AddEdge,
// RemoveEdge, Bind, Unbind and Submit), over all clients and from one
// client (bounded as MaxAnswerBytesPerClient is), as those bound the
// answers. Mux counts them (countWrites) once the request's credential is
// checked: a request counts its bytes as they are read (no more than
// Connect can hold of them, twice the largest message Mux reads,
// --max-request-bytes and an envelope's 5-byte prefix), whatever length
// it announces, so that one announcing much and sending little holds
// little (TestWriteBytesAnnouncedIdleHoldsNothing); one whose messages are
// compressed counts the most one may inflate to (the same largest
// message) from the moment its message has arrived whole, before it is
// inflated, until it is decoded, then what its message holds
// (holdWrite: a few compressed bytes inflate to a thousand times as
// many; TestWriteBytesGRPCCompressedCountedWhole); each until its answer
// is sent.
// One that would pass either bound beside other writes is refused with
// resource_exhausted naming it (Mmsb-Busy: WriteBytesFlag or
// WriteBytesPerClientFlag) before its handler does anything, so that it
// is not applied and may be retried: one whose known length (or, if
// compressed, the most it may inflate to) would not fit now without its
// body being read, else as its body is read, both through the
// interceptors (the RPC metrics count them). A write alone passes
// whatever its size (the largest, --max-request-bytes, included). The
// request bounds count requests, not bytes: until 2026-12-07 a client
// held --max-requests-per-client (256) decoded Commits of up to 64 MiB
// in flight, 16 GiB (TestWriteBytesBounded, TestWriteBytesAnnouncedCapped,
// TestWriteBytesEveryWriteCounted, TestWriteBytesGivenBack,
// TestWriteBytesCompressedCountedUntilDecoded,
// TestWriteBytesChunkedRefusalCounted).
const (
	MaxWriteBytes          = 1 << 30
	MaxWriteBytesPerClient = 256 << 20
)

// ReadItemCost is what each item of a Read counts against the bounds on
// answer bytes besides the bytes it reads, from the Read's start: its
// request item, its answer's message and the encoding of both take about
// 250 bytes of memory whatever its length. Until 2026-12-07 an item
// counted only its bytes, so that a Read of 2^20 one-byte ranges counted
// 1 MiB and held about 250 MiB, and a client reading none of its answers
// held 256 such Reads, 64 GiB, within the per-client bound
// (TestAnswerBytesCountReadItems).
const ReadItemCost = 256

// ListPageCost is what each page a ListPages answer lists counts against
// the bounds on answer bytes besides its encoded size: its message takes
// about 100 bytes of memory more than its encoding (a page with little
// metadata encodes in about 20). Until 2026-12-07 an answer of 10,000
// such pages counted 180 KB of the 1 MB or so it held
// (TestAnswerBytesCountListedPages).
const ListPageCost = 128

// The names refusals by the answer byte bounds give them (Mmsb-Busy):
// they have no flag.
const (
	AnswerBytesFlag          = "answer bytes"
	AnswerBytesPerClientFlag = "answer bytes per client"
	WriteBytesFlag           = "write bytes"
	WriteBytesPerClientFlag  = "write bytes per client"
)

// RefusalWriteGrace is how long a refusal of LimitRequests may take to
// be written: a client that reads no answers must not hold the refusal's
// goroutine and its stream either (its stream is reset then).
const RefusalWriteGrace = StreamEndGrace

// LimitRequests returns h serving at most maxRequests requests at once
// (0: DefaultMaxRequests), and at most maxPerClient from one client
// (ClientKey of the request's remote address; 0: no per-client bound,
// for a server behind a proxy; loopback addresses are not bounded per
// client, as in LimitConns). Every request counts, from its start to
// the end of its answer, streams (watches, log queries, the inspector's)
// included. One beyond either bound is answered at once, without calling
// h: a resource_exhausted error naming the bound and its flag, in the
// request's protocol (writeResourceExhausted: 503 with a Connect JSON
// error, but HTTP 200 with a Connect stream's end message or a gRPC
// status for those), written within RefusalWriteGrace (else its stream
// is reset); an HTTP/1.1 connection is closed after it. Refusals are
// logged at Warn at most once a minute, with the count of those not
// logged.
//
// Health probes (probeOf) are counted apart, each path against its own
// ProbeReserve and ProbeReservePerClient, and refused the same way past
// those, naming them: they are answered while the request bounds are
// reached.
//
// Each request in flight holds a goroutine and whatever its answer holds
// until the client reads it: a client with no credential at all that
// opened --max-conns HTTP/2 connections with --max-streams requests on
// each and read none of the answers held about 120 KB per /metrics
// request (docs/security.md), tens of gigabytes at the defaults; the
// bounds make that maxRequests answers, and one client's share
// maxPerClient (TestLimitRequests, TestUnreadAnswersBounded), and the
// bytes of the answers that can be large MaxAnswerBytes, and one
// client's MaxAnswerBytesPerClient; those of the write requests
// MaxWriteBytes and MaxWriteBytesPerClient, counted by the Mux behind it
// (countWrites) and given back here once the answer is sent.
func LimitRequests(h http.Handler, maxRequests, maxPerClient int, log *slog.Logger) http.Handler {
	if maxRequests <= 0 {
		maxRequests = DefaultMaxRequests
	}
	if maxPerClient < 0 {
		maxPerClient = 0
	}
	if log == nil {
		log = slog.Default()
	}
	l := &requestLimit{h: h, max: maxRequests, perClient: maxPerClient, clients: map[string]int{},
		probeMax:       [3]int{ProbeReserve, ProbeReserve, MetricsReserve},
		probePerClient: [3]int{ProbeReservePerClient, ProbeReservePerClient, MetricsReservePerClient},
		probeClients:   map[probeKey]int{},
		answers: byteBound{max: MaxAnswerBytes, perClient: MaxAnswerBytesPerClient, clients: map[string]int64{},
			flag: AnswerBytesFlag, perClientFlag: AnswerBytesPerClientFlag},
		writes: byteBound{max: MaxWriteBytes, perClient: MaxWriteBytesPerClient, clients: map[string]int64{},
			flag: WriteBytesFlag, perClientFlag: WriteBytesPerClientFlag},
		log: refusalLog{log: log, every: refusalLogEvery}}
	return l
}

// refusalLogEvery is how often at most a request refusal is logged.
const refusalLogEvery = time.Minute

type requestLimit struct {
	h             http.Handler
	max           int
	perClient     int  // 0: none
	countLoopback bool // tests: bound loopback clients too

	mu      sync.Mutex
	n       int            // requests in flight
	clients map[string]int // in flight per ClientKey (with perClient only)

	// Health probes and /metrics, counted apart (ProbeReserve,
	// MetricsReserve), each path on its own: the bounds by probeOf's
	// index (the per-client ones applied where the client is bounded).
	probeMax       [3]int
	probePerClient [3]int
	probes         [3]int           // in flight, by probeOf's index
	probeClients   map[probeKey]int // in flight per path and ClientKey (with perClient only)

	// Bytes held by the answers of requests in flight (MaxAnswerBytes)
	// and by the write requests in flight (MaxWriteBytes).
	answers, writes byteBound

	log refusalLog
}

func (l *requestLimit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, bounded := "", false
	if l.perClient > 0 {
		key, bounded = boundedClient(r.RemoteAddr, l.countLoopback)
	}
	i, probe := probeOf(r)
	if probe && i == metricsPath {
		// /metrics counts as any request while the bounds admit it, and
		// comes from its reserve only past them: with the reserve alone,
		// clients at MetricsReserve/MetricsReservePerClient addresses
		// holding unread scrapes kept every operator from the metrics of
		// a server far from its bounds (TestMetricsCountedBelowBounds).
		if flag, _ := l.take(key, bounded); flag == "" {
			l.serveCounted(w, r, key, bounded)
			return
		}
	}
	if probe {
		if l.perClient == 0 {
			// The probe reserve is bounded per client without a
			// per-client bound of requests too (behind a proxy): one
			// client took all of it until 2026-12-07, and every other
			// prober was refused (TestProbeReservePerClientWithoutClientBound).
			key, bounded = boundedClient(r.RemoteAddr, l.countLoopback)
		}
		pk := probeKey{i, key}
		if flag, bound := l.takeProbe(pk, bounded); flag != "" {
			l.refuse(w, r, key, flag, bound)
			return
		}
		defer l.releaseProbe(pk, bounded)
		l.h.ServeHTTP(w, r)
		if r.ProtoMajor >= 2 {
			// A probe's answer ("ok") is written within
			// RefusalWriteGrace, else its stream is reset, as a
			// refusal's: a client announcing a window of 0 held its
			// reserve slot until its connection closed, and one with
			// ProbeReserve/ProbeReservePerClient addresses held them
			// all, so that every liveness probe was refused
			// (TestUnreadProbesReleased). Set once the handler has
			// returned: /readyz may wait for the bus's lock. Not on
			// HTTP/1.1, where it would stay on the connection.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(RefusalWriteGrace))
		}
		sent(w, r)
		return
	}
	if flag, bound := l.take(key, bounded); flag != "" {
		l.refuse(w, r, key, flag, bound)
		return
	}
	l.serveCounted(w, r, key, bounded)
}

// serveCounted serves r, a request take has counted for client key, and
// gives its place back once its answer is sent.
func (l *requestLimit) serveCounted(w http.ResponseWriter, r *http.Request, key string, bounded bool) {
	defer l.release(key, bounded)
	// The handler counts the bytes its answer holds on hold (holdAnswer),
	// given back once the answer is sent.
	hold := &answerHold{byteHold{l: l, b: &l.answers, key: key, bounded: bounded}}
	defer hold.drop()
	// A write request's body counts on wh once its credential is checked
	// (countWrites, in Mux behind Auth.Gate), given back here too.
	wh := &writeHold{byteHold: byteHold{l: l, b: &l.writes, key: key, bounded: bounded}}
	defer wh.drop()
	ctx := context.WithValue(context.WithValue(r.Context(), answerHoldKey{}, hold), writeHoldKey{}, wh)
	l.h.ServeHTTP(w, r.WithContext(ctx))
	sent(w, r)
}

// writeHoldKey is the context key of a request's writeHold.
type writeHoldKey struct{}

// holdWrite counts the write request of ctx, size bytes decoded, against
// LimitRequests's bounds on write bytes beyond what its body counted
// (a compressed body counts its compressed bytes before it is decoded),
// or returns a resource_exhausted error, marked busy, naming the bound
// the rest would pass (what names the call in it), or the refusal
// countWrites decided for it (which writeRefusalInterceptor answers
// before the handler runs). Every write handler calls it before it does
// anything: a refused write is not applied. Outside LimitRequests nothing
// is counted.
func holdWrite(ctx context.Context, what string, size int) error {
	h, ok := ctx.Value(writeHoldKey{}).(*writeHold)
	if !ok {
		return nil
	}
	if h.refused != nil {
		return h.refusal(what)
	}
	if !h.decodeFound && size > 0 {
		decodeLinkMissed(h.l.log.log, what)
	}
	switch {
	case h.decoded > 0:
		// Decoded by ProtoCodec or a JSON codec, which counted what the
		// decode would allocate (holdDecode): the request holds that now, its
		// message, no longer its body's bytes (Connect's buffer pool has
		// them back) nor the most a compressed message could have
		// inflated to.
		h.inflating = false
		if keep := max(int64(size), h.decoded); keep < h.n {
			h.giveBack(h.n - keep)
		}
	case h.inflating:
		// Decoded, its decode allocating nothing counted (an empty
		// message): a compressed message counts what it holds now (or
		// what its body brought, if more), no longer the most it could
		// have inflated to.
		h.inflating = false
		if keep := max(int64(size), min(h.read, h.most)); keep < h.n {
			h.giveBack(h.n - keep)
		}
	}
	more := int64(size) - h.n
	if more <= 0 {
		return nil
	}
	flag, bound, held := h.take(more)
	if flag == "" {
		return nil
	}
	h.l.log.warn("refusing a request: "+flag+" reached; this is logged at most once a minute", "bound", flag, "max", bound, "client", h.key)
	return busy(connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("%s: %s", what, h.busy(flag, bound, held, more))), flag)
}

// writeProcedures are the paths of the calls whose requests count
// against the bounds on write bytes (MaxWriteBytes).
var writeProcedures = map[string]bool{
	mmsbv1connect.BusServiceCreatePagesProcedure: true,
	mmsbv1connect.BusServiceFreePageProcedure:    true,
	mmsbv1connect.BusServiceSetMetadataProcedure: true,
	mmsbv1connect.BusServiceCommitProcedure:      true,
	mmsbv1connect.BusServiceAddEdgeProcedure:     true,
	mmsbv1connect.BusServiceRemoveEdgeProcedure:  true,
	mmsbv1connect.BusServiceBindProcedure:        true,
	mmsbv1connect.BusServiceUnbindProcedure:      true,
	mmsbv1connect.BusServiceSubmitProcedure:      true,
}

// writeHold is what the request of one write in flight through
// LimitRequests holds of its bounds on write bytes. Its request's body
// (countedBody) and LimitRequests use it, one at a time.
type writeHold struct {
	byteHold

	// Set by countWrites: the most of the body that counts, and the
	// bytes of it read so far (countedBody).
	most, read int64
	// refused, set by countWrites, refuses the request (refusal) before
	// its handler runs.
	refused *writeRefusal
	// inflating: its messages are compressed, and it counts the most
	// one may inflate to (inflateTo) from the moment its message has
	// arrived whole, before Connect inflates it, until it is decoded
	// (countWrites, countedBody, holdWrite); inflateCounted once it has.
	inflating, inflateCounted bool
	inflateTo                 int64
	// decoded is what the decode of its message allocates, at most
	// (ProtoCodec's or a JSON codec's estimate), counted before the
	// decode (holdDecode).
	decoded int64
	// decodeFound once holdDecode has found it, on the goroutine serving
	// it (decodeLinkMisses).
	decodeFound bool
}

// giveBack gives back n of the bytes the request counted.
func (h *writeHold) giveBack(n int64) { h.dropTo(h.n - n) }

// writeRefusal is why countWrites refused a write request of known
// length: the bound it would pass, the bound's value, what the writes
// held and what the request would have added.
type writeRefusal struct {
	flag           string
	bound, held, n int64
}

// refusal is the error refusing h's request (what names the call).
func (h *writeHold) refusal(what string) *connect.Error {
	f := h.refused
	return busy(connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("%s: %s", what, h.busy(f.flag, f.bound, f.held, f.n))), f.flag)
}

// busy is the message refusing a write whose n more bytes would pass the
// bound flag (bound), with held bytes held.
func (h *writeHold) busy(flag string, bound, held, n int64) string {
	if flag == WriteBytesPerClientFlag {
		return fmt.Sprintf("the write requests in flight from your address (%s) hold %d bytes, and %d more would pass the most one client's writes may hold (%s %d); wait for your writes in flight to be answered, or send smaller batches, then retry",
			h.key, held, n, flag, bound)
	}
	return fmt.Sprintf("server busy: the write requests in flight hold %d bytes, and %d more would pass the most this server holds (%s %d); retry later",
		held, n, flag, bound)
}

// countWrites counts the body of each write request (writeProcedures)
// that comes through LimitRequests against its bounds on write bytes
// (writeHold) as h, Connect's handler, reads it (countedBody), a
// compressed one all of it at once; one of known length (Content-Length)
// that would not fit is refused before any of it is read. Mux puts it
// behind Auth.Gate, so that a request without a credential counts the empty message the Gate gives it, not the body
// it announced. maxBytes is the largest message the handler reads
// (--max-request-bytes): no request counts more than Connect can hold of
// its body, two messages of maxBytes and their envelopes' prefixes (a
// unary call over gRPC whose body brings a second message is refused
// once that one is read), whatever length it announces or sends. Counted
// as announced, or before the credential is checked, one client
// announcing 4 GiB, alone and so let through, would hold every write of
// every client refused for as long as its body may take to arrive, up to
// BodyReadTimeout (TestWriteBytesAnnouncedCapped,
// TestWriteBytesAnnouncedIdleHoldsNothing).
//
// A request of known length that would pass a bound is refused without
// its body being read: its handler is given an empty message instead,
// and the refusal comes from writeRefusalInterceptor, before the handler,
// so that the RPC metrics and the log count it as any other refused call
// (code resource_exhausted; answered before Connect saw the call,
// mmsb_rpc_requests_total would miss it). One without a length (chunked,
// or an HTTP/2 stream without content-length, as gRPC clients send)
// refused as it is read fails the read of its message, which Connect
// answers before any interceptor runs; that answer is held back
// (heldBackWriter) and the call is served again as one of known length
// refused: with an empty message, refused by writeRefusalInterceptor.
// Until 2026-12-07 only the log's warning named it
// (TestWriteBytesChunkedRefusalCounted).
func countWrites(h http.Handler, maxBytes int) http.Handler {
	// A message of maxBytes and its envelope's 5-byte prefix, twice.
	most := 2 * (int64(maxBytes) + 5)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wh, ok := r.Context().Value(writeHoldKey{}).(*writeHold)
		if !ok || !writeProcedures[r.URL.Path] || r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		wh.most = most
		// A body of known length, up to what one message can be, is
		// refused at once if it would not fit now, without being read,
		// but counts only as it arrives (countedBody): counted whole at
		// once, a client announcing --max-request-bytes and sending
		// nothing held that much of the bounds for BodyReadTimeout,
		// and 16 such requests from 4 addresses held every other
		// client's writes refused (TestWriteBytesAnnouncedIdleHoldsNothing).
		// A compressed one counts all of that once its message has
		// arrived whole, before it is inflated, until it is decoded
		// (holdWrite), since its few bytes may inflate to that much
		// whatever its length; counted from its start, one sending a
		// few bytes and then nothing held it for BodyReadTimeout.
		var n int64
		if r.ContentLength > 0 {
			n = min(r.ContentLength, int64(maxBytes)+5)
		}
		if compressed(r.Header) {
			n, wh.inflating, wh.inflateTo = int64(maxBytes)+5, true, int64(maxBytes)+5
		}
		if n > 0 {
			if flag, bound, held := wh.fits(n); flag != "" {
				wh.l.log.warn("refusing a request: "+flag+" reached; this is logged at most once a minute",
					"bound", flag, "max", bound, "client", wh.key, "path", loggedPath(r.URL.Path))
				wh.refused = &writeRefusal{flag: flag, bound: bound, held: held, n: n}
				if r.ProtoMajor < 2 {
					// Its body stays unread (see refuse).
					w.Header().Set("Connection", "close")
				}
				w.Header().Set("Retry-After", "1")
				h.ServeHTTP(w, withEmptyMessage(r))
				return
			}
		}
		r = r.WithContext(r.Context()) // a copy, its body counted
		body := &countedBody{ReadCloser: r.Body, h: wh}
		if enveloped(r.Header) {
			body.env = &envelopes{}
		}
		r.Body = body
		header := w.Header().Clone()
		hw := &heldBackWriter{ResponseWriter: w, body: body}
		serveDecodingWrite(h, hw, r, body)
		if body.refused == nil || hw.passed {
			return
		}
		// Refused as it was read: Connect failed the read and answered
		// (held back) before any interceptor ran. Nothing was sent: the
		// call is refused again as one of known length is, with an empty
		// message, through the interceptors, so that the RPC metrics and
		// the log count it. The header Connect set for the answer held
		// back goes with it.
		clear(w.Header())
		maps.Copy(w.Header(), header)
		wh.refused = body.refused
		if r.ProtoMajor < 2 {
			w.Header().Set("Connection", "close") // its body stays unread
		}
		w.Header().Set("Retry-After", "1")
		h.ServeHTTP(w, withEmptyMessage(r))
	})
}

// decodingWrites holds the countedBody of each write request being
// served through countWrites, by the goroutine that serves it
// (goroutineID): Connect gives its codec no context, and decodes a unary
// request's message on the goroutine serving the request, so that
// the codecs (ProtoCodec, JSON) find the request's bounds on write bytes there
// (holdDecode). What this rests on: every write is a unary call, whose
// message Connect (v1.21) reads and decodes within the handler's
// ServeHTTP, for Connect, gRPC and gRPC-Web alike, and nothing between
// countWrites and Connect serves on another goroutine; a goroutine's
// number is never reused, and an HTTP/1.1 connection serves its
// requests one after the other; the entry goes when ServeHTTP returns,
// a panic included. Were a write decoded elsewhere, its lookup would
// miss, and it would be counted at its message's size only:
// decodeLinkMisses says so.
var decodingWrites sync.Map // uint64 → *countedBody

// writesDecoding counts decodingWrites' entries: where there are none,
// the codec does not look for its goroutine's (goroutineID takes about
// 4 µs on a loaded 2-core machine).
var writesDecoding atomic.Int64

// decodeLinkMisses counts the write requests decoded without the codec
// (ProtoCodec or JSON) finding them (holdDecode: the lookup by goroutine missed),
// so counted at their message's size only, not at what their decode
// allocated: were Connect ever to decode a unary request's message on
// another goroutine than the one serving it, the first such write is
// logged at error, and TestWriteDecodeFoundByGoroutine fails, rather
// than the bounds on write bytes silently counting wire bytes again.
var decodeLinkMisses atomic.Int64

// decodeLinkMissed counts a write request (what names its call) whose
// decode was not counted (decodeLinkMisses), logging the first.
func decodeLinkMissed(log *slog.Logger, what string) {
	if decodeLinkMisses.Add(1) == 1 {
		log.Error("a write request was decoded on another goroutine than the one serving it: its decode was not counted against the bounds on write bytes, only its message's size; logged once", "call", what)
	}
}

// serveDecodingWrite serves r, a write request whose body is body,
// through h, Connect's handler, with body in decodingWrites meanwhile.
func serveDecodingWrite(h http.Handler, w http.ResponseWriter, r *http.Request, body *countedBody) {
	g := goroutineID()
	if g == 0 {
		// Not a number (a runtime printing stacks otherwise): every
		// write would share one entry, and count another's decode.
		h.ServeHTTP(w, r)
		return
	}
	decodingWrites.Store(g, body)
	writesDecoding.Add(1)
	defer func() {
		decodingWrites.Delete(g)
		writesDecoding.Add(-1)
	}()
	h.ServeHTTP(w, r)
}

// goroutineID is the number of the calling goroutine, read from the
// first line of its stack trace ("goroutine 18 [running]:"): Go has no
// other way to name it. 0 (no goroutine's) where that line says none.
// It allocates nothing: its buffer comes from stackBufs (a local array
// escapes to the heap through runtime.Stack, 64 bytes twice a write:
// TestGoroutineIDAllocatesNothing).
func goroutineID() uint64 {
	buf := stackBufs.Get().(*[64]byte)
	defer stackBufs.Put(buf)
	trace := buf[:runtime.Stack(buf[:], false)]
	trace = bytes.TrimPrefix(trace, []byte("goroutine "))
	var id uint64
	for _, c := range trace {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

// stackBufs holds goroutineID's buffers.
var stackBufs = sync.Pool{New: func() any { return new([64]byte) }}

// holdDecode counts alloc bytes, what decoding the message of the write
// request served on this goroutine will allocate at most (ProtoCodec's
// estimate), against LimitRequests's bounds on write bytes before the
// message is decoded, or returns the refusal, which countWrites answers
// again through the interceptors as busy (resource_exhausted, Mmsb-Busy)
// as it does a body refused as it is read. Counted as their wire bytes
// only (until 2026-12-07), 16 Commits of 64 MiB of one-byte runs, within
// the bounds, each allocated over 1 GB decoding, 16 to 26 bytes a wire
// byte (TestWriteBytesDecodeCounted). Nothing is
// counted for a request that is not a write served through countWrites.
func holdDecode(alloc int64) error {
	if writesDecoding.Load() == 0 {
		return nil
	}
	v, ok := decodingWrites.Load(goroutineID())
	if !ok {
		return nil
	}
	b := v.(*countedBody)
	b.h.decodeFound = true
	if err := b.count(alloc); err != nil {
		return err
	}
	b.h.decoded += alloc
	return nil
}

// heldBackWriter is the answer's writer while a write request's body
// (countedBody) is read: once the body has been refused, what Connect
// writes is dropped, not sent, so that countWrites can answer the call
// again through the interceptors; what it wrote before (passed) was sent.
type heldBackWriter struct {
	http.ResponseWriter
	body   *countedBody
	passed bool // something was sent before the body was refused
}

// held says whether what is written now is dropped (it is once the body
// has been refused, unless something was sent before).
func (hw *heldBackWriter) held() bool {
	if hw.body.refused != nil && !hw.passed {
		return true
	}
	hw.passed = true
	return false
}

func (hw *heldBackWriter) WriteHeader(code int) {
	if !hw.held() {
		hw.ResponseWriter.WriteHeader(code)
	}
}

func (hw *heldBackWriter) Write(p []byte) (int, error) {
	if hw.held() {
		return len(p), nil
	}
	return hw.ResponseWriter.Write(p)
}

func (hw *heldBackWriter) Flush() {
	if !hw.held() {
		if f, ok := hw.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// Unwrap gives http.ResponseController the writer beneath.
func (hw *heldBackWriter) Unwrap() http.ResponseWriter { return hw.ResponseWriter }

// compressed says whether a request's header announces compressed
// messages: its body (Connect's unary protocol) or each message
// (gRPC, gRPC-Web, Connect's streaming protocol).
func compressed(h http.Header) bool {
	for _, k := range []string{"Content-Encoding", "Grpc-Encoding", "Connect-Content-Encoding"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" && !strings.EqualFold(v, "identity") {
			return true
		}
	}
	return false
}

// writeRefusalInterceptor refuses, before its handler runs, a write
// request countWrites refused (writeHold.refused), with its error.
type writeRefusalInterceptor struct{}

func (writeRefusalInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if h, ok := ctx.Value(writeHoldKey{}).(*writeHold); ok && h.refused != nil && !req.Spec().IsClient {
			p := req.Spec().Procedure
			return nil, h.refusal(p[strings.LastIndex(p, "/")+1:])
		}
		return next(ctx, req)
	}
}

func (writeRefusalInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (writeRefusalInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// countedBody is the body of a write request: each
// read counts its bytes (writeHold) before the handler decodes them, and
// one that would pass a bound fails the read with the refusal, which
// Connect answers as the call's error.
type countedBody struct {
	io.ReadCloser
	h   *writeHold
	err error
	env *envelopes // an enveloped body's (enveloped), else nil
	// refused is why the body was refused (countWrites refuses the
	// call again with it).
	refused *writeRefusal
}

func (b *countedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		// Bytes past what was counted already (a compressed message
		// counts more once whole, below) and before the most that
		// counts.
		b.h.read += int64(n)
		if err := b.count(min(b.h.read, b.h.most) - b.h.n); err != nil {
			return 0, err
		}
	}
	// A compressed message counts the most it may inflate to once it
	// has arrived whole: at the body's end (Connect's unary protocol)
	// or at the end of an envelope flagged compressed (the others).
	if h := b.h; h.inflating && !h.inflateCounted &&
		(b.env == nil && err == io.EOF || b.env != nil && b.env.whole(p[:n])) {
		h.inflateCounted = true
		if err := b.count(h.inflateTo - h.n); err != nil {
			return 0, err
		}
	}
	return n, err
}

// count counts more bytes of the body (nothing if more <= 0), or
// returns the refusal, which every later read returns too.
func (b *countedBody) count(more int64) error {
	if more <= 0 {
		return nil
	}
	flag, bound, held := b.h.take(more)
	if flag == "" {
		return nil
	}
	b.h.l.log.warn("refusing a request: "+flag+" reached; this is logged at most once a minute", "bound", flag, "max", bound, "client", b.h.key)
	b.err = busy(connect.NewError(connect.CodeResourceExhausted, errors.New(b.h.busy(flag, bound, held, more))), flag)
	b.refused = &writeRefusal{flag: flag, bound: bound, held: held, n: more}
	return b.err
}

// enveloped says whether a request's body is a sequence of enveloped
// messages (gRPC, gRPC-Web, Connect's streaming protocol), each a flag
// byte, a 4-byte big-endian length and the message, rather than one
// message (Connect's unary protocol).
func enveloped(h http.Header) bool {
	ct := strings.ToLower(h.Get("Content-Type"))
	return strings.HasPrefix(ct, "application/grpc") || strings.HasPrefix(ct, "application/connect+")
}

// envelopes follows the envelopes of a request's body as it is read.
type envelopes struct {
	prefix    [5]byte
	got       int    // bytes of the current envelope's prefix read
	left      uint32 // bytes of its message still to come
	announced uint32 // the largest message a prefix announced
}

// whole follows p, the body's next bytes, and says whether a message
// flagged compressed ended in them.
func (e *envelopes) whole(p []byte) bool {
	compressedEnded := false
	for len(p) > 0 {
		if e.got < len(e.prefix) {
			c := copy(e.prefix[e.got:], p)
			e.got, p = e.got+c, p[c:]
			if e.got < len(e.prefix) {
				return compressedEnded
			}
			e.left = binary.BigEndian.Uint32(e.prefix[1:])
			e.announced = max(e.announced, e.left)
		}
		c := min(uint32(len(p)), e.left)
		e.left, p = e.left-c, p[c:]
		if e.left == 0 {
			compressedEnded = compressedEnded || e.prefix[0]&1 != 0
			e.got = 0
		}
	}
	return compressedEnded
}

// inside says whether the bytes followed so far end inside an envelope:
// part of its prefix, or of its message, is still to come.
func (e *envelopes) inside() bool { return e.got > 0 }

// answerHoldKey is the context key of a request's answerHold.
type answerHoldKey struct{}

// answerHold is what the answer of one request in flight through
// LimitRequests holds of its bounds on answer bytes. Its handler's
// goroutine alone uses it, and LimitRequests once the handler returned.
type answerHold struct{ byteHold }

// byteBound is one bound LimitRequests keeps on the bytes requests in
// flight hold (their answers, or their write requests): over all
// clients, and per client where clients are bounded. Its fields are
// guarded by the requestLimit's mu.
type byteBound struct {
	max, perClient      int64
	total               int64
	clients             map[string]int64 // per ClientKey (with perClient only)
	flag, perClientFlag string           // the flags that set max and perClient
}

// byteHold is what one request in flight holds of a byteBound: answers
// (answerHold) and writes (writeHold) count the same way.
type byteHold struct {
	l       *requestLimit
	b       *byteBound
	key     string
	bounded bool
	n       int64 // bytes counted for this request
}

// take counts n more bytes of the request, or names the bound they
// would pass, its value and what the requests hold now (with this
// one's). A request is refused only beside others: alone it passes
// whatever its size (a Provenance answer's first write may be as large
// as a log record), else a client could never send or get it.
func (h *byteHold) take(n int64) (flag string, bound, held int64) {
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	if flag, bound, held = h.over(n); flag != "" {
		return flag, bound, held
	}
	if h.bounded {
		h.b.clients[h.key] += n
	}
	h.b.total += n
	h.n += n
	return "", 0, 0
}

// fits is take without counting: it names the bound n more bytes would
// pass now, if any, and counts nothing.
func (h *byteHold) fits(n int64) (flag string, bound, held int64) {
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	return h.over(n)
}

// over names the bound n more bytes of the request would pass beside
// the others, its value and what the requests hold (take); the
// requestLimit's mu is held.
func (h *byteHold) over(n int64) (flag string, bound, held int64) {
	b := h.b
	if b.total > h.n && b.total+n > b.max {
		return b.flag, b.max, b.total
	}
	if h.bounded {
		if c := b.clients[h.key]; c > h.n && c+n > b.perClient {
			return b.perClientFlag, b.perClient, c
		}
	}
	return "", 0, 0
}

// drop gives back every byte the request counted.
func (h *byteHold) drop() { h.dropTo(0) }

// dropTo gives back what the request counted beyond its first keep bytes.
func (h *byteHold) dropTo(keep int64) {
	if h.n <= keep {
		return
	}
	give := h.n - keep
	l, b := h.l, h.b
	l.mu.Lock()
	defer l.mu.Unlock()
	b.total -= give
	if h.bounded {
		if b.clients[h.key] -= give; b.clients[h.key] <= 0 {
			delete(b.clients, h.key)
		}
	}
	h.n = keep
}

// holdAnswer counts n more bytes in the answer of ctx's
// request against LimitRequests's bounds on answer bytes (MaxAnswerBytes),
// until the answer is sent, or returns a resource_exhausted error, marked
// busy, naming the bound that n more would pass (what names the call in
// it). Outside LimitRequests (a server mounted without it) nothing is
// counted.
func holdAnswer(ctx context.Context, what string, n int) error {
	h, ok := ctx.Value(answerHoldKey{}).(*answerHold)
	if !ok || n <= 0 {
		return nil
	}
	flag, bound, held := h.take(int64(n))
	switch flag {
	case "":
		return nil
	case AnswerBytesPerClientFlag:
		h.l.log.warn("refusing a request: "+flag+" reached; this is logged at most once a minute", "bound", flag, "max", bound, "client", h.key)
		return busy(connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
			"%s: the answers in flight to your address (%s) hold %d bytes, and %d more would pass the most one client's answers may hold (%s %d); read or cancel the answers you asked for, or ask for less per call, then retry",
			what, h.key, held, n, flag, bound)), flag)
	default:
		h.l.log.warn("refusing a request: "+flag+" reached; this is logged at most once a minute", "bound", flag, "max", bound)
		return busy(connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
			"%s: server busy: the answers in flight hold %d bytes, and %d more would pass the most this server holds (%s %d); retry later",
			what, held, n, flag, bound)), flag)
	}
}

// tryHoldAnswer is holdAnswer for bytes that may be fewer than n: it
// counts n if they fit beside the other answers and says whether they
// did, refusing nothing and logging nothing (outside LimitRequests it
// counts nothing and says so).
func tryHoldAnswer(ctx context.Context, n int) bool {
	h, ok := ctx.Value(answerHoldKey{}).(*answerHold)
	if !ok || n <= 0 {
		return false
	}
	flag, _, _ := h.take(int64(n))
	return flag == ""
}

// HoldAnswer is holdAnswer for a service mounted beside the server's,
// behind the same LimitRequests (the inspector's): its large answers count
// against the same bounds on answer bytes. Outside LimitRequests it
// counts nothing.
func HoldAnswer(ctx context.Context, what string, n int) error { return holdAnswer(ctx, what, n) }

// DropAnswer is dropAnswer for a service mounted beside the server's
// (HoldAnswer): it gives back what ctx's answer counted beyond its first
// keep bytes, as a stream does for each part it has sent (the
// inspector's QueryLog).
func DropAnswer(ctx context.Context, keep int) { dropAnswer(ctx, keep) }

// dropAnswer gives back what the answer of ctx's request counted so far
// (holdAnswer) beyond its first keep bytes: the handler starts its answer
// over, keeping what it counted before it began.
func dropAnswer(ctx context.Context, keep int) {
	if h, ok := ctx.Value(answerHoldKey{}).(*answerHold); ok {
		h.dropTo(int64(keep))
	}
}

// sent returns once what the handler left in the HTTP/2 server's write
// buffer (4 KiB) is sent, so that the request counts until its answer
// reaches the client's window: a handler whose answer fits the buffer
// returns at once, and the server sends it afterwards, holding its
// goroutine and stream until the client reads it. Unread small answers
// were not counted at all until 2026-12-06 (TestUnreadSmallAnswersBounded).
// HTTP/1.1 is left alone: it serves one request per connection at a
// time, and a flush there would drop the answer's Content-Length. Over
// HTTP/2 it drops it too (the server adds one only to an answer whole at
// the handler's end), which HTTP/2 does not need: its end of stream ends
// the answer. An answer whose handler set one keeps it, and trailers,
// HEAD, 204 and 304 answers are as without the flush.
func sent(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor >= 2 {
		_ = http.NewResponseController(w).Flush()
	}
}

// probeOf says whether r is a health probe or a metrics scrape that
// LimitRequests answers from its reserve, and which: GET or HEAD of
// /healthz (0), /readyz (1) or /metrics (metricsPath, 2) with no body (a
// body could take BodyReadTimeout to arrive, holding its slot; such a
// request counts as any other).
func probeOf(r *http.Request) (int, bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return 0, false
	}
	if r.ContentLength != 0 || len(r.TransferEncoding) != 0 || r.URL == nil {
		return 0, false
	}
	switch r.URL.Path {
	case "/healthz":
		return 0, true
	case "/readyz", "/readyz/reads":
		// A follower's read readiness waits where /readyz does.
		return 1, true
	case "/metrics":
		return metricsPath, true
	}
	return 0, false
}

// probeKey is what a probe counts against: its path (probeOf's index)
// and its client. Each path has a reserve of its own: /readyz waits for
// the bus's lock, which an as-of replay holds for its whole replay, and
// readiness probes waiting there took the places of liveness probes,
// which then were refused, restarting a server that was merely busy
// (TestProbesAnsweredWhenFull).
type probeKey struct {
	path int
	key  string
}

// takeProbe counts one more probe of pk, or names the bound it would
// pass.
func (l *requestLimit) takeProbe(pk probeKey, bounded bool) (flag string, bound int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.probes[pk.path] >= l.probeMax[pk.path] {
		if pk.path == metricsPath {
			return metricsFlag, l.probeMax[pk.path]
		}
		return probeFlag, l.probeMax[pk.path]
	}
	if bounded {
		if l.probeClients[pk] >= l.probePerClient[pk.path] {
			if pk.path == metricsPath {
				return metricsPerClientFlag, l.probePerClient[pk.path]
			}
			return probePerClientFlag, l.probePerClient[pk.path]
		}
		l.probeClients[pk]++
	}
	l.probes[pk.path]++
	return "", 0
}

func (l *requestLimit) releaseProbe(pk probeKey, bounded bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.probes[pk.path]--
	if bounded {
		if l.probeClients[pk]--; l.probeClients[pk] <= 0 {
			delete(l.probeClients, pk)
		}
	}
}

// The names refusals give the probes' and /metrics's bounds, which have
// no flag.
const (
	probeFlag            = "probe reserve"
	probePerClientFlag   = "probe reserve per client"
	metricsFlag          = "metrics reserve"
	metricsPerClientFlag = "metrics reserve per client"
)

// metricsPath is probeOf's index of /metrics.
const metricsPath = 2

// take counts one more request of client key, or names the flag and
// the value of the bound it would pass.
func (l *requestLimit) take(key string, bounded bool) (flag string, bound int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.max {
		return "--max-requests", l.max
	}
	if bounded {
		if l.clients[key] >= l.perClient {
			return "--max-requests-per-client", l.perClient
		}
		l.clients[key]++
	}
	l.n++
	return "", 0
}

func (l *requestLimit) release(key string, bounded bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if bounded {
		if l.clients[key]--; l.clients[key] <= 0 {
			delete(l.clients, key) // the clients with requests in flight, no more
		}
	}
}

func (l *requestLimit) refuse(w http.ResponseWriter, r *http.Request, key, flag string, bound int) {
	var msg string
	switch flag {
	case "--max-requests":
		msg = fmt.Sprintf("server busy: %d requests are in flight, the most this server answers at once (%s %d); retry later", bound, flag, bound)
	case probeFlag:
		msg = fmt.Sprintf("server busy: %d health probes are in flight, the most this server answers at once (%s %d); retry later", bound, flag, bound)
	case probePerClientFlag:
		msg = fmt.Sprintf("too many health probes in flight from your address (%s): at most %d at once (%s %d); retry later", key, bound, flag, bound)
	case metricsFlag:
		msg = fmt.Sprintf("server busy: %d /metrics requests are in flight, the most this server answers at once (%s %d); retry later", bound, flag, bound)
	case metricsPerClientFlag:
		msg = fmt.Sprintf("too many /metrics requests in flight from your address (%s): at most %d at once (%s %d); retry later", key, bound, flag, bound)
	default:
		msg = fmt.Sprintf("too many requests in flight from your address (%s): at most %d at once (%s %d); read or cancel the answers you asked for, then retry", key, bound, flag, bound)
	}
	l.log.warn("refusing a request: "+flag+" reached; this is logged at most once a minute",
		"bound", flag, "max", bound, "client", ClientKey(r.RemoteAddr), "path", loggedPath(r.URL.Path))
	// A refusal nobody reads (a stream whose window the client keeps
	// shut) is reset after the grace instead of holding this goroutine.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(RefusalWriteGrace))
	if r.ProtoMajor < 2 {
		// An HTTP/1.1 connection ends with this answer: the handler never
		// ran, so the request's body is unread, and to take the
		// connection's next request net/http would first read up to 256
		// KiB of it, as slowly as the client sends it (up to
		// BodyReadTimeout). (The write deadline above does not stay on
		// the connection for its next requests, a watch among them:
		// net/http lifts it after each answer, TestAnswerTimeoutLiftedHTTP1.)
		w.Header().Set("Connection", "close")
	}
	w.Header().Set("Retry-After", "1")
	w.Header().Set(BusyKey, flag)
	writeResourceExhausted(w, r, msg)
}

// busy marks err, a refusal by the bound named flag, with BusyKey.
func busy(err *connect.Error, flag string) *connect.Error {
	err.Meta().Set(BusyKey, flag)
	return err
}

// writeResourceExhausted answers r with a resource_exhausted error
// carrying msg in r's protocol. Connect's streaming and gRPC clients take
// the code from the answer's HTTP status only when it is not 200: a 503
// with a JSON body reached a watch or log query of the Go client as
// unavailable "HTTP status 503 Service Unavailable", without the bound
// or its flag, and Watch retried it as a broken stream until its
// reconnections ran out (TestLimitRequestsStreamRefusal). So a Connect
// stream gets its end-of-stream message and a gRPC (or gRPC-Web) call a
// trailers-only answer, both with status 200 as those protocols require;
// anything else (Connect unary calls, /metrics, /healthz, the inspector)
// gets 503 with the Connect JSON error, which Connect's unary clients
// decode as resource_exhausted.
func writeResourceExhausted(w http.ResponseWriter, r *http.Request, msg string) {
	ct := r.Header.Get("Content-Type")
	lct := strings.ToLower(ct)
	switch {
	case strings.HasPrefix(lct, "application/connect+"):
		end, _ := json.Marshal(struct {
			Error wireError `json:"error"`
		}{wireError{"resource_exhausted", msg}})
		frame := make([]byte, 5, 5+len(end))
		frame[0] = 0x02 // end of stream, uncompressed
		binary.BigEndian.PutUint32(frame[1:], uint32(len(end)))
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(append(frame, end...))
	case strings.HasPrefix(lct, "application/grpc"):
		// Trailers-only: the status goes in the answer's only header
		// block, for gRPC and gRPC-Web alike.
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Grpc-Status", "8") // RESOURCE_EXHAUSTED
		w.Header().Set("Grpc-Message", grpcPercentEncode(msg))
		w.WriteHeader(http.StatusOK)
	default:
		body, _ := json.Marshal(wireError{"resource_exhausted", msg})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(body)
	}
}

// wireError is a Connect error as JSON.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// grpcPercentEncode encodes msg for a grpc-message header: bytes outside
// printable ASCII, and '%', as %XX.
func grpcPercentEncode(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// loggedPath is a request's path for the log, cut to 256 bytes: it is
// the client's, up to the header's 64 KiB.
func loggedPath(p string) string {
	if len(p) <= 256 {
		return p
	}
	return fmt.Sprintf("%s… (%d bytes in all)", strings.ToValidUTF8(p[:256], ""), len(p))
}

// refusalLog logs refusals at Warn, at most one line per every, with
// the count of those not logged since the last one.
type refusalLog struct {
	log   *slog.Logger
	every time.Duration

	mu       sync.Mutex
	loggedAt time.Time
	unlogged int
}

func (l *refusalLog) warn(msg string, attrs ...any) {
	l.mu.Lock()
	now := time.Now()
	if !l.loggedAt.IsZero() && now.Sub(l.loggedAt) < l.every {
		l.unlogged++
		l.mu.Unlock()
		return
	}
	l.loggedAt = now
	unlogged := l.unlogged
	l.unlogged = 0
	l.mu.Unlock()
	l.log.Warn(msg, append(attrs, "refused_unlogged", unlogged)...)
}
