package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/internal/tlsconf"
	"github.com/socketqueue/socketqueue-go/internal/tlspipe"
)

// link is one connection to the bank. Requests are appended to pending
// by any goroutine and written by the link's event loop, one write per
// wake-up. st belongs to that loop.
type link struct {
	g    *Gateway
	id   int32
	name string // the address dialled, or "listen": its label
	addr string // dialled ("" when the bank connects to us)
	st   loopState

	mu      sync.Mutex
	conn    gnet.Conn // nil while down
	pending []byte    // framed, not yet written
	spare   []byte
	woken   bool // a Wake is on its way to the loop
	held    bool // pending holds sends whose wake waits for wakeHeld
	loop    atomic.Pointer[loopRef]

	up       atomic.Bool
	lastIO   atomic.Int64 // Unix nanoseconds of the last byte either way
	lastRead atomic.Int64 // of the last byte from the bank
	downs    atomic.Int64
	sent     atomic.Int64    // clients' requests written on it
	echoOut  atomic.Bool     // an echo of ours awaits its reply on it
	misses   atomic.Int32    // echoes in a row unanswered
	signOn   atomic.Int32    // signedOff, signingOn, signedOn or declined
	rtt      atomic.Int64    // moving average round trip, ns
	claimed  atomic.Bool     // a bank's new connection is being attached (listen mode)
	metric   int             // its index in the metrics (-1: none)
	dropped  chan struct{}   // the dialler waits on it to redial
	tls      *tlsconf.Client // dialled over TLS (nil: plaintext)
}

type loopRef struct{ el gnet.EventLoop }

func newLink(g *Gateway, id int32, addr string) *link {
	name := addr
	if name == "" {
		name = "listen"
	}
	return &link{g: g, id: id, name: name, addr: addr, metric: -1, dropped: make(chan struct{}, 1)}
}

// Up reports whether the link is connected.
func (l *link) Up() bool { return l.up.Load() }

// Ready reports whether the link takes traffic: connected, signed on
// where the gateway signs on, and not out of rotation for unanswered
// echoes.
func (l *link) Ready() bool {
	cfg := &l.g.cfg
	return l.up.Load() && (!cfg.SignOn || l.signOn.Load() == signedOn) &&
		(cfg.EchoMisses <= 0 || l.misses.Load() < int32(cfg.EchoMisses))
}

// onLoop reports whether the caller runs on the link's event loop.
func (l *link) onLoop(el gnet.EventLoop) bool {
	cur := l.loop.Load()
	return cur != nil && cur.el == el
}

// attach makes c the link. It runs on c's loop (OnOpen).
func (l *link) attach(c gnet.Conn, peer peerTag) {
	l.mu.Lock()
	old := l.conn
	l.conn = c
	l.pending = l.pending[:0]
	l.woken = false
	l.mu.Unlock()
	if old != nil {
		_ = old.Close() // a bank that reconnects replaces its old link
	}
	l.loop.Store(&loopRef{c.EventLoop()})
	now := l.g.now().UnixNano()
	l.lastIO.Store(now)
	l.lastRead.Store(now)
	l.misses.Store(0)
	l.echoOut.Store(false)
	l.signOn.Store(signedOff)
	l.up.Store(true)
	l.claimed.Store(false)
	l.g.links.notify()
	ev := l.g.log.Info().Str("link", l.name).Str("peer", peer.addr.String())
	if peer.identity != "" {
		ev = ev.Str("bank", peer.identity)
	}
	ev.Bool("tls", peer.tls).Msg("bank link up")
}

// detach handles c closing; it reports whether c was the link.
func (l *link) detach(c gnet.Conn, err error) bool {
	l.mu.Lock()
	if l.conn != c {
		l.mu.Unlock()
		return false
	}
	l.conn = nil
	l.pending = l.pending[:0]
	l.mu.Unlock()
	l.loop.Store(nil)
	l.up.Store(false)
	l.downs.Add(1)
	l.g.links.notify()
	ev := l.g.log.Warn()
	if l.g.stopping.Load() {
		ev = l.g.log.Info() // closed by the stop itself
	}
	ev = ev.Str("link", l.name)
	if err != nil {
		ev = ev.Err(err)
	}
	ev.Msg("bank link down")
	select {
	case l.dropped <- struct{}{}:
	default:
	}
	return true
}

// How a send gets its bytes written: the loop is woken (sendWake); the
// caller is the link's loop and flushes before it returns (sendOnLoop);
// or the caller sends more and wakes the loop once for them all with
// wakeHeld (sendHeld), so that a batch goes in one write, not as many as
// the loop manages to start while the batch is still being queued.
type sendHow uint8

const (
	sendWake sendHow = iota
	sendOnLoop
	sendHeld
)

// send queues msg for the bank, to be written as how says.
func (l *link) send(msg []byte, how sendHow) error {
	l.mu.Lock()
	c := l.conn
	if c == nil {
		l.mu.Unlock()
		return ErrLinkDown
	}
	var err error
	if l.pending, err = l.g.cfg.HostFraming.Append(l.pending, msg); err != nil {
		l.mu.Unlock()
		return err
	}
	if how == sendHeld {
		l.held = true
	}
	wake := how == sendWake && !l.woken
	if wake {
		l.woken = true
	}
	l.mu.Unlock()
	if wake {
		// Wake runs the link's OnTraffic on its loop, which flushes.
		if err := c.Wake(nil); err != nil {
			return ErrLinkDown
		}
	}
	return nil
}

