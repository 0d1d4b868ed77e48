package inspector

// SetStreamHooks sets the functions called when a Changes or Events stream
// has taken its token (opened) and after it gave it back (closed), so that
// a test knows how many streams are open without waiting on a clock. Set
// them before any stream starts.
func SetStreamHooks(in *Inspector, opened, closed func()) {
	in.streamOpened, in.streamClosed = opened, closed
}

// EventText is eventText.
var EventText = eventText

// HoldTableScans takes every token of the ListPages calls that read every
// page, as that many such listings running would, until release.
func HoldTableScans(in *Inspector) (release func()) {
	for range cap(in.tableScans) {
		in.tableScans <- struct{}{}
	}
	return func() {
		for range cap(in.tableScans) {
			<-in.tableScans
		}
	}
}
