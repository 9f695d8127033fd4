package main

import (
	"bufio"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/internal/testpki"
)

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
	ca := testpki.MustCA(t, dir, "ca")
	srv := ca.MustIssue(t, "gateway-1", testpki.Server, time.Now().Add(time.Hour))
	good := ca.MustIssue(t, "shop-one", testpki.Client, time.Now().Add(time.Hour))
	old := ca.MustIssue(t, "shop-expired", testpki.Client, time.Now().Add(-time.Hour))
	other := testpki.MustCA(t, dir, "other-ca")
	stranger := other.MustIssue(t, "stranger", testpki.Client, time.Now().Add(time.Hour))

	bankPort, bankHTTP, httpPort, adminPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	logFile := filepath.Join(dir, "gw.log")
	gw := start(t, "bank link up", "--v", "--dataDir="+dir, "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP,
		"--upstreamHost=127.0.0.1", "--upstreamPort="+bankPort, "--listenHttpPort="+httpPort, "--logFile="+logFile,
		"--listenHttpTlsCert="+srv.Cert, "--listenHttpTlsKey="+srv.Key, "--listenHttpTlsClientCa="+ca.Path,
		"--adminPort="+adminPort, "--tlsHandshakeTimeout=1")
	url := "https://127.0.0.1:" + httpPort + "/"
	stan := 0
	post := func(cert, key string) (string, error) {
		stan++
		body := strings.Replace(purchaseJSON(), `"11": 618160`, `"11": `+strconv.Itoa(stan), 1)
		args := []string{"-sS", "--max-time", "10", "--cacert", ca.Path, "-H", "Content-Type: application/json", "-d", body}
		if cert != "" {
			args = append(args, "--cert", cert, "--key", key)
		}
		out, err := exec.Command(curl, append(args, url)...).CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct{ name, cert, key string }{
		{"no client certificate", "", ""},
		{"a certificate from another CA", stranger.Cert, stranger.Key},
		{"an expired certificate", old.Cert, old.Key},
	} {
		if out, err := post(tc.cert, tc.key); err == nil {
			t.Fatalf("%s: served: %s", tc.name, out)
		}
		if n := bankTotals(t, bankHTTP).Approved; n != 0 {
			t.Fatalf("%s: %d purchases reached the bank", tc.name, n)
		}
	}
	if out, err := post(good.Cert, good.Key); err != nil || !strings.Contains(out, `"39":0`) && !strings.Contains(out, `"39":"000"`) {
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
	goodPair, err := tls.LoadX509KeyPair(good.Cert, good.Key)
	if err != nil {
		t.Fatal(err)
	}
	clientConf := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{goodPair}, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
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
	ca.MustIssue(t, "gateway-2", testpki.Server, time.Now().Add(time.Hour))
	for _, p := range [][2]string{{filepath.Join(dir, "gateway-2.pem"), srv.Cert}, {filepath.Join(dir, "gateway-2.key"), srv.Key}} {
		if err := os.Rename(p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	gw.cmd.Process.Signal(syscall.SIGHUP)
	waitLine(t, gw, "TLS files re-read")
	out, _ := exec.Command(openssl, "s_client", "-connect", "127.0.0.1:"+httpPort, "-CAfile", ca.Path,
		"-cert", good.Cert, "-key", good.Key).CombinedOutput()
	if !strings.Contains(string(out), "CN=gateway-2") && !strings.Contains(string(out), "CN = gateway-2") || !strings.Contains(string(out), "Verify return code: 0") {
		t.Fatalf("after SIGHUP, openssl s_client:\n%s", out)
	}
	keepAlive()

	// A file that does not load: said, and the old one stays.
	if err := os.WriteFile(srv.Key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	gw.cmd.Process.Signal(syscall.SIGHUP)
	if line := waitLine(t, gw, "TLS files not reloaded"); !strings.Contains(line, srv.Key) {
		t.Fatalf("the error does not name the file: %s", line)
	}
	if _, err := post(good.Cert, good.Key); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
	gw.stop(t)
	if logs, _ := os.ReadFile(logFile); !strings.Contains(string(logs), "CN=shop-one") {
		t.Error("the client certificate's subject is not in the log")
	}
}
