package server

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"testing"
)

// TestTokenCompareHidesLength: subtle.ConstantTimeCompare returns at once
// when its inputs differ in length, so comparing the presented token with
// the configured ones directly let the time of a refusal tell an attacker
// each token's length. Every comparison must be of inputs of one fixed
// size (digests), whatever was presented.
func TestTokenCompareHidesLength(t *testing.T) {
	const short, long = "read-token-0123456789", "admin-token-0123456789abcdefghij"
	a := NewAuth([]Token{{Role: RoleRead, Value: short}, {Role: RoleAdmin, Value: long}})
	var sizes []int
	compareTokens = func(x, y []byte) int {
		if len(x) != len(y) {
			t.Errorf("compared inputs of %d and %d bytes: the early return on a length mismatch reveals the token's length", len(x), len(y))
		}
		sizes = append(sizes, len(x))
		return subtle.ConstantTimeCompare(x, y)
	}
	t.Cleanup(func() { compareTokens = subtle.ConstantTimeCompare })
	for _, presented := range []string{"x", short, long, short[:len(short)-1], long + "x", strings.Repeat("z", 300)} {
		sizes = sizes[:0]
		h := http.Header{"Authorization": {"Bearer " + presented}}
		_, _ = a.roleOf(context.Background(), h)
		if len(sizes) != 2 {
			t.Fatalf("token of %d bytes: %d comparisons, want one per configured token (2)", len(presented), len(sizes))
		}
		if sizes[0] != sizes[1] {
			t.Fatalf("token of %d bytes compared as %v bytes: the sizes differ per configured token", len(presented), sizes)
		}
	}
}
