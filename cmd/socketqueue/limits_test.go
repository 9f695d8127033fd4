package main

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConnectionLimits: through the binary, a POS connection over
// --maxConnectionsPerAddr and an HTTP one over --maxConnections are
// closed at once, one that sends nothing is closed at
// --firstByteTimeout, and each is counted by its reason.
func TestConnectionLimits(t *testing.T) {
	bankPort, posPort, httpPort, adminPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	start(t, "bank link up", "--v", "--dataDir="+t.TempDir(), "--echoServerPort="+bankPort,
		"--upstreamHost=127.0.0.1", "--upstreamPort="+bankPort, "--listenPort="+posPort, "--listenFraming=header",
		"--listenHttpPort="+httpPort, "--adminPort="+adminPort,
		"--maxConnectionsPerAddr=2", "--maxConnections=3", "--firstByteTimeout=1")
	closedAtOnce := func(c net.Conn, within time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(within))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !strings.Contains(err.Error(), "timeout")
	}
	dial := func(from, port string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// POS: two from one address, a third from it refused.
	a, b := dial("127.0.0.1", posPort), dial("127.0.0.1", posPort)
	if _, err := b.Write([]byte("00")); err != nil { // half a header: heard, not closed for silence
		t.Fatal(err)
	}
	if !closedAtOnce(dial("127.0.0.1", posPort), 5*time.Second) {
		t.Fatal("a third POS connection from one address was kept")
	}
	if !closedAtOnce(a, 10*time.Second) {
		t.Fatal("a silent POS connection was kept past --firstByteTimeout")
	}
	// HTTP: three from three addresses, a fourth over the cap refused.
	dial("127.0.0.1", httpPort)
	dial("127.0.0.2", httpPort)
	dial("127.0.0.3", httpPort)
	if !closedAtOnce(dial("127.0.0.4", httpPort), 5*time.Second) {
		t.Fatal("an HTTP connection over --maxConnections was kept")
	}
	_, out := request(t, "GET", "http://127.0.0.1:"+adminPort+"/metrics", "", "")
	for _, want := range []string{`reason="connections_per_address"} 1`, `reason="connections"} 1`, `reason="no_first_byte"} 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("not counted: %s\n%s", want, grepLines(out, "refused"))
		}
	}
}
