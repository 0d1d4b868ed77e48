package server

import (
	"io"
	"log/slog"
	"net/http"
	"time"
)

// NewHTTPServerBodyTimeout is NewHTTPServer with bodyTimeout in place of
// BodyReadTimeout.
func NewHTTPServerBodyTimeout(handler http.Handler, bodyTimeout time.Duration) *http.Server {
	return newHTTPServer(handler, 0, slog.New(slog.NewTextHandler(io.Discard, nil)), bodyTimeout, DefaultAnswerTimeout)
}

// NewHTTPServerAnswerTimeout is NewHTTPServer with answerTimeout in place
// of DefaultAnswerTimeout.
func NewHTTPServerAnswerTimeout(handler http.Handler, answerTimeout time.Duration) *http.Server {
	return newHTTPServer(handler, 0, slog.New(slog.NewTextHandler(io.Discard, nil)), BodyReadTimeout, answerTimeout)
}

// ErrorLogSuppressed returns how many lines of its own log the HTTP
// server NewHTTPServer made has dropped since the last one it wrote.
func ErrorLogSuppressed(hs *http.Server) int {
	l := hs.ErrorLog.Writer().(*limitedLog)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.suppressed
}
