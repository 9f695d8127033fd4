// Package owned reads a value one goroutine owns: the owner changes it
// with no lock or atomic, and another goroutine gets a copy by having the
// owner make it. A value several goroutines share is changed and copied
// under a lock instead.
//
// Invariants: with Exec set, only the owner touches the value, and a
// copy handed out is never written again; a reader that the owner does
// not answer gets the last copy it made, so figures read never go back.
package owned

import "sync"

// Owner says who changes a value of type T and how it is read: those
// who change it take Mu when it is set; Copy is for one reader at a time
// (the caller serialises them).
type Owner[T any] struct {
	// Mu guards the value when no one goroutine owns it (nil: one does).
	Mu *sync.Mutex
	// Exec runs fn on the owning goroutine and waits for it, reporting
	// whether it ran (nil: Mu guards the value).
	Exec func(fn func()) bool
	last *T
}

// Copy is a fresh copy of the value, made by copyTo on the owner (or
// under Mu); when the owner does not answer, the copy it made last (an
// empty T before any).
func (o *Owner[T]) Copy(copyTo func(*T)) *T {
	v := new(T)
	if o.Exec == nil {
		o.Mu.Lock()
		defer o.Mu.Unlock()
		copyTo(v)
		return v
	}
	// A fresh copy each time: an owner that answers after Exec gave up
	// writes into one nobody reads any more.
	if o.Exec(func() { copyTo(v) }) {
		o.last = v
	}
	if o.last == nil {
		return new(T)
	}
	return o.last
}
