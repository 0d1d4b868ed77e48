package main

import "fmt"

// integer is every integer type a count in the commands' output has.
type integer interface {
	~int | ~int32 | ~int64 | ~uint | ~uint32 | ~uint64
}

// counted says n of a noun, in its singular form when n is 1 and its
// plural otherwise ("1 entry", "0 entries", "2 entries"). The commands
// printed "it holds 1 entries", "1 pages" and "a torn tail of 1 bytes"
// (TestCountsSaidInNumber). Columns labelled with a noun ("segments
// removed  1") and "N of M nouns" need none.
func counted[T integer](n T, one, many string) string {
	return fmt.Sprintf("%d %s", n, inNumber(n, one, many))
}

// inNumber returns the word of n things: one when n is 1, else many. It
// also agrees a verb with a list of n names ("X remains", "X, Y remain").
func inNumber[T integer](n T, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
