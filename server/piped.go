package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/socketqueue/socketqueue-go/internal/tlsconf"
	"github.com/socketqueue/socketqueue-go/internal/tlspipe"
)

// pipeWriteTimeout cuts off a TLS peer that stops reading what it is sent.
const pipeWriteTimeout = 30 * time.Second

// peerTag rides a piped connection into the engine (gnet's context): the
// TLS peer's address and certificate subject, which the loop's own end,
// a Unix socket, cannot tell.
type peerTag struct {
	addr     net.Addr
	identity string // "" without a client certificate
	tls      bool
}

// posTag marks a piped POS client.
type posTag struct{ peerTag }

// upstreamTag marks the bank link (dialled, or piped from the bank
// listener).
type upstreamTag struct{ peerTag }

// tlsFront is a listener whose TLS is ended off the loops: a Go listener,
// each handshake on its own goroutine within --tlsHandshakeTimeout, then
// the connection piped into the engine. One accept goroutine; the
// handshakes' goroutines end with them.
type tlsFront struct {
	ln   *tlsconf.Listener
	tls  *tlsconf.Server
	done chan struct{}
}

// listenTLS serves addr over TLS, registering each connection with the
// engine tagged by tag; limits (nil: none) are held until it closes.
// what names the listener in the log of a failed handshake, a warning
// when loud (the bank's), else a debug line (scanners knock all day).
func (g *Gateway) listenTLS(addr, what string, loud bool, files tlsconf.ServerFiles, limits *connLimits, tag func(peerTag) any) (*tlsFront, error) {
	srv, err := tlsconf.NewServer(files)
	if err != nil {
		return nil, err
	}
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	var ln net.Listener = raw
	if limits != nil {
		ln = &limitedListener{Listener: raw, limits: limits, refuse: g.refuseConn}
	}
	f := &tlsFront{tls: srv, done: make(chan struct{}),
		ln: tlsconf.NewListener(ln, srv.Config(), g.cfg.TLSHandshake, func(peer net.Addr, err error) {
			g.cfg.Metrics.Refused(refusedHandshake)
			ev := g.log.Debug()
			if loud {
				ev = g.log.Warn()
			}
			ev.Err(err).Str("peer", peer.String()).Msg(what + ": TLS handshake failed; closed")
		})}
	go f.accept(g, tag)
	return f, nil
}

func (f *tlsFront) addr() *net.TCPAddr { return f.ln.Addr().(*net.TCPAddr) }

func (f *tlsFront) close() {
	_ = f.ln.Close()
	<-f.done
}

func (f *tlsFront) accept(g *Gateway, tag func(peerTag) any) {
	defer close(f.done)
	for {
		c, err := f.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			g.log.Warn().Err(err).Msg("TLS listener: accept failed")
			continue
		}
		tc := c.(*tls.Conn)
		cs := tc.ConnectionState()
		if err := g.enrollTLS(context.Background(), tc, tag(peerTag{addr: c.RemoteAddr(), identity: tlsconf.PeerIdentity(&cs), tls: true}),
			tlspipe.Options{WriteTimeout: pipeWriteTimeout}); err != nil {
			g.log.Warn().Err(err).Str("peer", c.RemoteAddr().String()).Msg("TLS connection not taken")
		}
	}
}

// enrollTLS pipes tc, whose handshake is done, into the engine with tag
// as its context. On an error tc is closed.
func (g *Gateway) enrollTLS(ctx context.Context, tc *tls.Conn, tag any, o tlspipe.Options) error {
	return tlspipe.Enroll(ctx, g.eng, tc, tag, o)
}

// enroll hands conn to the engine with tag as its context.
func (g *Gateway) enroll(ctx context.Context, conn net.Conn, tag any) error {
	return tlspipe.Register(ctx, g.eng, conn, tag)
}
