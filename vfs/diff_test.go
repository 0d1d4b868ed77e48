package vfs_test

import (
	"fmt"
	"maps"
	"os"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"pgregory.net/rapid"
)

// TestMemMatchesOS runs the same random operations on the OS and on MemFS and
// requires the same successes, failures, reads and final tree: a
// differential test of MemFS against the reference it imitates.
func TestMemMatchesOS(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		osDir, err := os.MkdirTemp("", "vfsdiff")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(osDir)
		mem := vfs.NewMem()
		ck(t, mem.MkdirAll("/d"))
		type side struct {
			fs    vfs.FS
			dir   string
			files map[int]vfs.File
		}
		sides := []*side{{vfs.Default, osDir, map[int]vfs.File{}}, {mem, "/d", map[int]vfs.File{}}}
		defer func() {
			for _, s := range sides {
				for _, f := range s.files {
					f.Close()
				}
			}
		}()
		name := rapid.SampledFrom([]string{"a", "b", "sub/c"})
		for i := range rapid.IntRange(1, 30).Draw(rt, "n") {
			op := rapid.IntRange(0, 9).Draw(rt, fmt.Sprint("op", i))
			n1, n2 := name.Draw(rt, fmt.Sprint("n1.", i)), name.Draw(rt, fmt.Sprint("n2.", i))
			h := rapid.IntRange(0, 2).Draw(rt, fmt.Sprint("h", i))
			data := []byte(rapid.StringN(0, 6, 6).Draw(rt, fmt.Sprint("data", i)))
			size := rapid.Int64Range(0, 12).Draw(rt, fmt.Sprint("size", i))
			var results []string
			for _, s := range sides {
				p1, p2 := s.fs.Join(s.dir, n1), s.fs.Join(s.dir, n2)
				var r string
				switch op {
				case 0, 1, 2: // create / open / open-append into handle slot h
					var f vfs.File
					var err error
					switch op {
					case 0:
						f, err = s.fs.Create(p1)
					case 1:
						f, err = s.fs.Open(p1)
					default:
						f, err = s.fs.OpenAppend(p1)
					}
					if err == nil {
						if old := s.files[h]; old != nil {
							old.Close()
						}
						s.files[h] = f
					}
					r = fmt.Sprint(err == nil, vfs.IsNotExist(err))
				case 3, 4, 5, 6: // write / truncate / read / readat through slot h
					f := s.files[h]
					if f == nil {
						r = "no handle"
						break
					}
					switch op {
					case 3:
						n, err := f.Write(data)
						r = fmt.Sprint(n, err == nil)
					case 4:
						r = fmt.Sprint(f.Truncate(size) == nil)
					case 5:
						buf := make([]byte, size)
						n, err := f.Read(buf)
						r = fmt.Sprintf("%d %q %v", n, buf[:n], err)
					default:
						buf := make([]byte, 4)
						n, err := f.ReadAt(buf, size)
						r = fmt.Sprintf("%d %q %v", n, buf[:n], err)
					}
				case 7:
					err := s.fs.Rename(p1, p2)
					r = fmt.Sprint(err == nil, vfs.IsNotExist(err))
				case 8:
					err := s.fs.Remove(p1)
					r = fmt.Sprint(err == nil, vfs.IsNotExist(err))
				case 9:
					r = fmt.Sprint(s.fs.MkdirAll(s.fs.Join(s.dir, "sub")) == nil)
				}
				results = append(results, r)
			}
			if results[0] != results[1] {
				rt.Fatalf("step %d op %d (%s, %s, slot %d): os %q, mem %q", i, op, n1, n2, h, results[0], results[1])
			}
			if a, b := dump(t, sides[0].fs, sides[0].dir), dump(t, sides[1].fs, sides[1].dir); !maps.Equal(relative(a, osDir), relative(b, "/d")) {
				rt.Fatalf("step %d: trees differ: os %q, mem %q", i, a, b)
			}
		}
	})
}

// relative strips dir from the keys of a dump.
func relative(m map[string]string, dir string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k[len(dir):]] = v
	}
	return out
}
