package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/socketqueue/socketqueue-go/internal/testpki"
)

// TestMembersOverTLS: three nodes with mutual TLS on every port. A store
// with a member's certificate works; one without TLS, or with a
// certificate from another CA, is refused; on the route port a TLS
// handshake without a certificate fails and one with a member's succeeds
// (crypto/tls as the peer, not our own client).
func TestMembersOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.MustCA(t, dir, "ca")
	member := func(name string) TLSFiles {
		p := ca.MustIssue(t, name, testpki.Both, time.Now().Add(time.Hour))
		return TLSFiles{Cert: p.Cert, Key: p.Key, CA: ca.Path}
	}
	routePorts := make([]int, 3)
	monitor := freePort(t)
	nodes := startClusterWith(t, 3, func(i int, c *NodeConfig) {
		c.TLS = member("n" + strconv.Itoa(i+1))
		routePorts[i] = c.ClusterPort
		if i == 0 {
			c.MonitorPort = monitor
		}
	})
	s := openWith(t, nodes, StoreConfig{Instance: "gw-a", Lease: 5 * time.Second, TLS: member("gw-a")})
	ctx := ctxT(t)
	rev, _, err := s.Hold(ctx, "00000001", Record{Instance: "gw-a", Msg: []byte("0200")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "00000001", rev); err != nil {
		t.Fatal(err)
	}

	other := testpki.MustCA(t, t.TempDir(), "other")
	stranger := other.MustIssue(t, "stranger", testpki.Both, time.Now().Add(time.Hour))
	for _, c := range []struct {
		name string
		tls  TLSFiles
	}{
		{"no certificate", TLSFiles{}},
		{"another CA's certificate", TLSFiles{Cert: stranger.Cert, Key: stranger.Key, CA: ca.Path}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			s, err := Open(ctx, StoreConfig{URLs: urls(nodes), Instance: "intruder", Replicas: 3, TLS: c.tls})
			if !errors.Is(err, ErrRefused) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("without a member's certificate: %v, want ErrRefused", err)
			}
			t.Logf("refused: %v", err)
		})
	}

	probe := member("probe")
	mine, err := tls.LoadX509KeyPair(probe.Cert, probe.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{{"route without a certificate", nil, false}, {"route with a member's certificate", []tls.Certificate{mine}, true}} {
		t.Run(c.name, func(t *testing.T) {
			err := routeHandshake(t, routePorts[0], &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: c.certs})
			if c.ok != (err == nil) {
				t.Fatalf("handshake: %v, want ok=%v", err, c.ok)
			}
			t.Logf("handshake: %v", err)
		})
	}

	// The monitoring port is HTTPS, as curl sees it. NATS asks its
	// readers no certificate there (it clears client auth for it): what it
	// shows is the node's state, never a record.
	if curl, err := exec.LookPath("curl"); err != nil {
		t.Log("monitoring port not checked: no curl on this machine")
	} else {
		url := "https://127.0.0.1:" + strconv.Itoa(monitor) + "/varz"
		for _, c := range []struct {
			name string
			args []string
			ok   bool
		}{
			{"https with a member's certificate", []string{"--cacert", ca.Path, "--cert", probe.Cert, "--key", probe.Key, url}, true},
			{"https without a certificate", []string{"--cacert", ca.Path, url}, true},
			{"https to a client that does not trust the CA", []string{url}, false},
			{"plain http", []string{"http://127.0.0.1:" + strconv.Itoa(monitor) + "/varz"}, false},
		} {
			out, err := exec.Command(curl, append([]string{"-sS", "--max-time", "5"}, c.args...)...).CombinedOutput()
			if c.ok != (err == nil && strings.Contains(string(out), `"server_name": "n1"`)) {
				t.Errorf("curl, %s: %v\n%.300s", c.name, err, out)
			}
		}
	}

	// A client that speaks plain NATS is told TLS is required, and what
	// it sends instead of a handshake closes the connection unanswered.
	raw, err := net.DialTimeout("tcp", strings.TrimPrefix(nodes[0].ClientURL(), "tls://"), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(raw)
	if info, err := r.ReadString('\n'); err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("client INFO %q, %v", info, err)
	}
	raw.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n"))
	if reply, err := r.ReadString('\n'); err == nil || isTimeoutErr(err) {
		t.Fatalf("a plain client was answered %q, %v: want the connection closed", reply, err)
	}
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// routeHandshake dials a node's route port as a peer would: the TLS
// handshake comes first. A server that wants a certificate it did not get
// fails the handshake or, in TLS 1.3, shows it on the first read; one
// that took the peer sends its INFO.
func routeHandshake(t *testing.T, port int, conf *tls.Config) error {
	t.Helper()
	raw, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(raw, conf)
	if err := c.Handshake(); err != nil {
		return err
	}
	info, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(info, "INFO ") {
		t.Fatalf("route said %q after the handshake", info)
	}
	return nil
}

