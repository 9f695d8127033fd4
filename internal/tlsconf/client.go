package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// ClientFiles is a dialler's TLS: the CA file the server's certificate
// must chain to ("" for the system's roots), an optional client
// certificate and key (mutual TLS), and the name the server's certificate
// must carry ("" for the host dialled).
type ClientFiles struct {
	CA, Cert, Key string
	ServerName    string
}

// Client is a dialler's TLS, read at start and again on Reload; each
// dial takes what was read last. Safe for concurrent use.
type Client struct {
	files ClientFiles
	conf  atomic.Pointer[tls.Config]
	// cache outlives reloads, so a redial resumes the last session.
	cache tls.ClientSessionCache
}

// NewClient reads f.
func NewClient(f ClientFiles) (*Client, error) {
	c := &Client{files: f, cache: tls.NewLRUClientSessionCache(4)}
	return c, c.Reload()
}

// Reload reads the files again; on an error, which names the file, the
// ones read before stay in use.
func (c *Client) Reload() error {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.files.ServerName, ClientSessionCache: c.cache}
	if c.files.CA != "" {
		pem, err := os.ReadFile(c.files.CA)
		if err != nil {
			return fmt.Errorf("TLS CA: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("TLS CA %s: no PEM certificate in it", c.files.CA)
		}
	}
	if c.files.Cert != "" || c.files.Key != "" {
		cert, err := tls.LoadX509KeyPair(c.files.Cert, c.files.Key)
		if err != nil {
			return fmt.Errorf("TLS client certificate %s with key %s: %w", c.files.Cert, c.files.Key, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	c.conf.Store(conf)
	return nil
}

// For is the configuration for a dial to host (the server name, unless
// one was given).
func (c *Client) For(host string) *tls.Config {
	conf := c.conf.Load()
	if conf.ServerName != "" {
		return conf
	}
	conf = conf.Clone()
	conf.ServerName = host
	return conf
}

// confirm waits up to wait for a TLS 1.3 server's verdict on the client
// certificate tc showed: TLS 1.3 servers check it after the client's side
// of the handshake is done, so a refusal arrives as an alert on the first
// read (also for a client that had no certificate to show), and without
// this a link refused would be up until then. It returns what the server
// sent meanwhile (for the reader), or the alert. On TLS 1.2, where the
// handshake itself carries the verdict, it returns at once.
func confirm(tc *tls.Conn, wait time.Duration) ([]byte, error) {
	if tc.ConnectionState().Version != tls.VersionTLS13 {
		return nil, nil
	}
	_ = tc.SetReadDeadline(time.Now().Add(wait))
	defer tc.SetReadDeadline(time.Time{})
	buf := make([]byte, 16<<10)
	n, err := tc.Read(buf)
	// Silence, a timeout, is acceptance (and leaves tc usable).
	if ne := net.Error(nil); err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		return nil, err
	}
	return buf[:n], nil
}

// confirmWait is how long Handshake waits for a TLS 1.3 server to refuse
// the client's certificate: a refusal takes one round trip, one to
// another continent under 300 ms.
const confirmWait = 300 * time.Millisecond

// Session is a dialled connection whose handshake is done and confirmed.
type Session struct {
	Conn *tls.Conn
	// First is what the server sent while Confirm waited, for the reader.
	First []byte
	// Server is the subject of the server's verified certificate.
	Server string
}

// Handshake runs the client's side of TLS on conn, dialled to host,
// within timeout, and confirms it (confirm). On an error conn is closed.
func (c *Client) Handshake(ctx context.Context, conn net.Conn, host string, timeout time.Duration) (Session, error) {
	tc := tls.Client(conn, c.For(host))
	hctx, cancel := context.WithTimeout(ctx, timeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		_ = conn.Close()
		return Session{}, fmt.Errorf("TLS handshake: %w", err)
	}
	first, err := confirm(tc, confirmWait)
	if err != nil {
		_ = conn.Close()
		return Session{}, fmt.Errorf("TLS: the server refused this client: %w", err)
	}
	cs := tc.ConnectionState()
	return Session{Conn: tc, First: first, Server: PeerIdentity(&cs)}, nil
}
