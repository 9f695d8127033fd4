// Package testloop stands in for an event loop in tests of what a loop
// owns: a goroutine that runs the functions it is given, one at a time,
// as a loop runs tasks between its callbacks.
package testloop

import "testing"

// New starts the goroutine, stopped when t ends. Exec runs fn on it and
// waits (the shape a tally's exec takes); Run does the same for the
// test's own counting.
func New(t testing.TB) (exec func(func()) bool, run func(func())) {
	work := make(chan func())
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case fn := <-work:
				fn()
			case <-stop:
				return
			}
		}
	}()
	run = func(fn func()) {
		done := make(chan struct{})
		work <- func() { fn(); close(done) }
		<-done
	}
	return func(fn func()) bool { run(fn); return true }, run
}
