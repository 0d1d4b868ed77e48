package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// watchEndGrace is how long Shutdown lets a watch stream write its
// resumable end (and whatever it was sending) before cutting it: a client
// reading its stream takes its end in far less; one that stopped reading
// would otherwise hold its stream, and the HTTP server's shutdown with it,
// until --shutdown-timeout, as a watch never ends by itself.
const watchEndGrace = time.Second

// watchStreams holds the response controllers of the Watch requests being
// served (trackWatches), so that Shutdown can cut those whose client
// stopped reading. A watch blocked in a write does not see the hub stop
// (it waits for the client's flow-control window, or the socket's
// buffer): until 2026-12-06 one such client held `mmsb serve`'s shutdown
// to its whole --shutdown-timeout (TestShutdownCutsStalledWatch).
type watchStreams struct {
	mu   sync.Mutex
	open map[*http.ResponseController]struct{}
	cut  bool // cutWatches ran: later requests get their deadline at once
}

// trackWatches registers each Watch request's writer for the time its
// handler (and Connect's writing of its end) runs.
func (s *Server) trackWatches(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != mmsbv1connect.BusServiceWatchProcedure {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		ws := &s.watchStreams
		ws.mu.Lock()
		if ws.cut {
			_ = rc.SetWriteDeadline(time.Now().Add(watchEndGrace))
		}
		if ws.open == nil {
			ws.open = make(map[*http.ResponseController]struct{})
		}
		ws.open[rc] = struct{}{}
		ws.mu.Unlock()
		defer func() {
			ws.mu.Lock()
			delete(ws.open, rc)
			ws.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// cutWatches gives every Watch stream being served, and any that starts
// later, a write deadline watchEndGrace away: a blocked write then
// fails (the stream is reset, or its HTTP/1.1 connection closed) and the
// handler returns. A writer that cannot take a deadline (not an HTTP
// server's) is left as it is.
func (s *Server) cutWatches() {
	ws := &s.watchStreams
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.cut = true
	deadline := time.Now().Add(watchEndGrace)
	for rc := range ws.open {
		_ = rc.SetWriteDeadline(deadline)
	}
}
