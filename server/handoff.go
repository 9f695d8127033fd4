package server

import (
	"sync"

	"github.com/panjf2000/gnet/v2"

	"github.com/socketqueue/socketqueue-go/journal"
)

// handoff carries the purchases of a commit made off the loops (the
// synced journal's writer, the cluster) to a bank link's loop in one
// step: the writer appends them and wakes one link, whose callback
// marks them sent and writes them (relay.runHanded). The writer is back
// at its next sync at once, instead of first doing the relay's work
// (marking sent, framing, queuing on a link) for every purchase of the
// commit.
//
// Nothing is left behind. The writer appends before it looks, under the
// link's mutex, for a link up and its wake-up (links.wake): a link
// whose wake-up is on its way clears it (link.unwake) before its
// callback runs what is queued, and a link's detach runs what is queued
// after it is marked down; with no link up the writer runs them itself
// (they fail as the link down).
type handoff struct {
	mu    sync.Mutex
	q     []journal.Begun
	spare []journal.Begun
}

// handOff queues a successful commit's purchases for a link's loop and
// wakes one; from the committing goroutine.
func (rl *relay) handOff(batch []journal.Begun) {
	// The journal's wait ends here; what follows is the loop's.
	rl.waited(batch, rl.now().UnixNano())
	h := &rl.handed
	h.mu.Lock()
	h.q = append(h.q, batch...)
	h.mu.Unlock()
	if !rl.bank.wake(nil) {
		rl.runHanded(nil)
	}
}

// runHanded continues the purchases handed off, on el (nil: off the
// loops), and reports whether there were any. Their sends on el's links
// are left for the caller's flush; other links are woken.
func (rl *relay) runHanded(el gnet.EventLoop) bool {
	h := &rl.handed
	h.mu.Lock()
	q := h.q
	if len(q) == 0 {
		h.mu.Unlock()
		return false
	}
	h.q, h.spare = h.spare[:0], nil
	h.mu.Unlock()
	rl.continueJournaled(q, nil, rl.now().UnixNano())
	clear(q) // the requests are the table's again
	h.mu.Lock()
	if h.spare == nil {
		h.spare = q[:0]
	}
	h.mu.Unlock()
	if el != nil {
		rl.bank.wakeHeldOff(el)
	} else {
		rl.bank.wakeHeld()
	}
	return true
}
