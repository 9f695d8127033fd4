package server

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// Link policies: how requests are shared among the ready links.
const (
	// PolicyRoundRobin takes the ready links in turn.
	PolicyRoundRobin = "roundRobin"
	// PolicyFailover gives everything to the first ready link in the
	// order given.
	PolicyFailover = "failover"
)

// links are the gateway's connections to the bank and the policy that
// shares requests among them. The set is fixed at New; each link's state
// changes on its own. Safe from any goroutine.
type links struct {
	all      []*link
	failover bool
	turn     atomic.Uint32

	changeMu sync.Mutex
	changeCh chan struct{} // closed and replaced when any link changes
}

func newLinks(g *Gateway) *links {
	ls := &links{failover: g.cfg.LinkPolicy == PolicyFailover, changeCh: make(chan struct{})}
	for i, a := range g.cfg.UpstreamAddrs {
		ls.all = append(ls.all, newLink(g, int32(i), a))
	}
	if len(ls.all) == 0 { // the bank connects to the bank listener
		n := max(1, g.cfg.UpstreamListenLinks)
		for i := range n {
			l := newLink(g, int32(i), "")
			if n > 1 {
				l.name = "listen#" + strconv.Itoa(i+1)
			}
			ls.all = append(ls.all, l)
		}
	}
	return ls
}

// Ready reports whether some link takes traffic.
func (ls *links) Ready() bool {
	for _, l := range ls.all {
		if l.Ready() {
			return true
		}
	}
	return false
}

// Up reports whether some link is connected.
func (ls *links) Up() bool {
	for _, l := range ls.all {
		if l.Up() {
			return true
		}
	}
	return false
}

// pick chooses the link for a request: want when it is not -1 (the
// gateway's own message for that link, which needs it connected, not
// ready), else a ready link by the policy. false: none.
func (ls *links) pick(want int32) (int32, bool) {
	if want >= 0 {
		return want, ls.all[want].Up()
	}
	n := uint32(len(ls.all))
	start := uint32(0)
	if !ls.failover && n > 1 {
		start = ls.turn.Add(1)
	}
	for i := range n {
		l := ls.all[(start+i)%n]
		if l.Ready() {
			return l.id, true
		}
	}
	return 0, false
}

// send queues msg on link id; el is the caller's event loop (nil: none):
// on the link's own loop the caller flushes before it returns, elsewhere
// the loop is woken. A client's request (not own) is counted.
func (ls *links) send(id int32, msg []byte, el gnet.EventLoop, own bool) error {
	how := sendWake
	if el != nil && ls.all[id].onLoop(el) {
		how = sendOnLoop
	}
	return ls.queue(id, msg, how, own)
}

// sendHeld queues a client's msg on link id without waking its loop;
// wakeHeld does, once for all held.
func (ls *links) sendHeld(id int32, msg []byte) error { return ls.queue(id, msg, sendHeld, false) }

func (ls *links) queue(id int32, msg []byte, how sendHow, own bool) error {
	l := ls.all[id]
	if err := l.send(msg, how); err != nil {
		return err
	}
	if !own {
		l.sent.Add(1)
	}
	return nil
}

func (ls *links) wakeHeld() {
	for _, l := range ls.all {
		l.wakeHeld()
	}
}

func (ls *links) wakeHeldOff(el gnet.EventLoop) {
	for _, l := range ls.all {
		if !l.onLoop(el) {
			l.wakeHeld()
		}
	}
}

func (ls *links) wake(el gnet.EventLoop) bool {
	for _, l := range ls.all {
		if (el == nil || l.onLoop(el)) && l.wake() {
			return true
		}
	}
	return false
}

// flushOrSoon has every link on el write what el's callback queued.
func (ls *links) flushOrSoon(el gnet.EventLoop, now int64) {
	for _, l := range ls.all {
		if l.onLoop(el) {
			l.flushOrSoon(now)
		}
	}
}

// flush has every link on el write what is pending; on el.
func (ls *links) flush(el gnet.EventLoop, now int64) {
	for _, l := range ls.all {
		if l.onLoop(el) {
			l.flush(now)
		}
	}
}

// changed returns a channel closed at the next change of any link.
func (ls *links) changed() <-chan struct{} {
	ls.changeMu.Lock()
	defer ls.changeMu.Unlock()
	return ls.changeCh
}

func (ls *links) notify() {
	ls.changeMu.Lock()
	close(ls.changeCh)
	ls.changeCh = make(chan struct{})
	ls.changeMu.Unlock()
}

// listened is the link for a connection the bank opened to the bank
// listener: a free one, else the one that has heard nothing longest,
// whose connection the new one replaces (a bank that reconnects after a
// drop the gateway has not seen). On the new connection's loop.
func (ls *links) listened() *link {
	for _, l := range ls.all {
		if !l.Up() && l.claimed.CompareAndSwap(false, true) {
			return l
		}
	}
	oldest := ls.all[0]
	for _, l := range ls.all[1:] {
		if l.lastRead.Load() < oldest.lastRead.Load() {
			oldest = l
		}
	}
	return oldest
}