// wakeHeld wakes the loop for the sends held since the last wakeHeld.
func (l *link) wakeHeld() {
	l.mu.Lock()
	c := l.conn
	wake := l.held && !l.woken && c != nil && len(l.pending) > 0
	l.held = false
	if wake {
		l.woken = true
	}
	l.mu.Unlock()
	if wake {
		_ = c.Wake(nil)
	}
}

// wake has the link's callback run on its loop (unless a wake-up is
// already on its way), and reports false if the link is down.
func (l *link) wake() bool {
	l.mu.Lock()
	c := l.conn
	wake := c != nil && !l.woken
	if wake {
		l.woken = true
	}
	l.mu.Unlock()
	switch {
	case c == nil:
		return false
	case wake:
		return c.Wake(nil) == nil
	}
	return true
}

// unwake clears the wake-up on its way, on the link's loop before its
// callback looks for work (what the callback flushes covers what a
// wake-up was asked for until then).
func (l *link) unwake() {
	l.mu.Lock()
	l.woken = false
	l.mu.Unlock()
}

// soonBelow: less pending than this (a request or three, as from a
// terminal that sends one at a time) waits for the loop's other ready
// connections; more (a pipelining client's batch) is written at once.
// Measured on loopback: one at a time, 64 connections, +18%; pipelined
// unchanged (4 KiB cost pipelining 13%).
const soonBelow = 1 << 10

// flushOrSoon writes what is pending now if it is a batch worth a write
// of its own, else has the loop flush once it has handled the events it
// holds (a task queued by Wake runs after them), so that the requests of
// many connections share one write. It runs on the link's loop; now is
// the time of the caller's callback (Unix ns).
func (l *link) flushOrSoon(now int64) {
	l.mu.Lock()
	c, n := l.conn, len(l.pending)
	wake := c != nil && n > 0 && n < soonBelow && !l.woken
	if wake {
		l.woken = true
	}
	l.mu.Unlock()
	switch {
	case wake:
		_ = c.Wake(nil)
	case n >= soonBelow:
		l.flush(now)
	}
}

// flush writes what is pending; it runs on the link's loop at now (Unix
// ns).
func (l *link) flush(now int64) {
	l.mu.Lock()
	c := l.conn
	if c == nil || len(l.pending) == 0 {
		l.woken = false
		l.mu.Unlock()
		return
	}
	buf := l.pending
	l.pending, l.spare = l.spare[:0], nil
	l.woken = false
	l.mu.Unlock()
	if _, err := c.Write(buf); err != nil {
		l.g.log.Warn().Err(err).Str("link", l.name).Msg("bank link: write failed")
	}
	l.lastIO.Store(now)
	l.mu.Lock()
	if l.spare == nil {
		l.spare = buf[:0]
	}
	l.mu.Unlock()
}

// close drops the link (idle timeout, shutdown).
func (l *link) close() {
	l.mu.Lock()
	c := l.conn
	l.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// dial keeps a dialled link up until ctx ends: connect, hand the
// connection to the engine, wait for it to drop, wait, again.
func (l *link) dial(ctx context.Context) {
	g := l.g
	for ctx.Err() == nil {
		d := net.Dialer{Timeout: 10 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", l.addr)
		if err != nil {
			wait := g.cfg.RetryOther
			if errors.Is(err, syscall.ECONNREFUSED) {
				wait = g.cfg.RetryRefused
			}
			g.log.Warn().Err(err).Str("link", l.name).Stringer("retry_in", wait).Msg("bank link: connect failed")
			if !clock.Sleep(ctx, wait) {
				return
			}
			continue
		}
		if err := l.hand(ctx, conn); err != nil {
			g.log.Warn().Err(err).Str("link", l.name).Msg("bank link: not taken")
			if !clock.Sleep(ctx, g.cfg.RetryOther) {
				return
			}
			continue
		}
		select {
		case <-l.dropped:
		case <-ctx.Done():
			return
		}
		if !clock.Sleep(ctx, g.cfg.RetryOther) {
			return
		}
	}
}

// hand gives a dialled connection to the engine, through TLS when the
// link has it; conn is closed on an error.
func (l *link) hand(ctx context.Context, conn net.Conn) error {
	g := l.g
	peer := peerTag{addr: conn.RemoteAddr()}
	if l.tls == nil {
		defer conn.Close() // gnet has its own copy of the descriptor
		return tlspipe.Register(ctx, g.eng, conn, upstreamTag{peer, l})
	}
	host, _, _ := net.SplitHostPort(l.addr)
	sess, err := l.tls.Handshake(ctx, conn, host, g.cfg.TLSHandshake)
	if err != nil {
		return err
	}
	peer.tls, peer.identity = true, sess.Server
	return tlspipe.Enroll(ctx, g.eng, sess.Conn, upstreamTag{peer, l}, tlspipe.Options{WriteTimeout: pipeWriteTimeout, First: sess.First, Ended: func(err error) {
		if err != nil {
			g.log.Warn().Err(err).Str("link", l.name).Msg("bank link: TLS error")
		}
	}})
}
