package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/internal/testpki"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// tlsBare sends one bare message over TLS and reads until the gateway
// closes.
func tlsBare(addr string, conf *tls.Config, msg []byte) ([]byte, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	return io.ReadAll(c)
}

func approved(t *testing.T, reply []byte) bool {
	t.Helper()
	f, err := isocodec.SmartVista.Unpack(reply)
	return err == nil && f[0] == "0210" && f[39] == "000"
}

func clientConf(t *testing.T, ca *testpki.CA, p testpki.Pair) *tls.Config {
	t.Helper()
	conf := &tls.Config{RootCAs: ca.Pool()}
	if p.Cert != "" {
		pair, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			t.Fatal(err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	return conf
}

// TestPOSMutualTLS: the POS port over mutual TLS, with openssl s_client
// and a Go client as the terminals. A good certificate is served and
// its subject logged; none, one from another CA or an expired one is
// refused at the handshake and nothing reaches the bank; plaintext to the
// TLS port is closed. SIGHUP with a new certificate: new handshakes get
// it, a connection open before keeps working.
func TestPOSMutualTLS(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed (the Makefile installs it with apt where it can)")
	}
	dir := t.TempDir()
	ca := testpki.MustCA(t, dir, "ca")
	srv := ca.MustIssue(t, "gateway-1", testpki.Server, time.Now().Add(time.Hour))
	good := ca.MustIssue(t, "terminal-7", testpki.Client, time.Now().Add(time.Hour))
	old := ca.MustIssue(t, "terminal-expired", testpki.Client, time.Now().Add(-time.Hour))
	stranger := testpki.MustCA(t, dir, "other-ca").MustIssue(t, "stranger", testpki.Client, time.Now().Add(time.Hour))

	bankPort, bankHTTP, posPort, adminPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	gw := start(t, "bank link up", "--v", "--dataDir="+dir, "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP,
		"--upstreamHost=127.0.0.1", "--upstreamPort="+bankPort, "--listenPort="+posPort, "--adminPort="+adminPort,
		"--listenTlsCert="+srv.Cert, "--listenTlsKey="+srv.Key, "--listenTlsClientCa="+ca.Path, "--tlsHandshakeTimeout=2")
	addr := "127.0.0.1:" + posPort

	// openssl as a terminal: one bare purchase, the reply until the
	// gateway closes.
	sClient := func(stan int, cert testpki.Pair) ([]byte, error) {
		args := []string{"s_client", "-quiet", "-ign_eof", "-connect", addr, "-CAfile", ca.Path, "-verify_return_error"}
		if cert.Cert != "" {
			args = append(args, "-cert", cert.Cert, "-key", cert.Key)
		}
		cmd := exec.Command(openssl, args...)
		cmd.Stdin = bytes.NewReader(purchaseMsg(t, stan))
		var out, errs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errs
		err := cmd.Run()
		if err != nil {
			return out.Bytes(), err
		}
		return out.Bytes(), nil
	}
	for i, tc := range []struct {
		name string
		cert testpki.Pair
	}{
		{"no client certificate", testpki.Pair{}},
		{"a certificate from another CA", stranger},
		{"an expired certificate", old},
	} {
		if out, _ := sClient(100+i, tc.cert); approved(t, out) {
			t.Fatalf("%s: served", tc.name)
		}
		if reply, err := tlsBare(addr, clientConf(t, ca, tc.cert), purchaseMsg(t, 200+i)); err == nil && len(reply) > 0 {
			t.Fatalf("%s: a Go client was answered", tc.name)
		}
		if n := bankTotals(t, bankHTTP).Purchases; n != 0 {
			t.Fatalf("%s: %d purchases reached the bank", tc.name, n)
		}
	}
	out, err := sClient(1, good)
	if !approved(t, out) {
		t.Fatalf("openssl s_client with a good certificate: %v, reply %q", err, out)
	}
	if line := waitLine(t, gw, "POS client connected"); !strings.Contains(line, "CN=terminal-7") {
		t.Errorf("the client's subject is not logged: %s", line)
	}
	if reply, err := tlsBare(addr, clientConf(t, ca, good), purchaseMsg(t, 2)); err != nil || !approved(t, reply) {
		t.Fatalf("Go client with a good certificate: %v, reply %q", err, reply)
	}
	// Plaintext to the TLS port: closed at the handshake, nothing sent.
	if reply, err := bare(addr, purchaseMsg(t, 3)); err != nil || len(reply) != 0 {
		t.Fatalf("plaintext to the TLS port: %v, reply %q", err, reply)
	}
	if n := bankTotals(t, bankHTTP).Purchases; n != 2 {
		t.Fatalf("%d purchases at the bank, want 2", n)
	}
	if _, out := request(t, "GET", "http://127.0.0.1:"+adminPort+"/metrics", "", ""); !strings.Contains(out, `socketqueue_refused_total{reason="tls_handshake"} 7`) {
		t.Errorf("failed handshakes are not counted (3 openssl, 3 Go, plaintext):\n%s", grepLines(out, "refused"))
	}

	// A connection whose handshake is done before the reload.
	before, err := tls.Dial("tcp", addr, clientConf(t, ca, good))
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if err := before.Handshake(); err != nil {
		t.Fatal(err)
	}
	next := ca.MustIssue(t, "gateway-2", testpki.Server, time.Now().Add(time.Hour))
	for _, p := range [][2]string{{next.Cert, srv.Cert}, {next.Key, srv.Key}} {
		if err := os.Rename(p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	gw.cmd.Process.Signal(syscall.SIGHUP)
	waitLine(t, gw, "SIGHUP: TLS files re-read")
	conn, err := tls.Dial("tcp", addr, clientConf(t, ca, good))
	if err != nil {
		t.Fatal(err)
	}
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "gateway-2" {
		t.Errorf("after SIGHUP a new handshake got %q, want gateway-2", cn)
	}
	conn.Close()
	before.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := before.Write(purchaseMsg(t, 4)); err != nil {
		t.Fatal(err)
	}
	if reply, err := io.ReadAll(before); err != nil || !approved(t, reply) {
		t.Fatalf("a connection opened before SIGHUP: %v, reply %q", err, reply)
	}
	if code := gw.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestBankLinkMutualTLS: the gateway dials the emulator over mutual TLS:
// purchases, a reversal after a muted reply, the emulator gone and back
// (the link comes up again by itself), a wrong server name and a missing
// client certificate refused. Then the other way round: the gateway
// listens for the bank over TLS and the emulator dials it. TLS sent to
// the plaintext POS port is closed at once.
func TestBankLinkMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.MustCA(t, dir, "ca")
	bankCert := ca.MustIssue(t, "bank.test", testpki.Both, time.Now().Add(time.Hour))
	gwCert := ca.MustIssue(t, "gateway.test", testpki.Both, time.Now().Add(time.Hour))

	bankPort, bankHTTP, posPort, adminPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	httpPort := strconv.Itoa(freePort(t))
	bankArgs := []string{"--v", "--echoServerPort=" + bankPort, "--bankHttpPort=" + bankHTTP, "--bankMuteEvery=3",
		"--bankTls", "--bankTlsCert=" + bankCert.Cert, "--bankTlsKey=" + bankCert.Key, "--bankTlsCa=" + ca.Path}
	bk := start(t, "bank emulator listening", bankArgs...)
	gwArgs := []string{"--v", "--dataDir=" + dir, "--upstreamHost=127.0.0.1", "--upstreamPort=" + bankPort,
		"--upstreamTls", "--upstreamTlsCa=" + ca.Path, "--upstreamTlsCert=" + gwCert.Cert, "--upstreamTlsKey=" + gwCert.Key,
		"--upstreamTlsServerName=bank.test", "--upstreamRetry=1", "--listenPort=" + posPort, "--adminPort=" + adminPort,
		"--queueTimeout=1", "--queueShortTimeout=1", "--listenHttpPort=" + httpPort}
	gw := start(t, "bank link up", gwArgs...)
	if !strings.Contains(gw.ready, "bank=") || !strings.Contains(gw.ready, "CN=bank.test") || !strings.Contains(gw.ready, "tls=true") {
		t.Errorf("the link's log does not name the bank's certificate: %s", gw.ready)
	}
	if line := waitLine(t, bk, "bank: connection opened"); !strings.Contains(line, "CN=gateway.test") {
		t.Errorf("the emulator does not log the gateway's certificate: %s", line)
	}
	pos := "127.0.0.1:" + posPort
	ok := 0
	for i := 1; i <= 6; i++ {
		reply, err := bare(pos, purchaseMsg(t, i))
		if err != nil {
			t.Fatal(err)
		}
		if approved(t, reply) {
			ok++
		}
	}
	if ok != 4 {
		t.Fatalf("%d of 6 purchases approved, want 4 (every 3rd muted)", ok)
	}
	waitFor(t, "the two muted purchases reversed", func() bool {
		return bankTotals(t, bankHTTP).Reversals == 2 && metric(t, adminPort, "socketqueue_reversals_pending") == 0
	})

	// TLS to the plaintext POS port and HTTP API: closed at once,
	// nothing sent; the POS refusal counted.
	before := bankTotals(t, bankHTTP).Purchases
	for _, port := range []string{posPort, httpPort} {
		raw, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err == nil || strings.Contains(err.Error(), "timeout") {
			t.Errorf("a TLS handshake on plaintext port %s: %v, want closed at once", port, err)
		}
		raw.Close()
	}
	if v := metric(t, adminPort, `socketqueue_refused_total{reason="tls_on_plaintext"}`); v != 1 {
		t.Errorf("refused tls_on_plaintext = %v, want 1", v)
	}
	if n := bankTotals(t, bankHTTP).Purchases; n != before {
		t.Errorf("TLS to plaintext ports: %d purchases at the bank, want %d", n, before)
	}

	// The emulator goes and comes back on the same port.
	bk.stop(t)
	waitLine(t, gw, "bank link down")
	bk = start(t, "bank emulator listening", bankArgs...)
	waitLine(t, gw, "bank link up")
	if reply, err := bare(pos, purchaseMsg(t, 7)); err != nil || !approved(t, reply) {
		t.Fatalf("after the reconnect: %v, reply %q", err, reply)
	}

	// A gateway that expects another name, and one without a client
	// certificate: neither link comes up.
	for _, tc := range []struct {
		name, drop, add, want string
	}{
		{"wrong server name", "--upstreamTlsServerName=bank.test", "--upstreamTlsServerName=other-bank.test", "other-bank.test"},
		{"no client certificate", "--upstreamTlsCert=" + gwCert.Cert, "", "certificate required"},
	} {
		args := []string{"--dataDir=" + t.TempDir(), "--listenPort=" + strconv.Itoa(freePort(t))}
		for _, a := range gwArgs[2:] {
			switch {
			case a == tc.drop && tc.add != "":
				args = append(args, tc.add)
			case a == tc.drop, tc.add == "" && a == "--upstreamTlsKey="+gwCert.Key:
			case strings.HasPrefix(a, "--listenPort="), strings.HasPrefix(a, "--adminPort="), strings.HasPrefix(a, "--dataDir="),
				strings.HasPrefix(a, "--listenHttpPort="):
			default:
				args = append(args, a)
			}
		}
		other := start(t, "gateway listening", append([]string{"--v"}, args...)...)
		line := waitLine(t, other, "bank link")
		if !strings.Contains(line, "not taken") || !strings.Contains(line, tc.want) {
			t.Errorf("%s: %s", tc.name, line)
		}
		other.cmd.Process.Kill()
	}
	if n := bankTotals(t, bankHTTP).Purchases; n != 1 {
		t.Errorf("%d purchases at the restarted emulator, want 1", n)
	}
	if code := gw.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	bk.stop(t)

	// The bank dials the gateway: --upstreamListenPort over TLS, the
	// emulator with --bankConnectPort.
	listenPort, posPort2 := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	lgw := start(t, "gateway listening", "--v", "--dataDir="+t.TempDir(), "--upstreamListenPort="+listenPort,
		"--upstreamTls", "--upstreamTlsCert="+gwCert.Cert, "--upstreamTlsKey="+gwCert.Key, "--upstreamTlsCa="+ca.Path,
		"--listenPort="+posPort2)
	start(t, "bank emulator connecting", "--v", "--bankConnectPort="+listenPort, "--bankTls",
		"--bankTlsCa="+ca.Path, "--bankTlsCert="+bankCert.Cert, "--bankTlsKey="+bankCert.Key, "--bankTlsServerName=gateway.test")
	if line := waitLine(t, lgw, "bank link up"); !strings.Contains(line, "CN=bank.test") {
		t.Errorf("the bank's client certificate is not logged: %s", line)
	}
	if reply, err := bare("127.0.0.1:"+posPort2, purchaseMsg(t, 8)); err != nil || !approved(t, reply) {
		t.Fatalf("bank dialling in over TLS: %v, reply %q", err, reply)
	}
}

// TestPOSTLSOnTheLoops: TLS POS clients whose records the event loops
// move. Framed clients pipelining purchases on connections spread over
// the loops (so replies cross from the link's loop) and bare ones (a
// handshake each) are all answered, by TID and STAN. The limits count a
// TLS connection until its loop closes it; one silent after its
// handshake is closed at --firstByteTimeout with close_notify, and its
// place is free again.
func TestPOSTLSOnTheLoops(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.MustCA(t, dir, "ca")
	srv := ca.MustIssue(t, "gateway", testpki.Server, time.Now().Add(time.Hour))
	conf := &tls.Config{RootCAs: ca.Pool(), ServerName: "gateway"}
	dialTLS := func(addr string) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, conf)
	}
	for _, tc := range []struct {
		name             string
		framed           bool
		n, clients, tids int
	}{
		{"framed, pipelined", true, 320, 8, 80},
		{"bare", false, 80, 8, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bankPort, bankHTTP, posPort, adminPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
			args := []string{"--v", "--dataDir=" + t.TempDir(), "--echoServerPort=" + bankPort, "--bankHttpPort=" + bankHTTP,
				"--upstreamHost=127.0.0.1", "--upstreamPort=" + bankPort, "--listenPort=" + posPort, "--adminPort=" + adminPort,
				"--listenTlsCert=" + srv.Cert, "--listenTlsKey=" + srv.Key, "--maxConnectionsPerAddr=10", "--firstByteTimeout=2"}
			if tc.framed {
				args = append(args, "--listenFraming=header")
			}
			start(t, "bank link up", args...)
			addr := "127.0.0.1:" + posPort
			got := sendPurchases(t, addr, 0, tc.n, tc.clients, tc.tids, tc.framed, dialTLS)
			approvedN := 0
			for _, ok := range got {
				if ok {
					approvedN++
				}
			}
			if len(got) != tc.n || approvedN != tc.n {
				t.Fatalf("%d of %d purchases approved to their clients (%d answered)", approvedN, tc.n, len(got))
			}
			if n := bankTotals(t, bankHTTP).Purchases; n != int64(tc.n) {
				t.Fatalf("%d purchases at the bank, want %d", n, tc.n)
			}
			// The places of the clients above were given back: ten
			// silent connections fit, the eleventh is refused.
			waitFor(t, "the POS places given back", func() bool {
				return metric(t, adminPort, "socketqueue_pos_connections") == 0
			})
			var silent []net.Conn
			for range 10 {
				c, err := dialTLS(addr)
				if err != nil {
					t.Fatalf("a TLS connection within --maxConnectionsPerAddr: %v", err)
				}
				defer c.Close()
				silent = append(silent, c)
			}
			if c, err := dialTLS(addr); err == nil {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
					t.Fatal("an eleventh TLS connection from one address was kept")
				}
				c.Close()
			}
			for _, c := range silent {
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
					t.Fatalf("a silent TLS client: read %d, %v; want close_notify at --firstByteTimeout", n, err)
				}
			}
			if again := sendPurchases(t, addr, 0, 1, 1, 1, tc.framed, dialTLS); !again["00000001/000001"] {
				t.Fatalf("after the silent ones were closed: %v", again)
			}
		})
	}
}
