// Package ctxarg refuses a nil context.Context at the top of the exported
// functions of package mmsb, package tick and the Go client (package
// client): one check, one message. A nil context panicked deep inside most
// of them (ctx.Done on nil) and was taken as "no deadline" by a few.
package ctxarg

import (
	"context"
	"fmt"
)

// Check returns nil for a non-nil ctx, else invalid (the caller's
// ErrInvalidOption) wrapped with a message naming ctx and fn, the function
// called ("Bus.Commit", "Client.Commit").
func Check(ctx context.Context, fn string, invalid error) error {
	if ctx == nil {
		return fmt.Errorf("%w: %s: ctx is nil (use context.Background())", invalid, fn)
	}
	return nil
}
