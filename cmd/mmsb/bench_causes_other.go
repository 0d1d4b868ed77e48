//go:build !linux

package main

// threadUsageSupported: per-thread usage (RUSAGE_THREAD) is Linux's.
const threadUsageSupported = false

type threadCounters struct{}

func openThreadCounters(bool) *threadCounters { return &threadCounters{} }
func (c *threadCounters) close()              {}
func (c *threadCounters) read() threadUsage   { return threadUsage{} }
