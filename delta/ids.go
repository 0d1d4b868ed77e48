package delta

// PageID identifies a page. ID 0 is never a valid page: it means "assign one".
type PageID uint64

// LSN is a log sequence number: the position of a logged operation in the
// bus's single total order. The first operation ever logged has LSN 1; LSN 0
// means "nothing".
type LSN uint64

// Epoch is a page's version: 0 at creation, +1 for every delta applied to it.
type Epoch uint64
