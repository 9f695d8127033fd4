package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/socketqueue/socketqueue-go/internal/tlsconf"
	"github.com/socketqueue/socketqueue-go/internal/tlsloop"
	"github.com/socketqueue/socketqueue-go/internal/tlspipe"
)

// pipeWriteTimeout cuts off a TLS peer that stops reading what it is sent.
const pipeWriteTimeout = 30 * time.Second

// peerTag rides a TLS connection into the engine (gnet's context): the
// peer's address and certificate subject, which the loop's own end of a
// pipe, a Unix socket, cannot tell.
type peerTag struct {
	addr     net.Addr
	identity string // "" without a client certificate
	tls      bool
}

// posTag marks a TLS POS client, whose records its loop moves; its
// place in the POS limits is the posConn's to release.
type posTag struct {
	peerTag
	conn *tlsloop.Conn
}

// upstreamTag marks a bank link: the one dialled, or (nil) one the bank
// opened to the bank listener.
type upstreamTag struct {
	peerTag
	link *link
}

// listen binds addr; limits (nil: none) cap its connections, and with
// srv (nil: plaintext) it speaks TLS over wrap's transport (nil: the
// connection), each handshake on its own goroutine within
// --tlsHandshakeTimeout. what names it in the log of a failed handshake:
// a warning when loud (the bank's), else a debug line (scanners knock all
// day).
func (g *Gateway) listen(addr, what string, loud bool, limits *connLimits, srv *tlsconf.Server, wrap func(net.Conn) net.Conn) (net.Listener, error) {
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
	}, wrap), nil
}

// tlsFront is a TLS listener whose connections, handshake done, go to
// the engine (tlsconf.Serve on its own goroutine).
type tlsFront struct {
	ln   net.Listener
	tls  *tlsconf.Server
	done chan struct{}
}

// listenTLS serves addr over TLS (see listen) and gives each connection
// to enroll, which hands it to the engine or closes it.
func (g *Gateway) listenTLS(addr, what string, loud bool, files tlsconf.ServerFiles, limits *connLimits, wrap func(net.Conn) net.Conn, enroll func(tc *tls.Conn, p peerTag) error) (*tlsFront, error) {
	srv, err := tlsconf.NewServer(files)
	if err != nil {
		return nil, err
	}
	ln, err := g.listen(addr, what, loud, limits, srv, wrap)
	if err != nil {
		return nil, err
	}
	f := &tlsFront{ln: ln, tls: srv, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		tlsconf.Serve(ln,
			func(tc *tls.Conn, identity string) error {
				return enroll(tc, peerTag{addr: tc.RemoteAddr(), identity: identity, tls: true})
			},
			func(peer string, err error) {
				g.log.Warn().Err(err).Str("peer", peer).Msg(what + ": TLS connection not taken")
			})
	}()
	return f, nil
}

// enrollPOS gives a TLS POS client's socket to the loops, its records to
// be moved there (tlsloop); the place it holds in the POS limits goes
// with it, released when the loop closes it.
func (g *Gateway) enrollPOS(tc *tls.Conn, p peerTag) error {
	conn, ok := tlsloop.Of(tc)
	if !ok {
		_ = tc.Close()
		return errors.New("server: a POS TLS connection without its loop transport")
	}
	sock := conn.Socket()
	if lc, ok := sock.(*limitedConn); ok {
		sock = lc.handOver()
	}
	if err := tlspipe.Register(context.Background(), g.eng, sock, posTag{peerTag: p, conn: conn}); err != nil {
		_ = sock.Close()
		g.posLimits.release(p.addr)
		return err
	}
	return nil
}

// enrollBank pipes the bank's TLS connection to the bank listener into
// the loops.
func (g *Gateway) enrollBank(tc *tls.Conn, p peerTag) error {
	return tlspipe.Enroll(context.Background(), g.eng, tc, upstreamTag{p, nil}, tlspipe.Options{WriteTimeout: pipeWriteTimeout})
}

func (f *tlsFront) addr() *net.TCPAddr { return f.ln.Addr().(*net.TCPAddr) }

func (f *tlsFront) close() {
	_ = f.ln.Close()
	<-f.done
}
