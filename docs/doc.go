// Package docs holds MMSB's documentation as Markdown pages. It has no
// code: its tests keep the pages true to the tree (every relative link and
// anchor resolves, every test, fuzz target and benchmark a page names
// exists, the format tables match the code, dependencies.md names every
// module go.mod requires directly, validate.md names every check of the
// ten benchmarks, and architecture.md's package table every directory
// holding Go files), so that a renamed test or heading, or a new module,
// check or package, fails go test instead of leaving a page that is wrong.
package docs
