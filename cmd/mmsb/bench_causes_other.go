//go:build !linux

package main

// threadUsageSupported: per-thread usage (RUSAGE_THREAD) is Linux's.
const threadUsageSupported = false

func readThreadUsage() threadUsage { return threadUsage{} }
