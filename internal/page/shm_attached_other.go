//go:build !linux

package page

import (
	"errors"
	"fmt"
)

// ProcessesMapping needs /proc (Linux); elsewhere it reports
// errors.ErrUnsupported.
func ProcessesMapping(path string, _ int) (int, error) {
	return 0, fmt.Errorf("count processes mapping %s: %w", path, errors.ErrUnsupported)
}
