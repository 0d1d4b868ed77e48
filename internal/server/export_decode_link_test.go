package server

// DecodeLinkMisses returns decodeLinkMisses: the binary write requests
// decoded without holdDecode finding them by their goroutine.
func DecodeLinkMisses() int64 { return decodeLinkMisses.Load() }

// WritesDecodingFor returns how many write requests of a LimitRequests
// handler decodingWrites holds now.
func WritesDecodingFor(limited any) int {
	l := limited.(*requestLimit)
	n := 0
	decodingWrites.Range(func(_, v any) bool {
		if v.(*countedBody).h.l == l {
			n++
		}
		return true
	})
	return n
}

// GoroutineID is goroutineID.
func GoroutineID() uint64 { return goroutineID() }
