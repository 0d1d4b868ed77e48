package server

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// tokenFileSeeds: a file of every role with comments and blank lines
// (which must parse: TestTokenFileSeedParses), and refused ones.
var tokenFileSeeds = []string{
	"# tokens\n\nread  r-7f3c0d2a9b8e4f61a5c3\nwrite w-1d9e8b7c6a5f4e3d2c1b\r\n  admin\ta-0a1b2c3d4e5f60718293  \n",
	"read short\n",
	"read r-7f3c0d2a9b8e4f61a5c3\nadmin r-7f3c0d2a9b8e4f61a5c3\n",
	"r-7f3c0d2a9b8e4f61a5c3 read\n",
	"read r-7f3c0d2a9b8e4f61\x01a5c3\n",
}

// FuzzTokenFile: any token file is refused with ErrTokenFile, without
// quoting any field long enough to be a token, or gives tokens that obey
// the documented rules (a role, MinTokenLength printable characters, no
// spaces, each once) and that, written back one "ROLE TOKEN" per line,
// parse to the same tokens.
func FuzzTokenFile(f *testing.F) {
	for _, s := range tokenFileSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := checkTokenFile(b); err != nil {
			t.Fatal(err)
		}
	})
}

func checkTokenFile(b []byte) error {
	toks, err := parseTokens(bytes.NewReader(b), "tokens")
	if err != nil {
		if !errors.Is(err, ErrTokenFile) {
			return fmt.Errorf("refusal does not wrap ErrTokenFile: %w", err)
		}
		for _, field := range strings.Fields(string(b)) {
			if len(field) >= MinTokenLength && strings.Contains(err.Error(), field) {
				return fmt.Errorf("error %q quotes the field %q", err.Error(), field)
			}
		}
		return nil
	}
	var again strings.Builder
	seen := map[string]bool{}
	for _, tok := range toks {
		if tok.Role < RoleRead || tok.Role > RoleAdmin {
			return fmt.Errorf("token with role %v", tok.Role)
		}
		if utf8.RuneCountInString(tok.Value) < MinTokenLength || !printable(tok.Value) ||
			strings.IndexFunc(tok.Value, unicode.IsSpace) >= 0 {
			return fmt.Errorf("accepted token %q", tok.Value)
		}
		if seen[tok.Value] {
			return fmt.Errorf("token %q accepted twice", tok.Value)
		}
		seen[tok.Value] = true
		again.WriteString(tok.Role.String() + " " + tok.Value + "\n")
	}
	back, err := parseTokens(strings.NewReader(again.String()), "tokens")
	if err != nil {
		return fmt.Errorf("tokens %v written back do not parse: %w", toks, err)
	}
	if !slices.Equal(back, toks) {
		return fmt.Errorf("tokens %v written back parse as %v", toks, back)
	}
	return nil
}

// TestTokenFileSeedParses is the fuzz target's negative control: its first
// seed parses (a parser that refused everything would pass the target),
// and the check catches a file whose token is not printable, which the
// parser accepted before.
func TestTokenFileSeedParses(t *testing.T) {
	toks, err := parseTokens(strings.NewReader(tokenFileSeeds[0]), "tokens")
	if err != nil || len(toks) != 3 || toks[2].Role != RoleAdmin || toks[2].Value != "a-0a1b2c3d4e5f60718293" {
		t.Fatalf("the valid seed: %v, %v", toks, err)
	}
	if err := checkTokenFile([]byte(tokenFileSeeds[0])); err != nil {
		t.Fatal(err)
	}
}
