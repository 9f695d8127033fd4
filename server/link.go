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

// link is the one connection to the bank. Requests are appended to
// pending by any goroutine and written by the link's event loop, one
// write per wake-up.
type link struct {
	g *Gateway

	mu      sync.Mutex
	conn    gnet.Conn // nil while down
	pending []byte    // framed, not yet written
	spare   []byte
	woken   bool // a Wake is on its way to the loop
	loop    atomic.Pointer[loopRef]

	up       atomic.Bool
	lastIO   atomic.Int64 // Unix nanoseconds of the last byte either way
	downs    atomic.Int64
	upCh     chan struct{} // closed and replaced on every change, for waiters
	changeMu sync.Mutex
	dropped  chan struct{}   // the dialler waits on it to redial
	tls      *tlsconf.Client // dialled over TLS (nil: plaintext)
}

type loopRef struct{ el gnet.EventLoop }

func newLink(g *Gateway) *link {
	return &link{g: g, upCh: make(chan struct{}), dropped: make(chan struct{}, 1)}
}

// Up reports whether the link is connected.
func (l *link) Up() bool { return l.up.Load() }

// changed returns a channel closed at the next change of state.
func (l *link) changed() <-chan struct{} {
	l.changeMu.Lock()
	defer l.changeMu.Unlock()
	return l.upCh
}

func (l *link) notify() {
	l.changeMu.Lock()
	close(l.upCh)
	l.upCh = make(chan struct{})
	l.changeMu.Unlock()
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
	l.lastIO.Store(l.g.now().UnixNano())
	l.up.Store(true)
	l.notify()
	ev := l.g.log.Info().Str("peer", peer.addr.String())
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
	l.notify()
	ev := l.g.log.Warn()
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

// send queues msg for the bank. onLoop says the caller runs on the link's
// loop and will call flushOnLoop before it returns; otherwise the loop is
// woken.
func (l *link) send(msg []byte, onLoop bool) error {
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
	wake := !onLoop && !l.woken
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

// soonBelow: less pending than this (a request or three, as from a
// terminal that sends one at a time) waits for the loop's other ready
// connections; more (a pipelining client's batch) is written at once.
// Measured on loopback: one at a time, 64 connections, +18%; pipelined
// unchanged (4 KiB cost pipelining 13%).
const soonBelow = 1 << 10

// flushOrSoon writes what is pending now if it is a batch worth a write
// of its own, else has the loop flush once it has handled the events it
// holds (a task queued by Wake runs after them), so that the requests of
// many connections share one write. It runs on the link's loop.
func (l *link) flushOrSoon() {
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
		l.flush()
	}
}

// flush writes what is pending; it runs on the link's loop.
func (l *link) flush() {
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
		l.g.log.Warn().Err(err).Msg("bank link: write failed")
	}
	l.lastIO.Store(l.g.loop.now) // flush runs on the link's loop
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
		conn, err := d.DialContext(ctx, "tcp", g.cfg.UpstreamAddr)
		if err != nil {
			wait := g.cfg.RetryOther
			if errors.Is(err, syscall.ECONNREFUSED) {
				wait = g.cfg.RetryRefused
			}
			g.log.Warn().Err(err).Dur("retry_in", wait).Msg("bank link: connect failed")
			if !clock.Sleep(ctx, wait) {
				return
			}
			continue
		}
		if err := l.hand(ctx, conn); err != nil {
			g.log.Warn().Err(err).Msg("bank link: not taken")
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
		return tlspipe.Register(ctx, g.eng, conn, upstreamTag{peer})
	}
	host, _, _ := net.SplitHostPort(g.cfg.UpstreamAddr)
	sess, err := l.tls.Handshake(ctx, conn, host, g.cfg.TLSHandshake)
	if err != nil {
		return err
	}
	peer.tls, peer.identity = true, sess.Server
	return tlspipe.Enroll(ctx, g.eng, sess.Conn, upstreamTag{peer}, tlspipe.Options{WriteTimeout: pipeWriteTimeout, First: sess.First, Ended: func(err error) {
		if err != nil {
			g.log.Warn().Err(err).Msg("bank link: TLS error")
		}
	}})
}
