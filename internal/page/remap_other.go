//go:build unix && !linux

package page

// remap grows a mapping to n bytes where mremap is unavailable: map anew,
// copy, unmap the old one. Peak memory is briefly old+new, but no dead copy
// outlives the call.
func remap(old []byte, n int) ([]byte, error) {
	b, err := mapAnon(n)
	if err != nil {
		return nil, err
	}
	copy(b, old)
	if err := unmap(old); err != nil {
		_ = unmap(b)
		return nil, err
	}
	return b, nil
}
