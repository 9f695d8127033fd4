package cluster

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TLSFiles are the PEM files of mutual TLS between the cluster's members:
// each node and each gateway shows Cert (its key in Key) and accepts only
// peers whose certificate chains to CA, on the client and the route port,
// so a member without a certificate from CA can neither read the shared
// state nor join as a node. The monitoring port, where there is one, is
// HTTPS with the same certificate; NATS asks its readers none there. The
// zero value is plain TCP.
type TLSFiles struct {
	Cert, Key, CA string
}

// On reports whether TLS is asked for.
func (f TLSFiles) On() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// check: all three or none, each readable.
func (f TLSFiles) check() error {
	if !f.On() {
		return nil
	}
	if f.Cert == "" || f.Key == "" || f.CA == "" {
		return errors.New("cluster TLS needs a certificate, its key and the CA, all three")
	}
	for _, p := range []string{f.Cert, f.Key, f.CA} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("cluster TLS: %w", err)
		}
	}
	return nil
}

// serverOpts applies the files to a node: clients and routes must show a
// certificate CA signed (RequireAndVerifyClientCert); the monitoring port,
// if any, moves to HTTPS.
func (f TLSFiles) serverOpts(opts *server.Options) error {
	if err := f.check(); err != nil || !f.On() {
		return err
	}
	tc := &server.TLSConfigOpts{CertFile: f.Cert, KeyFile: f.Key, CaFile: f.CA, Verify: true, Timeout: 5}
	clients, err := server.GenTLSConfig(tc)
	if err != nil {
		return fmt.Errorf("cluster TLS: %w", err)
	}
	// A node dials its routes too: it checks theirs against the same CA.
	routes := clients.Clone()
	routes.RootCAs = routes.ClientCAs
	opts.TLSConfig, opts.TLSVerify, opts.TLSTimeout = clients, true, tc.Timeout
	opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = routes, tc.Timeout
	if opts.HTTPPort != 0 {
		opts.HTTPSPort, opts.HTTPPort = opts.HTTPPort, 0
	}
	return nil
}

// clientOpts: the gateway shows its certificate and trusts only CA. The
// files are read again at each reconnect, so renewed ones are taken up
// without a restart.
func (f TLSFiles) clientOpts() ([]nats.Option, error) {
	if err := f.check(); err != nil || !f.On() {
		return nil, err
	}
	return []nats.Option{nats.ClientCert(f.Cert, f.Key), nats.RootCAs(f.CA)}, nil
}

// minStoreKey: a storage key shorter than this is refused; JetStream
// derives the cipher's key from it, so its strength is the secret's.
const minStoreKey = 32

// ReadStoreKey reads the secret of storage encryption from path: the
// file's content without surrounding white space, at least 32 characters.
func ReadStoreKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cluster storage key: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if len(key) < minStoreKey {
		return "", fmt.Errorf("cluster storage key %s: %d characters, want at least %d", path, len(key), minStoreKey)
	}
	return key, nil
}
