// Package testpki makes certificate authorities and certificates for
// tests and benchmarks, written as PEM files, so that TLS is exercised
// with real certificates and real clients (curl, openssl) without any
// fixture that expires. Never for production keys.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// CA is a certificate authority whose certificate is at Path.
type CA struct {
	Dir, Path string
	cert      *x509.Certificate
	key       *ecdsa.PrivateKey
}

// Pair names a certificate's PEM file and its key's.
type Pair struct{ Cert, Key string }

// Use says what a certificate is for.
type Use int

const (
	// Server certificates name 127.0.0.1, ::1, localhost and their own
	// name (as a DNS name).
	Server Use = iota
	// Client certificates carry their name as the subject.
	Client
	// Both is a server certificate that also serves as a client one, as
	// a bank's often does.
	Both
)

var serial atomic.Int64

// NewCA makes a CA valid for a day, writing NAME.pem in dir.
func NewCA(dir, name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	ca := &CA{Dir: dir, cert: cert, key: key, Path: filepath.Join(dir, name+".pem")}
	return ca, writePEM(ca.Path, "CERTIFICATE", der)
}

// Issue writes NAME.pem and NAME.key: a certificate for use, valid from
// two hours ago until notAfter (in the past for an expired one).
func (ca *CA) Issue(name string, use Use, notAfter time.Time) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("testpki: %w", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)),
		Subject:   pkix.Name{CommonName: name, Organization: []string{"Shop"}},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature}
	if use == Server || use == Both {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		if use == Both {
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.DNSNames = []string{"localhost", name}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return Pair{}, fmt.Errorf("testpki: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Pair{}, fmt.Errorf("testpki: %w", err)
	}
	p := Pair{Cert: filepath.Join(ca.Dir, name+".pem"), Key: filepath.Join(ca.Dir, name+".key")}
	if err := writePEM(p.Cert, "CERTIFICATE", der); err != nil {
		return Pair{}, err
	}
	return p, writePEM(p.Key, "EC PRIVATE KEY", kder)
}

// Pool is a pool holding the CA, for a Go client or server.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func writePEM(path, kind string, der []byte) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	return nil
}

// TB is the part of testing.TB the Must helpers use.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// MustCA is NewCA for a test: it fails t on an error.
func MustCA(t TB, dir, name string) *CA {
	t.Helper()
	ca, err := NewCA(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// MustIssue is Issue for a test.
func (ca *CA) MustIssue(t TB, name string, use Use, notAfter time.Time) Pair {
	t.Helper()
	p, err := ca.Issue(name, use, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// MustTLS is a certificate for a Go server named "server" from a new CA in
// dir, and the client configuration that trusts it.
func MustTLS(t TB, dir string) (server tls.Certificate, client *tls.Config) {
	t.Helper()
	ca := MustCA(t, dir, "ca")
	p := ca.MustIssue(t, "server", Server, time.Now().Add(time.Hour))
	cert, err := tls.LoadX509KeyPair(p.Cert, p.Key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, &tls.Config{RootCAs: ca.Pool(), ServerName: "server"}
}
