package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TLSFiles names a listener's certificate and key (PEM) and, for mutual
// TLS, the CA file its clients' certificates must chain to.
type TLSFiles struct {
	Cert, Key string
	// ClientCA, when set, makes a client certificate required.
	ClientCA string
}

// serverTLS is a listener's TLS: the files are read at start and again on
// Reload, and each new handshake takes what was read last, so connections
// already open keep theirs. Safe for concurrent use.
type serverTLS struct {
	files TLSFiles
	cert  atomic.Pointer[tls.Certificate]
	// mutual is the configuration with the client CAs read last; one
	// value per reload, so that its session ticket keys, made on first
	// use, serve every handshake until the next (resumption).
	mutual atomic.Pointer[tls.Config]
	base   *tls.Config
}

func newServerTLS(f TLSFiles) (*serverTLS, error) {
	s := &serverTLS{files: f}
	// TLS 1.2 at least, Go's cipher suites and curve preferences,
	// session tickets on.
	s.base = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}
	if f.ClientCA != "" {
		s.base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.mutual.Load(), nil }
	}
	return s, s.Reload()
}

// Reload reads the files again; on an error, which names the file, the
// ones read before stay in use.
func (s *serverTLS) Reload() error {
	cert, err := tls.LoadX509KeyPair(s.files.Cert, s.files.Key)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s: %w", s.files.Cert, s.files.Key, err)
	}
	var pool *x509.CertPool
	if s.files.ClientCA != "" {
		pem, err := os.ReadFile(s.files.ClientCA)
		if err != nil {
			return fmt.Errorf("TLS client CA: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("TLS client CA %s: no PEM certificate in it", s.files.ClientCA)
		}
	}
	s.cert.Store(&cert)
	if pool != nil {
		c := s.base.Clone()
		c.GetConfigForClient = nil
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = pool
		s.mutual.Store(c)
	}
	return nil
}

// config is the tls.Config for the listener.
func (s *serverTLS) config() *tls.Config { return s.base }

// peerIdentity is the subject of the client's verified certificate, or
// "" without one.
func peerIdentity(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return ""
	}
	return cs.VerifiedChains[0][0].Subject.String()
}

// tlsListener hands the server only connections whose TLS handshake is
// done. Each handshake runs on its own goroutine, bounded by timeout, so
// that a client that connects and says nothing holds no server goroutine
// past it; a handshake that fails or times out is counted with refuse and
// closed, never seen by the server.
type tlsListener struct {
	net.Listener
	conf    *tls.Config
	timeout time.Duration
	refuse  func(reason string, peer net.Addr)
	ready   chan net.Conn
	errs    chan error
	closed  chan struct{}
	once    sync.Once
}

func newTLSListener(ln net.Listener, conf *tls.Config, timeout time.Duration, refuse func(string, net.Addr)) *tlsListener {
	l := &tlsListener{Listener: ln, conf: conf, timeout: timeout, refuse: refuse,
		ready: make(chan net.Conn), errs: make(chan error), closed: make(chan struct{})}
	go l.accept()
	return l
}

func (l *tlsListener) accept() {
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

func (l *tlsListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.conf)
	_ = tc.SetDeadline(time.Now().Add(l.timeout))
	if err := tc.Handshake(); err != nil {
		l.refuse(refusedHandshake, c.RemoteAddr())
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
func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *tlsListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}
