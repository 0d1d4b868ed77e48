package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestServeDemo runs `mmsb serve --demo`: the inspector is at /ui/ (and /
// redirects there), the demo bus has its pages and derived pages, and the
// ticking writer moves the committed LSN without anyone doing anything.
func TestServeDemo(t *testing.T) {
	var stdout, stderr syncText
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"serve", "--demo", "--addr", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if code := testutil.Recv(t, exited, "serve --demo did not exit after its interrupt"); code != 0 {
			t.Errorf("serve --demo exited %d:\n%s", code, stderr.String())
		}
	}()
	addrRe := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == ""; time.Sleep(5 * time.Millisecond) {
		if m := addrRe.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo did not start:\n%s", stderr.String())
		}
	}
	// The log names the demo's tick period (it said ticks=0s).
	if !strings.Contains(stderr.String(), "ticks=100ms") {
		t.Errorf("serve --demo's log does not name its tick period, 100ms:\n%s", stderr.String())
	}
	base := "http://" + addr
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/ui/" || !strings.Contains(string(page), "MMSB inspector") {
		t.Fatalf("GET / ended at %s with %.200q, want the inspector at /ui/", resp.Request.URL.Path, page)
	}
	call := func(method, body string) map[string]any {
		t.Helper()
		resp, err := http.Post(base+"/mmsb.inspector.v1.InspectorService/"+method, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d, %v %v", method, resp.StatusCode, out, err)
		}
		return out
	}
	num := func(v any) uint64 {
		s, _ := v.(string) // protojson writes 64-bit integers as strings
		n, _ := strconv.ParseUint(s, 10, 64)
		return n
	}
	ov := call("Overview", `{}`)
	if num(ov["pages"]) != 310 || num(ov["bindings"]) != 37 || ov["ticking"] != true {
		t.Fatalf("demo overview: %v; want 310 pages, 37 bindings, ticking", ov)
	}
	first := num(ov["committedLsn"])
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if lsn := num(call("Overview", `{}`)["committedLsn"]); lsn > first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo writer committed nothing after LSN %d", first)
		}
	}
	if rows := call("ListPages", `{"search":"derived","limit":100}`)["rows"].([]any); len(rows) != 37 {
		t.Errorf("derived pages listed: %d, want 37", len(rows))
	}
}

func TestServeDemoRefusesDir(t *testing.T) {
	var stdout, stderr syncText
	if code := run(context.Background(), []string{"serve", "--demo", "--dir", t.TempDir(), "--addr", "127.0.0.1:0"}, &stdout, &stderr); code == 0 {
		t.Fatal("serve --demo --dir succeeded")
	}
	if !strings.Contains(stderr.String(), "--demo") {
		t.Errorf("the refusal does not name --demo: %s", stderr.String())
	}
}
