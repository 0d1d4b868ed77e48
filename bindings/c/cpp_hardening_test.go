package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// These tests run bindings/cpp/test/hardening_test.cpp (misuse of the C++
// wrapper a caller can reach, and mmsb::failed naming the pages of a
// create_pages that failed after logging) and a program generated from
// mmsb.h's status codes that throws each through mmsb::throw_status.

// errCPPRun is wrapped by every failed compile or run of a C++ program.
var errCPPRun = errors.New("bindings: C++ test program failed")

// cppFlavors are the builds every C++ program of this file is tried in.
var cppFlavors = []struct {
	name  string
	flags []string
}{
	{"plain", []string{"-std=c++20", "-O2"}},
	{"sanitized", append([]string{"-std=c++20"}, sanitizers...)},
}

// compileCPP compiles src with g++ against the library in lib; include
// directories in flags come before bindings/c and bindings/cpp.
func compileCPP(t *testing.T, src, lib string, flags []string) (string, error) {
	t.Helper()
	exe := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)))
	args := append([]string{"-Wall", "-Wextra", "-Werror"}, flags...)
	args = append(args, "-I.", "-I"+filepath.Join("..", "cpp"), "-o", exe, src,
		"-L"+lib, "-lmmsb", "-Wl,-rpath,"+lib, "-pthread")
	if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: g++ %s: %w\n%s", errCPPRun, strings.Join(args, " "), err, out)
	}
	return exe, nil
}

// runCPP runs exe with args and returns its output; it is an error when
// the program exits non-zero or prints neither okLine nor a skip line.
func runCPP(exe, okLine string, args ...string) (string, error) {
	out, err := exec.Command(exe, args...).CombinedOutput()
	switch {
	case err != nil:
		return string(out), fmt.Errorf("%w: %s %v: %w", errCPPRun, filepath.Base(exe), args, err)
	case !bytes.Contains(out, []byte(okLine+"\n")) && !bytes.Contains(out, []byte(": skip: ")):
		return string(out), fmt.Errorf("%w: %s %v exited 0 without %q", errCPPRun, filepath.Base(exe), args, okLine)
	}
	return string(out), nil
}

