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
