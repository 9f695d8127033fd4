package bank

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/internal/tlsconf"
	"github.com/socketqueue/socketqueue-go/internal/tlspipe"
	"github.com/socketqueue/socketqueue-go/internal/version"
)

// peerTag rides a connection given to the loops through Register: its
// real peer (a piped one's loop end is a Unix socket) and TLS identity.
type peerTag struct {
	addr     string
	identity string
	tls      bool
	dialled  bool
}

const pipeWriteTimeout = 30 * time.Second

// startOffLoop starts the TLS listener or the dialler, once the loops
// run.
func (s *Server) startOffLoop() error {
	select {
	case <-s.ready:
	case err := <-s.done:
		return fmt.Errorf("bank: gnet stopped at start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if s.cfg.Connect != "" {
		s.addr = nil // it listens nowhere
		s.bg.Add(1)
		go func() { defer s.bg.Done(); s.dial(ctx) }()
		s.cfg.Log.Info().Str("gateway", s.cfg.Connect).Bool("tls", s.cfg.ConnectTLS != nil).Str("dialect", s.cfg.Host.d.Name).
			Msg("bank emulator connecting to the gateway")
		return nil
	}
	raw, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("bank: listen on %s: %w", s.cfg.Addr, err)
	}
	s.addr = raw.Addr().(*net.TCPAddr)
	s.tlsLn = tlsconf.NewListener(raw, s.cfg.TLS.Config(), s.handshake(), func(peer net.Addr, err error) {
		s.cfg.Log.Warn().Err(err).Str("peer", peer.String()).Msg("bank: TLS handshake failed or timed out; closed")
	}, nil)
	s.bg.Add(1)
	go func() { defer s.bg.Done(); s.accept(ctx) }()
	s.cfg.Log.Info().Str("addr", s.addr.String()).Bool("tls", true).Bool("mutual", s.cfg.TLS.Mutual()).
		Str("dialect", s.cfg.Host.d.Name).Str("version", version.Get().String()).Msg("bank emulator listening")
	return nil
}

func (s *Server) handshake() time.Duration {
	if s.cfg.Handshake > 0 {
		return s.cfg.Handshake
	}
	return 10 * time.Second
}

func (s *Server) stopOffLoop() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.tlsLn != nil {
		_ = s.tlsLn.Close()
	}
	s.bg.Wait()
}

func (s *Server) accept(ctx context.Context) {
	tlsconf.Serve(s.tlsLn,
		func(tc *tls.Conn, identity string) error {
			tag := peerTag{addr: tc.RemoteAddr().String(), identity: identity, tls: true}
			return tlspipe.Enroll(ctx, s.eng, tc, tag, tlspipe.Options{WriteTimeout: pipeWriteTimeout})
		},
		func(peer string, err error) {
			s.cfg.Log.Warn().Err(err).Str("peer", peer).Msg("bank: TLS connection not taken")
		})
}

// dial keeps one link to the gateway up until ctx ends.
func (s *Server) dial(ctx context.Context) {
	retry := s.cfg.Retry
	if retry <= 0 {
		retry = time.Second
	}
	for ctx.Err() == nil {
		if err := s.connect(ctx); err != nil {
			s.cfg.Log.Warn().Err(err).Str("gateway", s.cfg.Connect).Stringer("retry_in", retry).Msg("bank: cannot connect to the gateway")
			if !clock.Sleep(ctx, retry) {
				return
			}
			continue
		}
		select {
		case <-s.dropped:
		case <-ctx.Done():
			return
		}
		if !clock.Sleep(ctx, retry) {
			return
		}
	}
}

// connect dials the gateway once and gives the link to the loops.
func (s *Server) connect(ctx context.Context) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Connect)
	if err != nil {
		return err
	}
	tag := peerTag{addr: conn.RemoteAddr().String(), dialled: true}
	if s.cfg.ConnectTLS == nil {
		defer conn.Close() // gnet keeps its own copy
		return tlspipe.Register(ctx, s.eng, conn, tag)
	}
	host, _, _ := net.SplitHostPort(s.cfg.Connect)
	sess, err := s.cfg.ConnectTLS.Handshake(ctx, conn, host, s.handshake())
	if err != nil {
		return err
	}
	tag.tls, tag.identity = true, sess.Server
	return tlspipe.Enroll(ctx, s.eng, sess.Conn, tag, tlspipe.Options{WriteTimeout: pipeWriteTimeout, First: sess.First})
}

// ReloadTLS reads the TLS files again (SIGHUP): new handshakes get them,
// open connections keep theirs; on an error the old ones stay.
func (s *Server) ReloadTLS() error {
	if s.cfg.TLS != nil {
		if err := s.cfg.TLS.Reload(); err != nil {
			return fmt.Errorf("bank: %w", err)
		}
	}
	if s.cfg.ConnectTLS != nil {
		if err := s.cfg.ConnectTLS.Reload(); err != nil {
			return fmt.Errorf("bank: %w", err)
		}
	}
	return nil
}
