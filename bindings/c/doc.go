// Command c is the C ABI of MMSB: built with
//
//	go build -buildmode=c-shared -o build/libmmsb.so ./bindings/c
//
// it becomes libmmsb.so, whose contract is the hand-written header mmsb.h
// in this directory (opaque integer handles, caller-owned buffers, status
// codes mapped one to one to the Go sentinel errors, a per-thread last error
// message, and coarse calls that commit a whole batch at a time). See
// docs/bindings.md.
//
// The exported functions live in exports.go (cgo, //export); this file has
// none so that the package still builds, as an empty program, where cgo is
// disabled.
package main

// main is required by -buildmode=c-shared and never runs.
func main() {}
