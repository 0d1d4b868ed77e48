// Package logquery holds an option of mmsb's log queries (Bus.QueryLog,
// QueryLogDir) that only the project's own services use, carried in the
// query's context rather than in the public mmsb.LogQuery.
package logquery

import "context"

type noReadsKey struct{}

// WithoutParentReads returns ctx for a log query whose answers leave the
// parent reads of derived writes (mmsb.Op.Reads) empty: they are passed
// over, not decoded. A derived page of 2^16 parents logs 2^16 reads with
// each write, which a caller that shows only the write (the inspector's
// page and log views) decoded and copied, 1 MiB and its growth twice over
// for each write it matched (mmsb's TestQueryLogWithoutParentReads).
func WithoutParentReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, noReadsKey{}, true)
}

// ParentReadsOmitted reports whether ctx came from WithoutParentReads.
func ParentReadsOmitted(ctx context.Context) bool {
	omit, _ := ctx.Value(noReadsKey{}).(bool)
	return omit
}

type bindParentsKey struct{}

// BindParents caps the parents of each Bind a log query decodes: a
// caller that shows a Bind's first parents only (the inspector's log
// view, whose line holds 256 bytes) decoded and copied all of them, 512
// KiB for each Bind of 2^16 parents an answer held
// (TestLogBindDecodesShownParentsOnly in internal/inspector).
type BindParents struct {
	// Max is the most parents of a Bind the query answers in
	// mmsb.Op.Parents, its first ones; 0 answers none.
	Max int
	// Total is set by the query before it calls back with a Bind: how
	// many parents that Bind has, all of them. Read it in the callback.
	Total int
}

// WithBindParents returns ctx for a log query whose Binds hold at most
// bp.Max parents, and that sets bp.Total before each Bind it answers.
// One query at a time may use bp.
func WithBindParents(ctx context.Context, bp *BindParents) context.Context {
	return context.WithValue(ctx, bindParentsKey{}, bp)
}

// BindParentsOf returns the BindParents ctx came with (WithBindParents),
// or nil.
func BindParentsOf(ctx context.Context) *BindParents {
	bp, _ := ctx.Value(bindParentsKey{}).(*BindParents)
	return bp
}
