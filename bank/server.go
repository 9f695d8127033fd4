package bank

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/internal/boundaddr"
	"github.com/socketqueue/socketqueue-go/internal/gnetstop"
	"github.com/socketqueue/socketqueue-go/internal/tlsconf"
	"github.com/socketqueue/socketqueue-go/internal/version"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/logging"
)

// Config is what a Server needs. Host and Framing are required.
type Config struct {
	// Addr to listen on, host:port; port 0 picks a free one (see Addr).
	Addr    string
	Host    *Host
	Framing *isocodec.Framing
	Log     zerolog.Logger
	// Dangerous shows card data in message dumps (debug level only).
	Dangerous bool
	// Loops is the number of event loops; 0 means one per CPU.
	Loops int

	// TLS, when set, serves Addr over TLS (a gateway's client
	// certificate required when it has a client CA).
	TLS *tlsconf.Server
	// Connect, when set, is a gateway's bank listener: the server dials
	// it instead of listening on Addr, and dials again after a drop
	// (after Retry, 1 s when 0); ConnectTLS puts that link under TLS.
	Connect    string
	ConnectTLS *tlsconf.Client
	Retry      time.Duration
	// Handshake bounds a TLS handshake (10 s when 0).
	Handshake time.Duration
}

// Server is a Host on gnet event loops. Each connection may pipeline
// requests; the replies to one OnTraffic batch go out in one write, in
// request order, unless Faults delay them.
type Server struct {
	gnet.BuiltinEventEngine
	cfg  Config
	eng  gnet.Engine
	addr *net.TCPAddr
	boot chan error
	done chan error
	stop sync.Once
	// listener: the engine's listening socket, shut to stop it.
	listener gnetstop.Listeners
	// timers holds delayed writes so Shutdown can cancel them.
	timersMu sync.Mutex
	timers   map[*time.Timer]struct{}
	closed   bool

	// Off the loops (TLS, Connect): gnet listens on an internal port
	// only and is given each connection through Register.
	offLoop       bool
	ready         chan struct{} // closed by the first OnTick: Register is safe
	readyOne      sync.Once
	tlsLn         *tlsconf.Listener
	cancel        context.CancelFunc
	mode          atomic.Int32 // a Mode
	declineSignOn atomic.Bool
	open          sync.Map // gnet.Conn -> struct{}: the connections served
	bg            sync.WaitGroup
	dropped       chan struct{}
}

var _ gnet.EventHandler = (*Server)(nil)

// conn is one connection's scratch, owned by its event loop.
type conn struct {
	peer    string
	dialled bool // the link Connect keeps up
	in      isocodec.Inbound
	frame   isocodec.Scan // for bare framing, which scans to find the end
	scan    isocodec.Scan
	reply   []byte
	spare   []byte
	out     []byte
}

// Start listens and serves until Shutdown. It returns once the listener
// is up, so Addr is valid.
func Start(cfg Config) (*Server, error) {
	if cfg.Host == nil || cfg.Framing == nil {
		return nil, errors.New("bank: server needs a host and a framing")
	}
	s := &Server{cfg: cfg, boot: make(chan error, 1), done: make(chan error, 1), timers: map[*time.Timer]struct{}{},
		offLoop: cfg.TLS != nil || cfg.Connect != "", ready: make(chan struct{}), dropped: make(chan struct{}, 1)}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReuseAddr(true),
		gnet.WithLogger(s.listener.Logger(logging.Gnet(cfg.Log))),
	}
	if cfg.Loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(cfg.Loops))
	}
	addr := cfg.Addr
	if s.offLoop {
		addr = "127.0.0.1:0"
		opts = append(opts, gnet.WithTicker(true), gnet.WithLoadBalancing(gnet.LeastConnections))
	}
	go func() {
		err := gnet.Run(s, "tcp://"+addr, opts...)
		s.listener.Close()
		select {
		case s.boot <- fmt.Errorf("bank: listen on %s: %w", addr, err):
		default:
		}
		s.done <- err
	}()
	if err := <-s.boot; err != nil {
		return nil, err
	}
	if s.offLoop {
		if err := s.startOffLoop(); err != nil {
			_ = s.Shutdown(context.Background())
			return nil, err
		}
	}
	return s, nil
}