// TestCPPHardening: misuse of mmsb.hpp throws a named exception (page
// sizes above 4 GiB, moved-from and closed buses, spans of the wrong
// size), the reader's codes are named, and create_pages on a bus whose
// fsync fails (a seccomp filter in the child process) throws mmsb::failed
// naming the pages it created (sync group), or none when they were not
// created (sync always, the control).
func TestCPPHardening(t *testing.T) {
	lookPath(t, "g++")
	lib := buildLibrary(t)
	src, err := filepath.Abs(filepath.Join("..", "cpp", "test", "hardening_test.cpp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range cppFlavors {
		t.Run(fl.name, func(t *testing.T) {
			exe, err := compileCPP(t, src, lib, fl.flags)
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range [][]string{nil, {"fail-fsync", "group"}, {"fail-fsync", "always"}} {
				name := "misuse"
				if mode != nil {
					name = strings.Join(mode, "-")
				}
				t.Run(name, func(t *testing.T) {
					out, err := runCPP(exe, "hardening_test: ok", append([]string{t.TempDir()}, mode...)...)
					if err != nil {
						t.Fatalf("%v\n%s", err, out)
					}
					if strings.Contains(out, ": skip: ") {
						testutil.Missing(t, "%s", strings.TrimSpace(out))
					}
					t.Log(strings.TrimSpace(out))
				})
			}
		})
	}
}

// statusCodeRE matches the status codes of mmsb.h's enum.
var statusCodeRE = regexp.MustCompile(`(?m)^\s*(MMSB_ERR_\w+) = \d+`)

// everyCodeProgram is a C++ program that throws every code of mmsb.h
// through mmsb::throw_status and fails unless each comes back as its own
// subclass of mmsb::error (not the bare base, not a class another code
// throws), with that code and its name.
func everyCodeProgram(t *testing.T) string {
	t.Helper()
	hdr, err := os.ReadFile("mmsb.h")
	if err != nil {
		t.Fatal(err)
	}
	codes := statusCodeRE.FindAllStringSubmatch(string(hdr), -1)
	if len(codes) < 30 {
		t.Fatalf("found only %d MMSB_ERR_ codes in mmsb.h", len(codes))
	}
	var src strings.Builder
	src.WriteString(`#include <cstdio>
#include <cstring>
#include <typeinfo>
#include <vector>
#include "mmsb.hpp"
struct code { int value; const char *name; };
static const code codes[] = {
`)
	for _, c := range codes {
		fmt.Fprintf(&src, "    {%s, %q},\n", c[1], c[1])
	}
	src.WriteString(`};
int main() {
    int bad = 0;
    std::vector<const std::type_info *> seen;
    for (const code &c : codes) {
        try {
            mmsb::throw_status(c.value);
        } catch (const mmsb::error &e) {
            if (typeid(e) == typeid(mmsb::error)) {
                std::printf("%s: thrown as the bare mmsb::error\n", c.name);
                bad++;
            }
            if (e.code() != c.value || std::strcmp(e.code_name(), c.name) != 0) {
                std::printf("%s: code %d (%s)\n", c.name, e.code(), e.code_name());
                bad++;
            }
            for (const std::type_info *ti : seen)
                if (*ti == typeid(e) && typeid(e) != typeid(mmsb::error)) {
                    std::printf("%s: class %s is thrown for another code too\n", c.name, typeid(e).name());
                    bad++;
                }
            seen.push_back(&typeid(e));
        }
    }
    if (bad) return 1;
    std::printf("every code: ok\n");
    return 0;
}
`)
	return src.String()
}

// runEveryCode compiles and runs everyCodeProgram against the mmsb.hpp in
// hppDir ("": bindings/cpp's).
func runEveryCode(t *testing.T, lib, hppDir string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "every_code.cpp")
	if err := os.WriteFile(src, []byte(everyCodeProgram(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-std=c++20", "-O1"}
	if hppDir != "" {
		flags = append(flags, "-I"+hppDir)
	}
	exe, err := compileCPP(t, src, lib, flags)
	if err != nil {
		return "", err
	}
	return runCPP(exe, "every code: ok")
}

// TestCPPThrowsEveryCode: each MMSB_ERR_ code of mmsb.h, thrown through
// mmsb::throw_status, is its own mmsb::error subclass with that code
// (TestEveryCodeNamedAndThrown reads the source; this runs it).
func TestCPPThrowsEveryCode(t *testing.T) {
	lookPath(t, "g++")
	lib := buildLibrary(t)
	if out, err := runEveryCode(t, lib, ""); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestCPPThrowsEveryCodeCatchesGaps is the negative control of
// TestCPPThrowsEveryCode: copies of mmsb.hpp with a case of throw_status
// removed (the code falls to the bare mmsb::error) or throwing another
// code's class fail the same program.
func TestCPPThrowsEveryCodeCatchesGaps(t *testing.T) {
	lookPath(t, "g++")
	lib := buildLibrary(t)
	hpp, err := os.ReadFile(filepath.Join("..", "cpp", "mmsb.hpp"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ old, new string }{
		"missing-case": {"    case MMSB_ERR_NO_SPACE: throw no_space(msg);\n", ""},
		"wrong-class":  {"case MMSB_ERR_BUSY: throw busy(msg);", "case MMSB_ERR_BUSY: throw locked(msg);"},
	} {
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(hpp, []byte(c.old)) {
				t.Fatalf("mmsb.hpp has no %q to change", c.old)
			}
			dir := t.TempDir()
			bad := bytes.Replace(hpp, []byte(c.old), []byte(c.new), 1)
			if err := os.WriteFile(filepath.Join(dir, "mmsb.hpp"), bad, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runEveryCode(t, lib, dir)
			if !errors.Is(err, errCPPRun) || !strings.Contains(out, "MMSB_ERR_") {
				t.Fatalf("a throw_status with a %s passed (%v):\n%s", name, err, out)
			}
			t.Log(strings.TrimSpace(out))
		})
	}
}
