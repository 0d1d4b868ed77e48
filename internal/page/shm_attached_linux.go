package page

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ProcessesMapping counts the processes, other than exceptPID, that have
// the file path mapped, as their /proc/PID/maps show it. Readers write
// nothing shared, so this is how a writer counts them without their
// cooperation. Best effort: a process whose maps this one may not read
// (another user's, without the ptrace right) is not counted, and one that
// starts or exits during the scan may or may not be. It reads every
// process's maps: O(processes × mappings), so callers rate-limit it.
func ProcessesMapping(path string, exceptPID int) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("count processes mapping %s: %w", path, err)
	}
	// The kernel names a mapped file by its path with symbolic links
	// resolved: a region under a SharedDir reached through a link (a
	// /dev/shm that links to /run/shm, as on some distributions) was
	// never matched, and every reader went uncounted
	// (TestProcessesMappingThroughLink).
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	suffix := []byte(" " + path)
	n := 0
	var buf []byte
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == exceptPID {
			continue
		}
		if buf, err = readMaps(pid, buf[:0]); err != nil {
			continue // exited, or not ours to read
		}
		sc := bufio.NewScanner(bytes.NewReader(buf))
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			if bytes.HasSuffix(sc.Bytes(), suffix) {
				n++
				break
			}
		}
	}
	return n, nil
}

// readMaps appends /proc/pid/maps to buf.
func readMaps(pid int, buf []byte) ([]byte, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		return buf, err
	}
	defer func() { _ = f.Close() }() // read-only
	var b bytes.Buffer
	b.Write(buf)
	if _, err := b.ReadFrom(f); err != nil {
		return buf, err
	}
	return b.Bytes(), nil
}
