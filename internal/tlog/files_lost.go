package tlog

import (
	"errors"
	"fmt"

	"github.com/mmsb-go/mmsb/vfs"
)

// FilesLost is the one check of whether a data directory whose checkpoint
// directory ckDir holds no checkpoint lost its log (the caller knows there
// is none; with one, CheckRemoved decides): its log-mode file says
// ModeLog and walDir holds no segment, or is missing. The bus's Open
// (and mmsb.Replay, mmsb.QueryLogDir, so `mmsb check`) refuses such a
// directory, and the integrity validator reports it, through this
// function.
//
// The first Open with a log writes ModeLog only once its first segment is
// durable (KeepSegment makes it, header fsynced and the directory synced,
// before the bus writes the mode), and the log never removes its last
// segment: RemoveThrough keeps the one being written, recovery rewrites
// an only empty segment in place instead of removing it, and a restarted
// log (always beside the checkpoint it restarts at) makes its new segment
// before it removes the old ones. No crash leaves ModeLog without a
// segment, then: such a directory was emptied by hand or by a bad disk,
// and every operation the bus committed went with its segments. A
// directory without the mode file (an Open that crashed before writing
// it, or one written before the file existed), or whose mode is
// ModeNoLog, lost nothing known, unless (no mode file) wal/newest-segment
// names a segment while wal/ holds none (NewestWithoutSegment). A mode file that does not decode is an
// error wrapping ErrBadMode, as it is beside a checkpoint; a walDir that
// is a dangling symbolic link is LogDirUnreachable's error.
func FilesLost(fs vfs.FS, walDir, ckDir string) (bool, error) {
	if err := LogDirUnreachable(fs, walDir); err != nil {
		return false, err
	}
	mode, err := ReadMode(fs, ckDir)
	if err != nil {
		return false, err
	}
	if mode == ModeUnknown {
		// No log-mode file: a newest-segment file beside no segment
		// still says a log held the history (NewestWithoutSegment).
		first, err := NewestWithoutSegment(fs, walDir)
		return first != 0, err
	}
	if mode != ModeLog {
		return false, nil
	}
	has, err := HasSegment(fs, walDir) // a missing wal/ holds none
	if err != nil {
		return false, err
	}
	return !has, nil
}

// LogDirUnreachable is an error wrapping vfs.ErrDanglingLink when the log
// directory walDir is a symbolic link whose target does not exist (wal/
// moved to a disk that is not mounted, or a link restored without its
// target), nil otherwise. Such a log is out of reach, not known to be
// lost: read as a missing wal/, it was reported as a removed log beside a
// checkpoint, or as the bus's lost files without one, and the Repair those
// refusals named failed at making wal/. FilesLost and CheckRemoved return
// it, and so refuse it as they would the log's own read.
func LogDirUnreachable(fs vfs.FS, walDir string) error {
	if fs.Exists(walDir) {
		return nil // it leads somewhere: recovery reads it, or says what it is
	}
	// Missing to a stat, which follows links: OpenRegular tells a
	// dangling link (on the operating system's filesystem) from nothing.
	f, err := vfs.OpenRegular(fs, walDir)
	if err == nil {
		_ = f.Close() // there since the stat: opened only to look
		return nil
	}
	if errors.Is(err, vfs.ErrDanglingLink) {
		return fmt.Errorf("tlog: %s is a %w: the log is out of reach, not known to be lost", walDir, vfs.ErrDanglingLink)
	}
	return nil
}
