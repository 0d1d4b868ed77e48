//go:build linux

package page

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mmsb-go/mmsb/internal/base"
)

// residentPages counts the OS pages of mem that are resident (mincore).
func residentPages(t *testing.T, mem []byte) (resident, total int) {
	t.Helper()
	vec := make([]byte, (len(mem)+osPageSize-1)/osPageSize)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(mem))), uintptr(len(mem)),
		uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	for _, v := range vec {
		if v&1 != 0 {
			resident++
		}
	}
	return resident, len(vec)
}

// TestPrefaultMakesChunkResident checks that with Prefault the chunk that
// receives a new page is wholly resident before any byte is written, and
// (the negative control) that without it the chunk is not: the mincore
// check can tell the two apart.
func TestPrefaultMakesChunkResident(t *testing.T) {
	for _, tc := range []struct {
		name      string
		policy    MemoryPolicy
		size      int
		wantWhole bool
	}{
		{"prefault", MemoryPolicy{Prefault: true}, 1024, true},
		{"prefault+huge", MemoryPolicy{Prefault: true, HugePages: true}, 1024, true},
		{"prefault large page", MemoryPolicy{Prefault: true}, 3 << 20, true},
		{"lazy", MemoryPolicy{}, 1024, false},
		{"lazy large page", MemoryPolicy{}, 3 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			s.SetMemoryPolicy(tc.policy)
			defer s.Close()
			sl, err := s.Create(base.PageID(1), tc.size, base.LocationCPU)
			if err != nil {
				t.Fatal(err)
			}
			mem := s.chunks[s.cells[sl].ref>>cellBits].mem
			res, total := residentPages(t, mem)
			if tc.wantWhole && res != total {
				t.Fatalf("%d of %d OS pages resident, want all", res, total)
			}
			if !tc.wantWhole && res == total {
				t.Fatalf("all %d OS pages resident before any write, want lazily mapped", total)
			}
			if got := s.Bytes(sl); len(got) != tc.size || got[0] != 0 || got[tc.size-1] != 0 {
				t.Fatalf("page not %d zero bytes", tc.size)
			}
		})
	}
}

// TestMapAnonFollowsPolicy checks that memory from MapAnon (mmsb bench's
// bare loop) is prepared as a store's chunk is: wholly resident and zero
// with Prefault, not resident without it (the control that the check can
// tell the two apart).
func TestMapAnonFollowsPolicy(t *testing.T) {
	for _, p := range []MemoryPolicy{{Prefault: true}, {Prefault: true, HugePages: true}, {}} {
		mem, err := MapAnon(8<<20, p)
		if err != nil {
			t.Fatal(err)
		}
		res, total := residentPages(t, mem)
		if p.Prefault && res != total {
			t.Errorf("%+v: %d of %d OS pages resident, want all", p, res, total)
		}
		if !p.Prefault && res == total {
			t.Errorf("%+v: all %d OS pages resident before any write, want lazily mapped", p, total)
		}
		if mem[0] != 0 || mem[len(mem)-1] != 0 {
			t.Errorf("%+v: memory not zero", p)
		}
		if err := Unmap(mem); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTouchPagesFallback checks the pre-MADV_POPULATE_WRITE fallback:
// touching one byte per OS page makes a fresh mapping resident and leaves
// it zero.
func TestTouchPagesFallback(t *testing.T) {
	mem, err := mapAnonPlain(64 * osPageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer unmap(mem)
	if res, _ := residentPages(t, mem); res != 0 {
		t.Fatalf("%d pages resident in a fresh mapping", res)
	}
	touchPages(mem)
	if res, total := residentPages(t, mem); res != total {
		t.Fatalf("%d of %d pages resident after touchPages", res, total)
	}
	for i, b := range mem {
		if b != 0 {
			t.Fatalf("byte %d is %d after touchPages", i, b)
		}
	}
}
