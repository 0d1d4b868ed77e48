package replicate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mmsb-go/mmsb/vfs"
)

// markerFile is the file that makes a bus directory a replica: it names
// the stream the directory replicates ("mmsb-replica <stream>\n", e.g.
// "mmsb-replica MMSB_LOG_demo\n"). NewNode writes it before the node
// bootstraps or follows anything, so every directory a node filled has
// it, and a directory that holds a bus without it (and without a term
// file, which replicas made before the marker have) is a bus a node did
// not make: a standalone one (mmsb.Open, mmsb bench --dir) given by
// mistake, which the node used to set aside as diverged and replace with
// an empty replica. It names the stream, not its creation time: a stream
// deleted and made again under the same name is the same bus's, and its
// replicas are rebuilt as the stream requires (the term file, which does
// carry the creation time, restarts its terms).
const markerFile = "replicate-stream"

// markerPrefix starts the marker's only line.
const markerPrefix = "mmsb-replica "

// markerMax bounds what is read of a marker: a whole one is at most
// len(markerPrefix) + len("MMSB_LOG_") + 64 + 1 bytes.
const markerMax = 256

var markerStream = regexp.MustCompile(`^MMSB_LOG_[A-Za-z0-9_-]{1,64}$`)

// markerLine is the marker's content for stream.
func markerLine(stream string) []byte { return []byte(markerPrefix + stream + "\n") }

// readMarker returns the stream dir's marker names ("" when there is none).
// A marker that does not parse is ErrConfig naming its path and content:
// it is written whole or not at all, so this is damage or another
// program's file.
func readMarker(dir string) (string, error) {
	path := filepath.Join(dir, markerFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("replicate: read %s: %w", path, err)
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	b, err := io.ReadAll(io.LimitReader(f, markerMax+1))
	if err != nil {
		return "", fmt.Errorf("replicate: read %s: %w", path, err)
	}
	s, ok := strings.CutPrefix(string(b), markerPrefix)
	if ok {
		s, ok = strings.CutSuffix(s, "\n")
	}
	if !ok || len(b) > markerMax || !markerStream.MatchString(s) {
		head, more := b, ""
		if len(head) > 80 {
			head, more = head[:80], " (first 80 bytes)"
		}
		return "", fmt.Errorf("%w: %s holds %q%s, not a replica marker (want \"%s<stream>\\n\"): remove it only if the directory is a replica of this node's stream",
			ErrConfig, path, head, more, markerPrefix)
	}
	return s, nil
}

// saveMarker writes dir's marker for stream through vfs.ReplaceFile: a
// temporary file, synced, renamed into place, and the directory synced,
// so that a crash leaves either no marker or a whole one. Whatever is at
// the temporary name is removed first: os.WriteFile, used before,
// followed a symbolic link there and wrote the marker into its target,
// and left the temporary file behind when a later step failed
// (TestSaveMarkerReplacesSafely).
func saveMarker(dir, stream string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("replicate: mark %s as a replica: %w", dir, err)
	}
	path := filepath.Join(dir, markerFile)
	if _, err := vfs.ReplaceFile(vfs.Default, path, path+".tmp", func(f vfs.File) error {
		_, err := f.Write(markerLine(stream))
		return err
	}); err != nil {
		return fmt.Errorf("replicate: mark %s as a replica: %w", dir, err)
	}
	return nil
}

// claimDir checks that dir may be a replica of stream and marks it so
// (NewNode, before anything is bootstrapped or followed). It refuses,
// with ErrConfig naming the directory and the streams, leaving the
// directory as it was:
//   - a directory holding a bus whose marker or term file names another
//     stream (a mistyped --stream or --bus);
//   - a directory holding a bus with neither a marker nor a term file: a
//     bus no node made.
//
// A directory with a term file of this stream and no marker is a replica
// made before the marker existed: it is marked now. A directory without
// bus state is marked for stream whatever it held before (nothing of a
// bus is in it to lose).
func claimDir(dir, stream string) error {
	marked, err := checkDir(dir, stream)
	if err != nil || marked {
		return err
	}
	return saveMarker(dir, stream)
}

// CheckDir refuses, as NewNode does, a directory that may not be a
// replica of stream (Config.StreamName): one holding a bus of another
// stream, or a bus with neither a marker (DIR/replicate-stream) nor a term
// file. It changes nothing: commands call it before they start anything
// (an embedded nats-server), so that such a mistake is named first.
func CheckDir(dir, stream string) error {
	_, err := checkDir(dir, stream)
	return err
}

// checkDir is claimDir's check; marked reports that dir is already marked
// for stream.
func checkDir(dir, stream string) (marked bool, err error) {
	name, err := readMarker(dir)
	if err != nil {
		return false, err
	}
	if name == stream {
		// The marker decides: a term file of another stream beside it
		// was left by an earlier use of the directory, emptied of its
		// bus before it was marked for this stream (loadTerm ignores
		// it, and the first term this node sees replaces it).
		return true, nil
	}
	if err := checkDirBus(dir, stream); err != nil {
		return false, err
	}
	state := hasState(dir)
	if name != "" && state {
		return false, fmt.Errorf("%w: %s holds a replica of the stream %q (%s), not of %q: name that bus, or use another directory",
			ErrConfig, dir, name, filepath.Join(dir, markerFile), stream)
	}
	if name == "" && state {
		_, err := os.Stat(filepath.Join(dir, termFile))
		if errors.Is(err, os.ErrNotExist) {
			// A replica made before the marker that never read a record
			// (killed right after its bootstrap) has neither file either.
			// Nothing offline tells it from a standalone bus holding a
			// checkpoint; it holds only a checkpoint it downloaded, which
			// the stored ones cover, so emptying it loses nothing.
			return false, fmt.Errorf("%w: %s holds a bus that is not a replica of the stream %q (it has no %s or %s: a bus made by mmsb.Open or another command, or a replica made before %s existed that never read a record): move it away, or give an empty directory (a replica of this stream holds nothing the stream and its stored checkpoints lack: emptied, it is bootstrapped again)",
				ErrConfig, dir, stream, markerFile, termFile, markerFile)
		}
		if err != nil {
			return false, fmt.Errorf("replicate: %w", err)
		}
	}
	return false, nil
}

// NodeFiles are the files a replication node keeps in its bus directory
// (the replica marker and the term file): a directory holding either is
// a node's, which a program serving the bus without replication must
// not take (mmsb serve refuses it), and a node takes such a directory
// until both are gone.
var NodeFiles = [...]string{markerFile, termFile}
