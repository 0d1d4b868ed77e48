package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// docSnippet returns the first code block of language lang in the section
// of docs/bindings.md headed heading ("### C"), as a program: its
// #include lines, then the rest as the body of main.
func docSnippet(t *testing.T, heading, lang string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "bindings.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(doc), "\n")
	start := -1
	for i, l := range lines {
		if l == heading {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatalf("docs/bindings.md has no heading %q", heading)
	}
	var includes, body []string
	in := false
	for _, l := range lines[start+1:] {
		switch {
		case !in && l == "```"+lang:
			in = true
		case !in && strings.HasPrefix(l, "#"):
			t.Fatalf("docs/bindings.md: no ```%s block under %q", lang, heading)
		case in && l == "```":
			return strings.Join(includes, "\n") + "\n#include <stdio.h>\nint main(void) {\n" +
				strings.Join(body, "\n") + "\nreturn 0;\n}\n"
		case in && strings.HasPrefix(l, "#include"):
			includes = append(includes, l)
		case in:
			body = append(body, l)
		}
	}
	t.Fatalf("docs/bindings.md: the ```%s block under %q does not end", lang, heading)
	return ""
}

// TestDocSnippets compiles the C reader's and the C++ writer's snippets
// of docs/bindings.md as a reader pastes them (wrapped in main) with
// -Wall -Wextra -Werror, and runs them: the C one against a shared
// writer in this process that commits meanwhile (its bus directory in
// place of /data/bus), the C++ one in a fresh directory. Before, the C++
// snippet did not compile (pages, offsets and data_bytes were never
// declared), and the C one waited from info.lsn, which a failed read
// leaves unwritten.
func TestDocSnippets(t *testing.T) {
	lookPath(t, "gcc")
	lookPath(t, "g++")
	if st, err := os.Stat(mmsb.DefaultSharedDir); err != nil || !st.IsDir() {
		testutil.Missing(t, "no %s: the C snippet reads the default shared directory", mmsb.DefaultSharedDir)
	}
	lib := buildLibrary(t)
	tmp := t.TempDir()
	// flags go before the source, libs after it (the linker resolves in order).
	compile := func(compiler, name, src string, flags, libs []string) string {
		t.Helper()
		file := filepath.Join(tmp, name)
		if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		exe := strings.TrimSuffix(file, filepath.Ext(file))
		args := append([]string{"-Wall", "-Wextra", "-Werror"}, flags...)
		args = append(args, "-I.", "-I"+filepath.Join("..", "cpp"), "-o", exe, file)
		args = append(args, libs...)
		if out, err := exec.Command(compiler, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s\n%s", compiler, strings.Join(args, " "), err, out, src)
		}
		return exe
	}

	t.Run("C reader", func(t *testing.T) {
		dir := t.TempDir()
		b, err := mmsb.Open(dir, &mmsb.Options{Shared: true, Sync: mmsb.SyncNone})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ctx := context.Background()
		id, err := b.CreatePage(ctx, mmsb.PageSpec{Size: 64})
		if err != nil || id != 1 {
			t.Fatalf("create page: %d, %v; want page 1", id, err)
		}
		src := docSnippet(t, "### C", "c")
		if !strings.Contains(src, `"/data/bus"`) {
			t.Fatalf("the C snippet does not open /data/bus:\n%s", src)
		}
		exe := compile("gcc", "reader_snippet.c", strings.Replace(src, `"/data/bus"`, strconvQuote(dir), 1),
			[]string{"-std=c99", "-D_DEFAULT_SOURCE"}, nil)
		// Commits until the program ends, so that its wait of 1 s sees one.
		done := make(chan struct{})
		committed := make(chan error, 1)
		go func() {
			var err error
			defer func() { committed <- err }()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
				}
				if _, err = b.Commit(ctx, []delta.Delta{{Page: id, Runs: []delta.Run{{Offset: 0, Data: []byte{byte(i)}}}}}); err != nil {
					return
				}
			}
		}()
		out, err := exec.Command(exe).CombinedOutput()
		close(done)
		if cerr := <-committed; cerr != nil {
			t.Fatalf("writer: %v", cerr)
		}
		if err != nil {
			t.Fatalf("C snippet: %v\n%s", err, out)
		}
		for _, want := range []string{"page 1: 64 bytes, epoch ", "next commit: LSN "} {
			if !strings.Contains(string(out), want) {
				t.Errorf("C snippet printed:\n%s\nwant a line with %q", out, want)
			}
		}
	})

	t.Run("C metadata", func(t *testing.T) {
		exe := compile("gcc", "meta_snippet.c", docSnippet(t, "#### Page metadata (ABI 1.2)", "c"),
			[]string{"-std=c99"}, []string{"-L" + lib, "-lmmsb", "-Wl,-rpath," + lib, "-pthread"})
		cmd := exec.Command(exe)
		cmd.Dir = t.TempDir() // the snippet opens ./data
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("C metadata snippet: %v\n%s", err, out)
		}
		if want := "example=my counters\nmmsb.type=i64\n"; string(out) != want {
			t.Fatalf("C metadata snippet printed %q, want %q", out, want)
		}
	})

	t.Run("C++ writer", func(t *testing.T) {
		exe := compile("g++", "writer_snippet.cpp", docSnippet(t, "### C++", "cpp"),
			[]string{"-std=c++20"}, []string{"-L" + lib, "-lmmsb", "-Wl,-rpath," + lib, "-pthread"})
		cmd := exec.Command(exe)
		cmd.Dir = t.TempDir() // the snippet opens ./data
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("C++ snippet: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(cmd.Dir, "data")); err != nil {
			t.Fatalf("the C++ snippet made no bus in ./data: %v", err)
		}
	})
}

// strconvQuote quotes a path as a C string literal (the test's paths hold
// no quote, backslash or control character; refused if they do).
func strconvQuote(s string) string {
	if strings.ContainsAny(s, "\"\\\n\r\t") {
		panic("path needs escaping in C: " + s)
	}
	return `"` + s + `"`
}