// OnBoot learns the bound address (the port may have been 0).
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	fd, err := eng.Dup()
	if err == nil {
		s.listener.Add(fd)
		s.addr, err = boundaddr.Of(fd)
	}
	if err != nil {
		s.boot <- fmt.Errorf("bank: listener address: %w", err)
		return gnet.Shutdown
	}
	if !s.offLoop {
		s.cfg.Log.Info().Str("addr", s.addr.String()).Str("dialect", s.cfg.Host.d.Name).Str("version", version.Get().String()).Msg("bank emulator listening")
	}
	s.boot <- nil
	return gnet.None
}

// Addr is the address the server listens on (nil when it connects).
func (s *Server) Addr() *net.TCPAddr { return s.addr }

// Host is the server's host (its rules and ledger).
func (s *Server) Host() *Host { return s.cfg.Host }

// OnOpen gives the connection its scratch.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	cc := &conn{peer: c.RemoteAddr().String()}
	tag, piped := c.Context().(peerTag)
	if s.offLoop && !piped {
		return nil, gnet.Close // the internal listener serves nobody
	}
	if s.Mode() == Refuse {
		s.cfg.Log.Info().Str("peer", cc.peer).Msg("bank: refusing connections; closed")
		return nil, gnet.Close
	}
	s.open.Store(c, struct{}{})
	ev := s.cfg.Log.Info()
	if piped {
		cc.peer, cc.dialled = tag.addr, tag.dialled
		if tag.identity != "" {
			ev = ev.Str("gateway", tag.identity)
		}
		ev = ev.Bool("tls", tag.tls)
	}
	c.SetContext(cc)
	ev.Str("peer", cc.peer).Msg("bank: connection opened")
	return nil, gnet.None
}

// OnTick shows that the loops run (Register is safe from then on).
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	s.readyOne.Do(func() { close(s.ready) })
	return time.Hour, gnet.None
}

// OnClose notes the close.
func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	cc, ok := c.Context().(*conn)
	if !ok {
		return gnet.None
	}
	s.open.Delete(c)
	if cc.dialled {
		select {
		case s.dropped <- struct{}{}:
		default:
		}
	}
	ev := s.cfg.Log.Info().Str("peer", cc.peer)
	if err != nil && !errors.Is(err, io.EOF) {
		ev = ev.Err(err)
	}
	ev.Msg("bank: connection closed")
	return gnet.None
}

// OnTraffic answers every complete request in the buffer and writes the
// replies in one go.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	cc := c.Context().(*conn)
	buf := cc.in.Take(c)
	cc.out = cc.out[:0]
	action := gnet.None
	off, err := s.cfg.Framing.Each(buf, &cc.frame, func(msg []byte) bool {
		if !s.answer(c, cc, msg) {
			action = gnet.Close
			return false
		}
		return true
	})
	if err != nil {
		s.cfg.Log.Warn().Err(err).Str("peer", cc.peer).
			Str("hex", s.cfg.Host.d.LogHex(buf[off:min(len(buf), off+64)], true, s.cfg.Dangerous)).Msg("bank: bad frame, closing")
		action = gnet.Close
	}
	cc.in.Keep(off)
	if len(cc.out) > 0 {
		if _, err := c.Write(cc.out); err != nil {
			return gnet.Close
		}
	}
	return action
}

