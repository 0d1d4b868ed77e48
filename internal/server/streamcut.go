package server

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// StreamEndGrace is how long a cut stream (StreamCut.Cut) may still
// write its end, and whatever it was sending, before its writes fail: a
// client reading its stream takes its end in far less; one that stopped
// reading would otherwise hold its stream, and the HTTP server's shutdown
// with it, until --shutdown-timeout, as a watch never ends by itself and
// a stream blocked writing does not see its context end either.
const StreamEndGrace = time.Second

// StreamCut ends the stream requests a handler serves (Track) when its
// owner shuts down (Cut). A stream blocked in a write does not see the
// owner stop or its context end (it waits for the client's flow-control
// window, or the socket's buffer): until 2026-12-06 one such watch held
// `mmsb serve`'s shutdown to its whole --shutdown-timeout
// (TestShutdownCutsStalledWatch), and until 2026-12-06 one such QueryLog
// did (TestShutdownCutsStalledQueryLog), as did a stream of the
// inspector's (TestCloseCutsStalledStream). The zero value is ready.
type StreamCut struct {
	mu    sync.Mutex
	open  map[*http.ResponseController]context.CancelCauseFunc
	cut   bool
	cause error
}

// Track returns h registering each request to one of paths (its writer
// and a context Cut can cancel) for the time it is served, its end
// included; other requests pass through.
func (c *StreamCut) Track(h http.Handler, paths ...string) http.Handler {
	tracked := make(map[string]bool, len(paths))
	for _, p := range paths {
		tracked[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tracked[r.URL.Path] {
			h.ServeHTTP(w, r)
			return
		}
		// A stream: NewHTTPServer's answer deadline is not for it.
		exemptAnswer(r.Context())
		rc := http.NewResponseController(w)
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		c.mu.Lock()
		if c.cut {
			c.cutOne(rc, cancel, time.Now().Add(StreamEndGrace))
		}
		if c.open == nil {
			c.open = make(map[*http.ResponseController]context.CancelCauseFunc)
		}
		c.open[rc] = cancel
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			delete(c.open, rc)
			c.mu.Unlock()
		}()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Cut gives every tracked stream being served, and any that starts
// later, a write deadline StreamEndGrace away, so that a blocked write
// fails (the stream is reset, or its HTTP/1.1 connection closed) and the
// handler returns; with a cause, it also cancels their contexts with it
// (context.Cause then says why). A writer that cannot take a deadline
// (not an HTTP server's) is left to its context.
func (c *StreamCut) Cut(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut, c.cause = true, cause
	deadline := time.Now().Add(StreamEndGrace)
	for rc, cancel := range c.open {
		c.cutOne(rc, cancel, deadline)
	}
}

// cutOne cuts one stream. Caller holds c.mu.
func (c *StreamCut) cutOne(rc *http.ResponseController, cancel context.CancelCauseFunc, deadline time.Time) {
	if c.cause != nil {
		cancel(c.cause)
	}
	_ = rc.SetWriteDeadline(deadline)
}
