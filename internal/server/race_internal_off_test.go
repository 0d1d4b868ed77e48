//go:build !race

package server

// raceBuild: see race_internal_on_test.go.
const raceBuild = false
