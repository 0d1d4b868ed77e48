package replicate

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mmsb-go/mmsb/vfs"
)

// termFile is the file in a node's bus directory that keeps the highest
// leader term the node saw (Node.termSeen) across restarts. It stays when
// the bus files are set aside: the term belongs to the node's view of the
// stream, not to the local state.
const termFile = "replicate-term"

// ErrTermFile is returned when the term file exists but does not say which
// term the node saw. The node refuses to start rather than forget it (it
// could lead a term that followers already passed); the file is written
// whole or not at all, so this is damage, not a crash mid-write.
var ErrTermFile = errors.New("replicate: unreadable term file")

// ErrTermsExhausted is returned when a node would lead the term after
// 2^64-1: the next one would wrap to 0, below every term followers
// applied (they refuse its records as ErrStaleTerm) and reusing message
// IDs. Such a term comes only from a damaged or hostile stream header or
// term file; the node stops (an operator decides) instead of leading.
var ErrTermsExhausted = errors.New("replicate: no leader term left")

// nextTerm returns the term after term, or ErrTermsExhausted.
func nextTerm(term uint64) (uint64, error) {
	if term == math.MaxUint64 {
		return 0, fmt.Errorf("%w: the highest term seen is %d, the largest a term can be", ErrTermsExhausted, term)
	}
	return term + 1, nil
}

// loadTerm reads the term saved for stream (Node.streamID) in dir: 0 when
// there is no file or it belongs to another stream (one deleted and made
// again).
func loadTerm(dir, stream string) (uint64, error) {
	path := filepath.Join(dir, termFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("replicate: read %s: %w", path, err)
	}
	return parseTerm(b, path, stream)
}

// termLine is the term file's content for stream and term, as saveTerm
// writes it and parseTerm reads it.
func termLine(stream string, term uint64) []byte {
	return []byte(stream + " " + strconv.FormatUint(term, 10) + "\n")
}

// parseTerm reads a term file's bytes b (path names it in errors) for
// stream, as loadTerm describes.
func parseTerm(b []byte, path, stream string) (uint64, error) {
	id, num, ok := strings.Cut(strings.TrimSuffix(string(b), "\n"), " ")
	term, perr := strconv.ParseUint(num, 10, 64)
	if !ok || id == "" || perr != nil || term == 0 {
		// Quote a bounded head: a damaged file may be large.
		head, more := b, ""
		if len(head) > 80 {
			head, more = head[:80], fmt.Sprintf(" (first 80 of %d bytes)", len(b))
		}
		return 0, fmt.Errorf("%w: %s holds %q%s (want \"<stream>@<created> <term>\")", ErrTermFile, path, head, more)
	}
	if id != stream {
		return 0, nil
	}
	return term, nil
}

// saveTerm writes term for stream to dir's term file through
// vfs.ReplaceFile: a temporary file, synced, renamed over the old one, and
// the directory synced. Whatever is at the temporary name is removed
// first: os.WriteFile, used before, followed a symbolic link there and
// wrote the term into its target, and left the temporary file behind
// when a later step failed (TestSaveTermReplacesSafely).
func saveTerm(dir, stream string, term uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("replicate: save term %d: %w", term, err)
	}
	path := filepath.Join(dir, termFile)
	if _, err := vfs.ReplaceFile(vfs.Default, path, path+".tmp", func(f vfs.File) error {
		_, err := f.Write(termLine(stream, term))
		return err
	}); err != nil {
		return fmt.Errorf("replicate: save term %d: %w", term, err)
	}
	return nil
}
