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
	ready   chan net.Conn
	errs    chan error
	closed  chan struct{}
	once    sync.Once
}

// NewListener serves conf on ln; refuse is told of each handshake that
// failed or timed out, and why (and must not block).
func NewListener(ln net.Listener, conf *tls.Config, timeout time.Duration, refuse func(peer net.Addr, err error)) *Listener {
	l := &Listener{Listener: ln, conf: conf, timeout: timeout, refuse: refuse,
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
	tc := tls.Server(c, l.conf)
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
