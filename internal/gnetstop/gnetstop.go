// Package gnetstop stops a gnet engine without leaving a connection it
// accepted open and unserved.
//
// gnet's shared listener is served by a reactor of its own, which hands
// each connection it accepts to an event loop through the loop's task
// queue. Engine.Stop queues each loop's exit on that same queue while
// the reactor still accepts: a connection queued behind the exit is
// never served and never closed, and its client waits on it for good (a
// gateway's bank link reconnecting as the emulator stops stays up with
// nobody answering). Shutting the listening sockets down instead makes
// the next accept fail; the reactor (or, with SO_REUSEPORT, the loop
// that accepts) then exits, and its exit is what stops the loops, after
// every connection it handed over. The kernel resets the connections
// still in the backlog at once.
//
// Concurrency: a Listeners is filled from OnBoot (on gnet's goroutine,
// before any loop runs), then Shut or Close from any goroutine, once
// each is enough; gnet logs the failed accept and the reactor's exit as
// errors, which Logger turns to debug once Shut has begun.
package gnetstop

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	gnetlog "github.com/panjf2000/gnet/v2/pkg/logging"
)

// Listeners holds duplicates of an engine's listening sockets, taken in
// OnBoot: taken later, gnet's read of its listener races its own close.
type Listeners struct {
	mu       sync.Mutex
	fds      []int
	stopping atomic.Bool
}

// Add keeps fd, a duplicate from Engine.Dup or DupListener.
func (l *Listeners) Add(fd int) {
	l.mu.Lock()
	l.fds = append(l.fds, fd)
	l.mu.Unlock()
}

// Shut shuts the listening sockets down for reading and closes the
// duplicates; the engine then stops by itself. It reports false when it
// had none left to shut, or failed: the engine may still run, and
// Engine.Stop must stop it.
func (l *Listeners) Shut() (bool, error) {
	l.stopping.Store(true)
	fds := l.take()
	var errs []error
	for _, fd := range fds {
		if err := syscall.Shutdown(fd, syscall.SHUT_RD); err != nil {
			errs = append(errs, fmt.Errorf("gnetstop: shutdown of a listener: %w", err))
		}
		if err := syscall.Close(fd); err != nil {
			errs = append(errs, fmt.Errorf("gnetstop: close of a listener's duplicate: %w", err))
		}
	}
	err := errors.Join(errs...)
	return len(fds) > 0 && err == nil, err
}

// Close closes the duplicates left, once the engine has ended: kept
// open, a duplicate would keep the socket listening with nobody
// accepting.
func (l *Listeners) Close() {
	for _, fd := range l.take() {
		_ = syscall.Close(fd)
	}
}

func (l *Listeners) take() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	fds := l.fds
	l.fds = nil
	return fds
}

// Logger passes gnet's messages on to lg, but logs errors at debug once
// Shut has begun: what the shut listeners make gnet report is expected.
func (l *Listeners) Logger(lg gnetlog.Logger) gnetlog.Logger {
	return quiet{Logger: lg, stopping: &l.stopping}
}

type quiet struct {
	gnetlog.Logger
	stopping *atomic.Bool
}

func (q quiet) Errorf(format string, args ...any) {
	if q.stopping.Load() {
		q.Logger.Debugf(format, args...)
		return
	}
	q.Logger.Errorf(format, args...)
}
