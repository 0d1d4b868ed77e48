// Package invariants says whether expensive internal assertions are
// compiled in. Build with -tags invariants to enable them (CI runs the test
// suite both ways); they cost too much for production but catch a broken
// internal promise at the operation that broke it.
package invariants
