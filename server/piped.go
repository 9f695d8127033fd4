package server

import (
	"context"
	"crypto/tls"
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

// listen binds addr; limits (nil: none) cap its connections, and with
// srv (nil: plaintext) it speaks TLS, each handshake on its own goroutine
// within --tlsHandshakeTimeout. what names it in the log of a failed
// handshake: a warning when loud (the bank's), else a debug line
// (scanners knock all day).
func (g *Gateway) listen(addr, what string, loud bool, limits *connLimits, srv *tlsconf.Server) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if limits != nil {
		ln = &limitedListener{Listener: ln, limits: limits, refuse: g.refuseConn}
	}
	if srv == nil {
		return ln, nil
	}
	return tlsconf.NewListener(ln, srv.Config(), g.cfg.TLSHandshake, func(peer net.Addr, err error) {
		g.cfg.Metrics.Refused(refusedHandshake)
		ev := g.log.Debug()
		if loud {
			ev = g.log.Warn()
		}
		ev.Err(err).Str("peer", peer.String()).Msg(what + ": TLS handshake failed; closed")
	}), nil
}

// tlsFront is a TLS listener whose connections are piped into the
// engine (tlspipe.Serve on its own goroutine).
type tlsFront struct {
	ln   net.Listener
	tls  *tlsconf.Server
	done chan struct{}
}

// listenTLS serves addr over TLS to the engine, each connection tagged by
// tag; see listen.
func (g *Gateway) listenTLS(addr, what string, loud bool, files tlsconf.ServerFiles, limits *connLimits, tag func(peerTag) any) (*tlsFront, error) {
	srv, err := tlsconf.NewServer(files)
	if err != nil {
		return nil, err
	}
	ln, err := g.listen(addr, what, loud, limits, srv)
	if err != nil {
		return nil, err
	}
	f := &tlsFront{ln: ln, tls: srv, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		tlspipe.Serve(context.Background(), ln, g.eng, tlspipe.Options{WriteTimeout: pipeWriteTimeout},
			func(tc *tls.Conn, identity string) any {
				return tag(peerTag{addr: tc.RemoteAddr(), identity: identity, tls: true})
			},
			func(peer string, err error) {
				g.log.Warn().Err(err).Str("peer", peer).Msg(what + ": TLS connection not taken")
			})
	}()
	return f, nil
}

func (f *tlsFront) addr() *net.TCPAddr { return f.ln.Addr().(*net.TCPAddr) }

func (f *tlsFront) close() {
	_ = f.ln.Close()
	<-f.done
}
