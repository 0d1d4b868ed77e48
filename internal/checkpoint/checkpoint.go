// Package checkpoint is MMSB's checkpoint file container: a header (magic,
// format version, the LSN the snapshot covers), a sequence of CRC32C-framed
// typed records, and a trailer (record count and a CRC32C over the whole
// file). Files are written to a temporary name, fsynced, renamed into place
// and the directory fsynced, so a checkpoint is either whole or absent. The
// record payloads are opaque here (internal/record defines them).
package checkpoint

import (
	"errors"
	"fmt"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// ErrCorruption: a checkpoint failed a check. Returned inside *CorruptionError.
var ErrCorruption = errors.New("checkpoint: corruption")

// CorruptionError names the file and offset of the failed check.
type CorruptionError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("checkpoint: corruption in %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorruption) true.
func (e *CorruptionError) Unwrap() error { return ErrCorruption }

// Info describes a checkpoint file found in a directory.
type Info struct {
	Path string
	LSN  base.LSN
	Size int64
}

// Writer writes one checkpoint.
type Writer struct{}

// Create starts a checkpoint covering every operation with LSN <= lsn, in
// a temporary file in dir.
func Create(fs vfs.FS, dir string, lsn base.LSN) (*Writer, error) { panic("todo") }

// Append writes one framed record of the given kind. Buffered.
func (w *Writer) Append(kind uint8, payload []byte) error { panic("todo") }

// Commit writes the trailer, fsyncs, renames the file to its final name
// (checkpoint-<20-digit LSN>.ckpt), fsyncs the directory and returns the
// final path. Any failure leaves no final file behind.
func (w *Writer) Commit() (string, error) { panic("todo") }

// Abort removes the temporary file.
func (w *Writer) Abort() { panic("todo") }

// List returns the checkpoints in dir, newest (highest LSN) first. Leftover
// temporary files are ignored (and may be removed by RemoveTemp).
func List(fs vfs.FS, dir string) ([]Info, error) { panic("todo") }

// RemoveTemp removes leftover temporary checkpoint files in dir.
func RemoveTemp(fs vfs.FS, dir string) error { panic("todo") }

// Reader reads a checkpoint file record by record.
type Reader struct{}

// Open opens a checkpoint and checks its header.
func Open(fs vfs.FS, path string) (*Reader, error) { panic("todo") }

// LSN returns the LSN the checkpoint covers.
func (r *Reader) LSN() base.LSN { panic("todo") }

// Next returns the next record. The payload is valid until the next call.
// After the last record it verifies the trailer (count and whole-file CRC)
// and returns io.EOF; any failed check is a *CorruptionError.
func (r *Reader) Next() (kind uint8, payload []byte, err error) { panic("todo") }

// Close closes the file.
func (r *Reader) Close() error { panic("todo") }

// Verify reads a whole checkpoint and checks every frame and the trailer.
func Verify(fs vfs.FS, path string) error { panic("todo") }
