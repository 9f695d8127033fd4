package tlsconf

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// Listener hands the server only connections whose TLS handshake is
// done. Each handshake runs on its own goroutine, bounded by timeout, so
// that a client that connects and says nothing holds no server goroutine
// past it; a handshake that fails or times out is counted with refuse and
// closed, never seen by the server.
type Listener struct {
	net.Listener
	conf    *tls.Config
	timeout time.Duration
	refuse  func(peer net.Addr, err error)
	wrap    func(net.Conn) net.Conn
	ready   chan net.Conn
	errs    chan error
	closed  chan struct{}
	once    sync.Once
}

// NewListener serves conf on ln; refuse is told of each handshake that
// failed or timed out, and why (and must not block). wrap, when not nil,
// is the transport TLS is given for each accepted connection
// (tlsloop.Wrap).
func NewListener(ln net.Listener, conf *tls.Config, timeout time.Duration, refuse func(peer net.Addr, err error), wrap func(net.Conn) net.Conn) *Listener {
	if wrap == nil {
		wrap = func(c net.Conn) net.Conn { return c }
	}
	l := &Listener{Listener: ln, conf: conf, timeout: timeout, refuse: refuse, wrap: wrap,
		ready: make(chan net.Conn), errs: make(chan error), closed: make(chan struct{})}
	go l.accept()
	return l
}

func (l *Listener) accept() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.closed:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go l.handshake(c)
	}
}

func (l *Listener) handshake(c net.Conn) {
	tc := tls.Server(l.wrap(c), l.conf)
	_ = tc.SetDeadline(time.Now().Add(l.timeout))
	if err := tc.Handshake(); err != nil {
		l.refuse(c.RemoteAddr(), err)
		_ = c.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	select {
	case l.ready <- tc:
	case <-l.closed:
		_ = tc.Close()
	}
}

// Accept returns the next connection that completed its handshake.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Serve gives handle every connection ln accepts (a Listener's, whose
// handshake is done) with its client certificate's subject; failed is
// told of a failed accept (peer "") or of a connection handle refused,
// which handle has closed. It returns when ln is closed.
func Serve(ln net.Listener, handle func(tc *tls.Conn, identity string) error, failed func(peer string, err error)) {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			failed("", err)
			continue
		}
		tc := c.(*tls.Conn)
		cs := tc.ConnectionState()
		if err := handle(tc, PeerIdentity(&cs)); err != nil {
			failed(c.RemoteAddr().String(), err)
		}
	}
}