// answer decides one request and queues its reply in cc.out (or for
// later); false closes the connection.
func (s *Server) answer(c gnet.Conn, cc *conn, msg []byte) bool {
	fr, host := s.cfg.Framing, s.cfg.Host
	reply, dec, err := host.Answer(cc.reply[:0], msg, &cc.scan)
	cc.reply = reply
	if err != nil {
		s.cfg.Log.Warn().Err(err).Str("peer", cc.peer).Str("hex", host.d.LogHex(msg, false, s.cfg.Dangerous)).Msg("bank: not a message, closing")
		return false
	}
	tid := host.enter(msg, &cc.scan)
	if s.Mode() == Mute {
		host.leave(tid)
		return true // decided, never answered
	}
	if s.declineSignOn.Load() && host.IsSignOn(msg, &cc.scan) {
		if cc.reply, err = host.DeclineSignOn(cc.spare[:0], reply); err != nil {
			s.cfg.Log.Error().Err(err).Msg("bank: cannot decline a sign-on")
			return true
		}
		cc.spare, reply = reply, cc.reply
		s.cfg.Log.Warn().Str("peer", cc.peer).Msg("bank: sign-on declined, as told")
	}
	if e := s.cfg.Log.Debug(); e.Enabled() {
		s.dump(e, "bank: request", msg)
		if !dec.Silent && !dec.Close {
			s.dump(s.cfg.Log.Debug(), "bank: reply", reply)
		}
	}
	switch {
	case dec.Close:
		host.leave(tid)
		s.cfg.Log.Info().Str("peer", cc.peer).Msg("bank: closing abruptly (real life)")
		return false
	case dec.Silent:
		host.leave(tid)
		return true
	case dec.Delay > 0 || dec.Twice:
		framed, err := fr.Append(nil, reply)
		if err != nil {
			host.leave(tid)
			s.cfg.Log.Error().Err(err).Msg("bank: reply does not fit a frame")
			return true
		}
		s.later(c, framed, dec.Delay, func() { host.leave(tid) })
		if dec.Twice {
			s.later(c, framed, dec.Delay+RealLifeDuplicateAfter, nil)
		}
		return true
	}
	host.leave(tid) // its reply goes with this batch
	if cc.out, err = fr.Append(cc.out, reply); err != nil {
		// A reply is never much longer than its request, which fitted.
		s.cfg.Log.Error().Err(err).Msg("bank: reply does not fit a frame")
	}
	return true
}

func (s *Server) dump(e *zerolog.Event, what string, msg []byte) {
	e.Msg(what + "\n" + s.cfg.Host.d.Dump(msg, isocodec.DumpOptions{Dangerous: s.cfg.Dangerous}))
}

// later writes b to c after d, from a timer goroutine, unless the server
// has shut down by then.
// written, when set, is called as the write goes.
func (s *Server) later(c gnet.Conn, b []byte, d time.Duration, written func()) {
	if written == nil {
		written = func() {}
	}
	s.timersMu.Lock()
	defer s.timersMu.Unlock()
	if s.closed {
		written()
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.timersMu.Lock()
		delete(s.timers, t)
		closed := s.closed
		s.timersMu.Unlock()
		written() // before the write: once written, the next may come at once
		if !closed {
			_ = c.AsyncWrite(b, nil) // the client may have gone; nothing to do
		}
	})
	s.timers[t] = struct{}{}
}

// Shutdown closes the listener and every connection, and cancels delayed
// replies.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.stop.Do(func() {
		s.timersMu.Lock()
		s.closed = true
		for t := range s.timers {
			t.Stop()
		}
		s.timers = nil
		s.timersMu.Unlock()
		s.stopOffLoop()
		// Not Engine.Stop alone: a gateway reconnecting as we stop would
		// keep a connection nobody serves (see gnetstop).
		if shut, serr := s.listener.Shut(); !shut {
			if serr != nil {
				s.cfg.Log.Warn().Err(serr).Msg("bank: stopping the engine instead")
			}
			if err = s.eng.Stop(ctx); err != nil {
				err = fmt.Errorf("bank: stop: %w", err)
				return
			}
		}
		select {
		case <-s.done:
		case <-ctx.Done():
			err = fmt.Errorf("bank: stop: %w", ctx.Err())
		}
	})
	return err
}
