// Package docs holds MMSB's documentation as Markdown pages. It has no
// code: its tests keep the pages true to the tree (every relative link and
// anchor resolves, and every test, fuzz target and benchmark a page names
// exists), so that a renamed test or heading fails go test instead of
// leaving a page that points nowhere.
package docs
