package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync/atomic"
)

// ServerFiles names a listener's certificate and key (PEM) and, for
// mutual TLS, the CA file its clients' certificates must chain to.
type ServerFiles struct {
	Cert, Key string
	// ClientCA, when set, makes a client certificate required.
	ClientCA string
}

// Server is a listener's TLS: the files are read at start and again on
// Reload, and each new handshake takes what was read last, so connections
// already open keep theirs. Safe for concurrent use.
type Server struct {
	files ServerFiles
	cert  atomic.Pointer[tls.Certificate]
	// mutual is the configuration with the client CAs read last; one
	// value per reload, so that its session ticket keys, made on first
	// use, serve every handshake until the next (resumption).
	mutual atomic.Pointer[tls.Config]
	base   *tls.Config
}

// NewServer reads f.
func NewServer(f ServerFiles) (*Server, error) {
	s := &Server{files: f}
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
func (s *Server) Reload() error {
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

// Config is the tls.Config for the listener.
func (s *Server) Config() *tls.Config { return s.base }

// Mutual reports whether clients must show a certificate.
func (s *Server) Mutual() bool { return s.files.ClientCA != "" }

// PeerIdentity is the subject of the peer's verified certificate, or
// "" without one.
func PeerIdentity(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return ""
	}
	return cs.VerifiedChains[0][0].Subject.String()
}
