package inspector_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// The browser harness: a headless Chromium (Debian's chromium package)
// driven by chromedp, a collector of console errors and uncaught
// exceptions that fails the test on any, DOM polling with a bounded wait
// (never a timing assertion), and screenshots of each view.

// pollTimeout bounds every wait for the DOM to reach a state. It is a
// deadline for a condition, not a speed assertion: a loaded 2-core machine
// passes as long as the condition becomes true at all.
const pollTimeout = 30 * time.Second

// findChromium returns the browser to drive, or reports it missing (a skip,
// or a failure under MMSB_REQUIRE_EXTERNAL=1).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testutil.Missing(t, "chromium not found (apt-get install chromium): the inspector's browser tests need it")
	return ""
}

// browser is one headless Chromium process; tabs share it.
type browser struct {
	ctx context.Context // the allocator's context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := findChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		// The test machines have no outside network: without these
		// Chromium keeps trying to reach Google services.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 860),
	}
	ctx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return &browser{ctx: ctx}
}

// openTab starts a browser, opens a tab in it and loads url there: the
// start of most browser tests.
func openTab(t *testing.T, url string) *tab {
	t.Helper()
	tb := newBrowser(t).newTab(t)
	tb.open(url)
	return tb
}

// tab is one browser tab with its console collector.
type tab struct {
	t       *testing.T
	ctx     context.Context
	console *consoleLog
	shots   string
}

// consoleLog collects what a page reports as an error: console.error and
// console.assert calls, uncaught exceptions, and error entries of the log
// domain (failed resource loads, CSP and network errors).
type consoleLog struct {
	mu       sync.Mutex
	problems []string
}

func (c *consoleLog) add(s string) {
	c.mu.Lock()
	c.problems = append(c.problems, s)
	c.mu.Unlock()
}

// take returns the problems collected so far and forgets them.
func (c *consoleLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.problems
	c.problems = nil
	return p
}

func (c *consoleLog) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Description != "" {
				parts = append(parts, a.Description)
			} else {
				parts = append(parts, string(a.Value))
			}
		}
		c.add("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		c.add(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			c.add(fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

func (b *browser) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	c := &consoleLog{}
	if err := chromedp.Listen(ctx, c.listen); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, struct{}{}); err != nil {
		t.Fatalf("enabling the log domain: %v", err)
	}
	return &tab{t: t, ctx: ctx, console: c, shots: screenshotDir(t)}
}

// screenshotDir is $MMSB_SCREENSHOT_DIR when set (kept after the test),
// else a temporary folder.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("MMSB_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// with returns the tab reporting to t (a subtest).
func (tb *tab) with(t *testing.T) *tab {
	c := *tb
	c.t = t
	return &c
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.fail("%v", err)
	}
}

// fail ends the test with the page's text, to show what the browser saw.
func (tb *tab) fail(format string, args ...any) {
	tb.t.Helper()
	body, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ""`))
	tb.screenshot("failure-" + strings.ReplaceAll(tb.t.Name(), "/", "_"))
	tb.t.Fatalf(format+"\npage text:\n%s\nconsole problems: %q", append(args, body, tb.console.take())...)
}

func (tb *tab) open(url string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(url))
}

// route changes the inspector's view (the hash) without reloading the page.
func (tb *tab) route(hash string) {
	tb.t.Helper()
	tb.eval(fmt.Sprintf(`location.hash = %q; true`, hash))
}

// waitFor polls a JavaScript predicate until it is truthy. A predicate
// that throws (an element not there yet) counts as false.
func (tb *tab) waitFor(what, predicate string) {
	tb.t.Helper()
	predicate = "(() => { try { return !!(" + predicate + "); } catch (e) { return false; } })()"
	ctx, cancel := context.WithTimeout(tb.ctx, pollTimeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(pollTimeout), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		tb.fail("waiting for %s (%s): %v", what, predicate, err)
	}
}

func (tb *tab) eval(expr string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[any](expr)); err != nil {
		tb.fail("evaluating %s: %v", expr, err)
	}
}

func evalTo[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.fail("evaluating %s: %v", expr, err)
	}
	return v
}

func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(tb.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", path)
}

// checkConsole fails t if the page reported any error (allow: substrings
// of problems that the test expects, such as the 401s of a wrong token).
func (tb *tab) checkConsole(t testing.TB, view string, allow ...string) {
	t.Helper()
	for _, p := range tb.console.take() {
		allowed := false
		for _, a := range allow {
			allowed = allowed || strings.Contains(p, a)
		}
		if !allowed {
			t.Errorf("%s view: the page reported an error: %s", view, p)
		}
	}
}

// testid builds a CSS selector for a data-testid.
func testid(id string) string { return fmt.Sprintf(`[data-testid=%q]`, id) }

// jsQuery is document.querySelector for a data-testid, as JavaScript.
func jsQuery(id string) string { return fmt.Sprintf("document.querySelector('[data-testid=%q]')", id) }

func jsCount(sel string) string { return fmt.Sprintf("document.querySelectorAll(%q).length", sel) }

// staticServer serves one HTML page (for the harness's own tests).
func staticServer(t *testing.T, html string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(html))
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}
