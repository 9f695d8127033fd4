package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/socketqueue/socketqueue-go/metrics"
	"github.com/socketqueue/socketqueue-go/stats"
)

// loopTallies finds each event loop's counts, made the first time the
// loop counts: a loop adds to its own tallies with plain arithmetic, and
// /metrics and /stats read them on the loop. Off the loops (el nil) the
// shared, locked tallies count. of is safe from any goroutine; a loop's
// counts are for that loop only.
type loopTallies struct {
	m      *metrics.Metrics
	st     *stats.Stats
	shared counts
	mu     sync.Mutex // adding a loop
	all    atomic.Pointer[[]loopTally]
	// stopped: the loops have ended (the engine stopped), and their
	// tallies are read where they are (the figures saved at exit).
	stopped atomic.Bool
}

// counts are where one goroutine counts: Prometheus' figures and the
// original's statistics (either nil when the gateway keeps none).
type counts struct {
	m  *metrics.Tally
	st *stats.Tally
}

type loopTally struct {
	el gnet.EventLoop
	c  *counts
}

func (lt *loopTallies) init(m *metrics.Metrics, st *stats.Stats) {
	lt.m, lt.st = m, st
	lt.shared = counts{m.Shared(), st.Shared()}
}

// scrapeWait bounds how long a scrape waits for a loop to copy its
// figures; past it, the loop's last figures are shown.
const scrapeWait = 2 * time.Second

// of is el's counts (nil el: the shared ones).
func (lt *loopTallies) of(el gnet.EventLoop) *counts {
	if el == nil || lt.m == nil && lt.st == nil {
		return &lt.shared
	}
	if p := lt.all.Load(); p != nil {
		for _, e := range *p {
			if e.el == el {
				return e.c
			}
		}
	}
	return lt.add(el)
}

func (lt *loopTallies) add(el gnet.EventLoop) *counts {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var all []loopTally
	if p := lt.all.Load(); p != nil {
		for _, e := range *p {
			if e.el == el {
				return e.c
			}
		}
		all = append(all, *p...)
	}
	exec := func(fn func()) bool { return lt.runOnLoop(el, fn) }
	c := &counts{lt.m.LoopTally(exec), lt.st.LoopTally(exec)}
	all = append(all, loopTally{el, c})
	lt.all.Store(&all)
	return c
}

// runOnLoop runs fn on el between its callbacks and waits for it, up
// to scrapeWait; false when it did not run in that time. Once the loops
// have ended, fn runs here.
func (lt *loopTallies) runOnLoop(el gnet.EventLoop, fn func()) bool {
	if lt.stopped.Load() {
		fn()
		return true
	}
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
