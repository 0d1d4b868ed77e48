//go:build !linux

package page

// populate faults in every OS page of mem by touching one byte per page
// (no single system call does it portably).
func populate(mem []byte) error {
	touchPages(mem)
	return nil
}
