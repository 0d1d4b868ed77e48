package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// StalledStream starts a Connect streaming call (procedure path, request
// body in JSON) on the server at baseURL over proto ("HTTP/1.1" or
// "HTTP/2 cleartext") and never reads its answer: once the socket's
// buffers (HTTP/1.1) or the stream's flow-control window (HTTP/2) are
// full, the server's handler blocks in a write, where it sees neither its
// context end nor its owner stop. The tests of what a shutdown does with
// such a client share it. With waitStatus an HTTP/1.1 call returns once
// the status line arrived (the handler runs and has sent); an HTTP/2 call
// always waits for the response's headers. Close the result to let go.
func StalledStream(t testing.TB, baseURL, path string, body []byte, proto string, waitStatus bool) io.Closer {
	t.Helper()
	env := append([]byte{0, 0, 0, 0, byte(len(body))}, body...) // one uncompressed Connect envelope (len(body) < 256)
	if proto == "HTTP/1.1" {
		addr := strings.TrimPrefix(baseURL, "http://")
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).SetReadBuffer(4096) // far less than any answer these tests provoke
		if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/connect+json\r\nContent-Length: %d\r\n\r\n%s", path, addr, len(env), env); err != nil {
			t.Fatal(err)
		}
		if waitStatus {
			status, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || !strings.Contains(status, "200") {
				t.Fatalf("%s over HTTP/1.1: %q, %v", path, status, err)
			}
		}
		return conn
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &p}}
	resp, err := hc.Post(baseURL+path, "application/connect+json", bytes.NewReader(env))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Fatalf("%s over HTTP/2: %s %s", path, resp.Proto, resp.Status)
	}
	return resp.Body // never read
}
