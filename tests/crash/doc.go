// Package crash holds MMSB's crash suite: a child process runs a durable bus
// on a real directory and is killed with SIGKILL at random moments; the
// parent reopens the directory and checks that every acknowledged commit
// survived, that no batch is half-applied, that the state equals a replay of
// the recovered log, and that the offline checks find nothing. The tests are
// behind the build tag "crash" (see docs/crash.md):
//
//	go test -count=1 -tags crash ./tests/crash/... -crash.iterations=50
package crash
