package vfs

// SetRemoveSeams sets RemoveGradually's test seams (afterLinkCheck,
// stepDone) for the external tests, and returns a function that restores
// them.
func SetRemoveSeams(afterCheck, afterStep func(name string)) (restore func()) {
	a, s := afterLinkCheck, stepDone
	afterLinkCheck, stepDone = afterCheck, afterStep
	return func() { afterLinkCheck, stepDone = a, s }
}