// TestStoreEncryptedAtRest: a record written through nodes with a
// storage key leaves no trace of its instance, terminal or message in
// any file under the nodes' directories; without the key the same
// search finds them (so the search can fail).
func TestStoreEncryptedAtRest(t *testing.T) {
	for _, c := range []struct {
		name      string
		key       string
		wantClear bool
	}{
		{"no key", "", true},
		{"key", strings.Repeat("k", minStoreKey), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dirs := make([]string, 3)
			nodes := startClusterWith(t, 3, func(i int, n *NodeConfig) { n.StoreKey, dirs[i] = c.key, n.Dir })
			s := open(t, nodes, "gw-needle", 5*time.Second)
			ctx := ctxT(t)
			msg := []byte("0200 PAN4111111111111111")
			if _, _, err := s.Hold(ctx, "77665544", Record{Instance: "gw-needle", Msg: msg}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			for i := range nodes {
				nodes[i].Shutdown() // flushes every block to its file
			}
			needles := [][]byte{[]byte("gw-needle"), []byte("77665544")}
			var found []string
			for _, d := range dirs {
				filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
					if err != nil || e.IsDir() {
						return nil
					}
					b, _ := os.ReadFile(path)
					for _, n := range needles {
						if bytes.Contains(b, n) {
							found = append(found, strings.TrimPrefix(path, d)+": "+string(n))
						}
					}
					return nil
				})
			}
			if c.wantClear != (len(found) > 0) {
				t.Fatalf("in the clear: %v, want some=%v", found, c.wantClear)
			}
			t.Logf("in the clear: %d", len(found))
		})
	}
}

func TestReadStoreKey(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, content string
		ok            bool
	}{
		{"long enough", strings.Repeat("s", 32) + "\n", true},
		{"short", "secret\n", false},
		{"white space only", strings.Repeat(" ", 40), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
			os.WriteFile(p, []byte(c.content), 0o600)
			key, err := ReadStoreKey(p)
			if c.ok != (err == nil) || (c.ok && key != strings.TrimSpace(c.content)) {
				t.Fatalf("ReadStoreKey: %q, %v", key, err)
			}
		})
	}
	if _, err := ReadStoreKey(filepath.Join(dir, "absent")); err == nil {
		t.Fatal("an absent file read")
	}
}

// TestStoreCredentialsInURL: an existing NATS server that wants a user
// and password (not one of ours: its options set here as an operator's
// configuration would): the store opens with them in the URL, and a wrong
// password is refused with an error that does not repeat it.
func TestStoreCredentialsInURL(t *testing.T) {
	port := freePort(t)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(),
		Username: "gateway", Password: "s3cret-word", NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for _, c := range []struct {
		name, url string
		ok        bool
	}{
		{"right password", "nats://gateway:s3cret-word@" + addr, true},
		{"wrong password", "nats://gateway:wr0ng-word@" + addr, false},
		{"none", "nats://" + addr, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := Open(ctx, StoreConfig{URLs: []string{c.url}, Instance: "gw-a", Replicas: 1})
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrRefused)) {
				t.Fatalf("Open: %v, want ok=%v or ErrRefused", err, c.ok)
			}
			if err != nil && (strings.Contains(err.Error(), "wr0ng") || strings.Contains(err.Error(), "s3cret")) {
				t.Fatalf("the error repeats the password: %v", err)
			}
			if s != nil {
				s.Close()
			}
		})
	}
}
