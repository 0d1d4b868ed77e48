package inspector_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestCutEnvelopeRefused: a request to the inspector's service whose
// body ends inside an envelope (part of its 5-byte prefix, or of the
// message it announced) is the client's error: over gRPC-Web and
// Connect's streaming protocol it is answered invalid_argument naming
// server.ErrCutEnvelope, as the bus's service answers it, and a whole
// empty message is served. Control: without server.CutEnvelopes in
// ServiceHandler, Connect's envelope reader answered internal
// ("protocol error: promised 10 bytes in enveloped message, got 3
// bytes").
func TestCutEnvelopeRefused(t *testing.T) {
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	_, _, base := serveInspector(t, inspector.Options{Bus: bus})
	cutMessage := append(binary.BigEndian.AppendUint32([]byte{0}, 10), 1, 2, 3)
	cutPrefix := []byte{0, 0, 0}
	whole := binary.BigEndian.AppendUint32([]byte{0}, 0)
	call := func(proc, ct string, body []byte) string {
		resp, err := http.Post(base+"/mmsb.inspector.v1.InspectorService/"+proc, ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		msg, _ := url.PathUnescape(resp.Header.Get("Grpc-Message"))
		return resp.Header.Get("Grpc-Status") + " " + msg + " " + string(answer)
	}
	want := map[string]string{"application/grpc-web+proto": "grpc-status:3", "application/connect+proto": `"code":"invalid_argument"`}
	for _, c := range []struct{ proc, ct string }{
		{"Overview", "application/grpc-web+proto"},
		{"QueryLog", "application/grpc-web+proto"},
		{"QueryLog", "application/connect+proto"},
	} {
		for name, body := range map[string][]byte{"cut message": cutMessage, "cut prefix": cutPrefix} {
			all := call(c.proc, c.ct, body)
			flat := strings.ReplaceAll(strings.ToLower(all), " ", "")
			refused := strings.HasPrefix(all, "3 ") || strings.Contains(flat, want[c.ct]) // in the headers or the body
			if !refused || !strings.Contains(all, server.ErrCutEnvelope.Error()) {
				t.Errorf("%s as %s, %s: %q; want invalid_argument naming %v", c.proc, c.ct, name, all, server.ErrCutEnvelope)
			}
		}
	}
	if all := call("Overview", "application/grpc-web+proto", whole); !strings.Contains(strings.ReplaceAll(strings.ToLower(all), " ", ""), "grpc-status:0") {
		t.Errorf("a whole empty Overview over gRPC-Web: %q; want it served", all)
	}
}
