package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCA makes certificates for the tests, written as PEM files in dir.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	path string // the CA's PEM
}

var serial int64 = 100

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, dir: dir, cert: cert, key: key, path: filepath.Join(dir, name+".pem")}
	writePEM(t, ca.path, "CERTIFICATE", der)
	return ca
}

// issue writes NAME.pem and NAME.key: a server certificate for 127.0.0.1
// or a client one, valid until notAfter.
func (ca *testCA) issue(name string, server bool, notAfter time.Time) (certFile, keyFile string) {
	t := ca.t
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name, Organization: []string{"Shop"}},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(ca.dir, name+".pem"), filepath.Join(ca.dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPMutualTLS: the HTTP API over mutual TLS, with curl and openssl
// as the clients. A good client certificate is served and its subject
// logged; none, one from another CA or an expired one is refused at the
// handshake and nothing reaches the bank; plaintext to the TLS port gets
// nothing. SIGHUP with a new certificate: new handshakes get it, a
// connection already open keeps working.
func TestHTTPMutualTLS(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed (the Makefile installs it with apt where it can)")
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	srvCert, srvKey := ca.issue("gateway-1", true, time.Now().Add(time.Hour))
	goodCert, goodKey := ca.issue("shop-one", false, time.Now().Add(time.Hour))
	oldCert, oldKey := ca.issue("shop-expired", false, time.Now().Add(-time.Hour))
	other := newTestCA(t, dir, "other-ca")
	strangerCert, strangerKey := other.issue("stranger", false, time.Now().Add(time.Hour))

	bankPort, bankHTTP, httpPort, adminPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	logFile := filepath.Join(dir, "gw.log")
	gw := start(t, "bank link up", "--v", "--dataDir="+dir, "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP,
		"--upstreamHost=127.0.0.1", "--upstreamPort="+bankPort, "--listenHttpPort="+httpPort, "--logFile="+logFile,
		"--listenHttpTlsCert="+srvCert, "--listenHttpTlsKey="+srvKey, "--listenHttpTlsClientCa="+ca.path,
		"--adminPort="+adminPort, "--tlsHandshakeTimeout=1")
	url := "https://127.0.0.1:" + httpPort + "/"
	stan := 0
	post := func(cert, key string) (string, error) {
		stan++
		body := strings.Replace(purchaseJSON(), `"11": 618160`, `"11": `+strconv.Itoa(stan), 1)
		args := []string{"-sS", "--max-time", "10", "--cacert", ca.path, "-H", "Content-Type: application/json", "-d", body}
		if cert != "" {
			args = append(args, "--cert", cert, "--key", key)
		}
		out, err := exec.Command(curl, append(args, url)...).CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct{ name, cert, key string }{
		{"no client certificate", "", ""},
		{"a certificate from another CA", strangerCert, strangerKey},
		{"an expired certificate", oldCert, oldKey},
	} {
		if out, err := post(tc.cert, tc.key); err == nil {
			t.Fatalf("%s: served: %s", tc.name, out)
		}
		if n := bankTotals(t, bankHTTP).Approved; n != 0 {
			t.Fatalf("%s: %d purchases reached the bank", tc.name, n)
		}
	}
	if out, err := post(goodCert, goodKey); err != nil || !strings.Contains(out, `"39":0`) && !strings.Contains(out, `"39":"000"`) {
		t.Fatalf("good certificate: %v %s", err, out)
	}
	if out, err := exec.Command(curl, "-sS", "--max-time", "5", "-d", "{}", "http://127.0.0.1:"+httpPort+"/").CombinedOutput(); err == nil {
		t.Fatalf("plaintext to the TLS port was answered: %s", out)
	}
	if n := bankTotals(t, bankHTTP).Approved; n != 1 {
		t.Fatalf("%d purchases at the bank, want 1", n)
	}
	// A client that connects and says nothing is closed at the deadline.
	silent, err := net.Dial("tcp", "127.0.0.1:"+httpPort)
	if err != nil {
		t.Fatal(err)
	}
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("a silent connection was not closed by the handshake deadline: %v", err)
	}
	silent.Close()
	if _, out := request(t, "GET", "http://127.0.0.1:"+adminPort+"/metrics", "", ""); !strings.Contains(out, `socketqueue_refused_total{reason="tls_handshake"} 5`) {
		t.Errorf("failed handshakes are not counted (3 certificates, plaintext, silence):\n%s", grepLines(out, "refused"))
	}

	// A connection opened before the reload.
	good, err := tls.LoadX509KeyPair(goodCert, goodKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	clientConf := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{good}, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+httpPort, clientConf)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keepAlive := func() {
		t.Helper()
		stan++
		body := strings.Replace(purchaseJSON(), `"11": 618160`, `"11": `+strconv.Itoa(stan), 1)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)); err != nil {
			t.Fatal(err)
		}
		status, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || !strings.Contains(status, " 200 ") {
			t.Fatalf("on the open connection: %q %v", status, err)
		}
	}
	keepAlive()
	// The session ticket it got resumes a second connection.
	again, err := tls.Dial("tcp", "127.0.0.1:"+httpPort, clientConf)
	if err != nil {
		t.Fatal(err)
	}
	if !again.ConnectionState().DidResume {
		t.Error("a second connection did not resume the session")
	}
	again.Close()

	// A new certificate in place of the old, then SIGHUP.
	ca.issue("gateway-2", true, time.Now().Add(time.Hour))
	for _, p := range [][2]string{{filepath.Join(dir, "gateway-2.pem"), srvCert}, {filepath.Join(dir, "gateway-2.key"), srvKey}} {
		if err := os.Rename(p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	gw.cmd.Process.Signal(syscall.SIGHUP)
	waitLine(t, gw, "TLS files re-read")
	out, _ := exec.Command(openssl, "s_client", "-connect", "127.0.0.1:"+httpPort, "-CAfile", ca.path,
		"-cert", goodCert, "-key", goodKey).CombinedOutput()
	if !strings.Contains(string(out), "CN=gateway-2") && !strings.Contains(string(out), "CN = gateway-2") || !strings.Contains(string(out), "Verify return code: 0") {
		t.Fatalf("after SIGHUP, openssl s_client:\n%s", out)
	}
	keepAlive()

	// A file that does not load: said, and the old one stays.
	if err := os.WriteFile(srvKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	gw.cmd.Process.Signal(syscall.SIGHUP)
	if line := waitLine(t, gw, "TLS files not reloaded"); !strings.Contains(line, srvKey) {
		t.Fatalf("the error does not name the file: %s", line)
	}
	if _, err := post(goodCert, goodKey); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
	gw.stop(t)
	if logs, _ := os.ReadFile(logFile); !strings.Contains(string(logs), "CN=shop-one") {
		t.Error("the client certificate's subject is not in the log")
	}
}
