package bank

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/internal/boundaddr"
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
	// timers holds delayed writes so Shutdown can cancel them.
	timersMu sync.Mutex
	timers   map[*time.Timer]struct{}
	closed   bool
}

var _ gnet.EventHandler = (*Server)(nil)

// conn is one connection's scratch, owned by its event loop.
type conn struct {
	in    isocodec.Inbound
	frame isocodec.Scan // for bare framing, which scans to find the end
	scan  isocodec.Scan
	reply []byte
	out   []byte
}

// Start listens and serves until Shutdown. It returns once the listener
// is up, so Addr is valid.
func Start(cfg Config) (*Server, error) {
	if cfg.Host == nil || cfg.Framing == nil {
		return nil, errors.New("bank: server needs a host and a framing")
	}
	s := &Server{cfg: cfg, boot: make(chan error, 1), done: make(chan error, 1), timers: map[*time.Timer]struct{}{}}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReuseAddr(true),
		gnet.WithLogger(logging.Gnet(cfg.Log)),
	}
	if cfg.Loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(cfg.Loops))
	}
	go func() {
		err := gnet.Run(s, "tcp://"+cfg.Addr, opts...)
		select {
		case s.boot <- fmt.Errorf("bank: listen on %s: %w", cfg.Addr, err):
		default:
		}
		s.done <- err
	}()
	if err := <-s.boot; err != nil {
		return nil, err
	}
	return s, nil
}

// OnBoot learns the bound address (the port may have been 0).
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	var err error
	if s.addr, err = boundaddr.OfDup(eng.Dup()); err != nil {
		s.boot <- fmt.Errorf("bank: listener address: %w", err)
		return gnet.Shutdown
	}
	s.cfg.Log.Info().Str("addr", s.addr.String()).Str("dialect", s.cfg.Host.d.Name).Msg("bank emulator listening")
	s.boot <- nil
	return gnet.None
}

// Addr is the address the server listens on.
func (s *Server) Addr() *net.TCPAddr { return s.addr }

// Host is the server's host (its rules and ledger).
func (s *Server) Host() *Host { return s.cfg.Host }

// OnOpen gives the connection its scratch.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&conn{})
	s.cfg.Log.Info().Str("peer", c.RemoteAddr().String()).Msg("bank: connection opened")
	return nil, gnet.None
}

// OnClose notes the close.
func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	ev := s.cfg.Log.Info().Str("peer", c.RemoteAddr().String())
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
		s.cfg.Log.Warn().Err(err).Str("peer", c.RemoteAddr().String()).
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
		s.cfg.Log.Warn().Err(err).Str("peer", c.RemoteAddr().String()).Str("hex", host.d.LogHex(msg, false, s.cfg.Dangerous)).Msg("bank: not a message, closing")
		return false
	}
	if e := s.cfg.Log.Debug(); e.Enabled() {
		s.dump(e, "bank: request", msg)
		if !dec.Silent && !dec.Close {
			s.dump(s.cfg.Log.Debug(), "bank: reply", reply)
		}
	}
	switch {
	case dec.Close:
		s.cfg.Log.Info().Str("peer", c.RemoteAddr().String()).Msg("bank: closing abruptly (real life)")
		return false
	case dec.Silent:
		return true
	case dec.Delay > 0 || dec.Twice:
		framed, err := fr.Append(nil, reply)
		if err != nil {
			s.cfg.Log.Error().Err(err).Msg("bank: reply does not fit a frame")
			return true
		}
		s.later(c, framed, dec.Delay)
		if dec.Twice {
			s.later(c, framed, dec.Delay+RealLifeDuplicateAfter)
		}
		return true
	}
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
func (s *Server) later(c gnet.Conn, b []byte, d time.Duration) {
	s.timersMu.Lock()
	defer s.timersMu.Unlock()
	if s.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.timersMu.Lock()
		delete(s.timers, t)
		closed := s.closed
		s.timersMu.Unlock()
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
		if err = s.eng.Stop(ctx); err != nil {
			err = fmt.Errorf("bank: stop: %w", err)
			return
		}
		select {
		case <-s.done:
		case <-ctx.Done():
			err = fmt.Errorf("bank: stop: %w", ctx.Err())
		}
	})
	return err
}
