package tlog

import (
	"fmt"
	"path/filepath"

	"github.com/mmsb-go/mmsb/vfs"
)

// HoldsTornHeader reports whether the segment file at path holds only what
// a crash (or a failed write) leaves while its header is written: zero
// bytes, fewer bytes than a header that begin the one written for its
// name, or zeros. Such a segment holds no record: recovery, when it is the
// log's last, replaces it with a whole one or removes it. A reader of the log
// (NewReader) meets it as a damaged header; one that must know whether
// the log holds a record (the bus's DisableLog Open) asks this for the
// last segment. A segment the newest-segment file of its directory names
// had its header durable, so it holds no crash's torn header: false
// (NamedHeaderTorn).
func HoldsTornHeader(fs vfs.FS, path string) (bool, error) {
	first, ok := ParseSegmentName(filepath.Base(path))
	if !ok {
		return false, nil
	}
	// Read before the segment, as the Reader does: a segment being made
	// is named by the file only once its header is durable.
	if newest, _ := ReadNewest(fs, filepath.Dir(path)); newest == first {
		return false, nil
	}
	f, err := openSegmentFile(fs, path)
	if err != nil {
		return false, err
	}
	defer f.Close() //nolint:errcheck // read only
	size, err := f.Size()
	if err != nil {
		return false, fmt.Errorf("tlog: size of %s: %w", path, err)
	}
	return tornHeader(f, segment{first: first, path: path}, size)
}
