package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/socketqueue/socketqueue-go/metrics"
)

// loopTallies finds each event loop's metrics tally, made the first
// time the loop counts: a loop adds to its own with plain arithmetic,
// and a scrape reads it on the loop. Off the loops (el nil) the shared,
// locked tally counts. of is safe from any goroutine; a loop's tally is
// for that loop only.
type loopTallies struct {
	m   *metrics.Metrics
	mu  sync.Mutex // adding a loop
	all atomic.Pointer[[]loopTally]
}

type loopTally struct {
	el gnet.EventLoop
	t  *metrics.Tally
}

// scrapeWait bounds how long a scrape waits for a loop to copy its
// figures; past it, the loop's last figures are shown.
const scrapeWait = 2 * time.Second

// of is el's tally (nil el: the shared one).
func (lt *loopTallies) of(el gnet.EventLoop) *metrics.Tally {
	if el == nil || lt.m == nil {
		return lt.m.Shared()
	}
	if p := lt.all.Load(); p != nil {
		for _, e := range *p {
			if e.el == el {
				return e.t
			}
		}
	}
	return lt.add(el)
}

func (lt *loopTallies) add(el gnet.EventLoop) *metrics.Tally {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var all []loopTally
	if p := lt.all.Load(); p != nil {
		for _, e := range *p {
			if e.el == el {
				return e.t
			}
		}
		all = append(all, *p...)
	}
	t := lt.m.LoopTally(func(fn func()) bool { return runOnLoop(el, fn) })
	all = append(all, loopTally{el, t})
	lt.all.Store(&all)
	return t
}

// runOnLoop runs fn on el between its callbacks and waits for it, up
// to scrapeWait; false when it did not run in that time.
func runOnLoop(el gnet.EventLoop, fn func()) bool {
	done := make(chan struct{})
	err := el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		close(done)
		return nil
	}))
	if err != nil {
		return false
	}
	t := time.NewTimer(scrapeWait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
