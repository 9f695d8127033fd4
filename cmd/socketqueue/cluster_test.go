package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socketqueue/socketqueue-go/internal/testpki"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// startClusterGateways starts n gateways with embedded NATS nodes routed
// to one another, gateway i upstream to bankPorts[i] (or the only one);
// it returns them and their POS and admin ports once all are ready.
func startClusterGateways(t *testing.T, n int, bankPorts []string, lease string, extra ...string) (gws []*proc, pos, admin []string) {
	t.Helper()
	gws, pos, admin, _ = clusterGateways(t, n, bankPorts, lease, extra...)
	return gws, pos, admin
}

// clusterGateways is startClusterGateways that also returns each
// gateway's arguments, to start it again.
func clusterGateways(t *testing.T, n int, bankPorts []string, lease string, extra ...string) (gws []*proc, pos, admin []string, argv [][]string) {
	t.Helper()
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "127.0.0.1:" + strconv.Itoa(freePort(t))
	}
	for i := range n {
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, r)
			}
		}
		_, rport, _ := net.SplitHostPort(routes[i])
		bankPort := bankPorts[min(i, len(bankPorts)-1)]
		p, a := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
		args := append([]string{"--v", "--dataDir=" + t.TempDir(),
			"--cluster=embedded", "--clusterInstance=gw" + strconv.Itoa(i+1), "--clusterPort=" + strconv.Itoa(freePort(t)),
			"--clusterRoutePort=" + rport, "--clusterRoutes=" + strings.Join(others, ","), "--clusterLease=" + lease,
			"--upstreamHost=127.0.0.1", "--upstreamPort=" + bankPort, "--listenPort=" + p, "--listenFraming=header", "--adminPort=" + a}, extra...)
		gws = append(gws, start(t, "cluster node started", args...))
		pos, admin, argv = append(pos, p), append(admin, a), append(argv, args)
	}
	for i, g := range gws {
		waitLine(t, g, "gateway listening")
		waitFor(t, "gateway ready", func() bool { return isReady(admin[i]) })
	}
	return gws, pos, admin, argv
}

// isReady reports whether the gateway's admin port says /readyz 200 (a
// refused connection is not yet).
func isReady(adminPort string) bool {
	resp, err := http.Get("http://127.0.0.1:" + adminPort + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// writePurchases writes n framed purchases on one connection, STANs
// from stan, each for its own terminal from tid, and reads nothing: the
// connection, returned, stays open until the test ends.
func writePurchases(t *testing.T, addr string, stan, tid, n int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var out []byte
	for i := range n {
		msg := purchaseFor(t, stan+i, fmt.Sprintf("%08d", tid+i))
		out = append(append(out, fmt.Sprintf("%04d", len(msg))...), msg...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClusterTakeOver: three gateways as one cluster (embedded NATS
// nodes), one emulator answering slowly. Five times, one gateway (each in
// turn) is killed (-9) with 50 purchases at the bank: the survivors
// reverse every one of them once its lease has lapsed, none twice (the
// ledger); the killed one is started again, rejoins, and the next round
// goes.
func TestClusterTakeOver(t *testing.T) {
	bankPort, bankHTTP := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	start(t, "bank ledger at GET /bank", "--v", "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP, "--bankDelay=3")
	gws, pos, admin, argv := clusterGateways(t, 3, []string{bankPort}, "2")
	for round := range 5 {
		victim := round % 3
		var before float64
		for i := range gws {
			if i != victim {
				before += max(0, metric(t, admin[i], "socketqueue_cluster_takeovers_total"))
			}
		}
		tot := bankTotals(t, bankHTTP)
		writePurchases(t, "127.0.0.1:"+pos[victim], 1000+100*round, 500+100*round, 50)
		waitFor(t, "50 purchases at the bank", func() bool { return bankTotals(t, bankHTTP).Purchases == tot.Purchases+50 })
		gws[victim].cmd.Process.Signal(syscall.SIGKILL)
		<-gws[victim].done
		gws[victim].done <- nil // for the cleanup
		killed := time.Now()
		waitFor(t, "all 50 reversed", func() bool { return bankTotals(t, bankHTTP).Reversals == tot.Reversals+50 })
		t.Logf("round %d: gw%d killed, 50 reversed %v after", round+1, victim+1, time.Since(killed))
		var after float64
		for i := range gws {
			if i != victim {
				after += max(0, metric(t, admin[i], "socketqueue_cluster_takeovers_total"))
			}
		}
		if after-before != 50 {
			t.Errorf("round %d: the survivors count %v takeovers, want 50", round+1, after-before)
		}
		// The survivors' reversals are answered (settled) before the
		// next round: one killed mid-reversal would leave it to be
		// repeated, as it must be.
		waitFor(t, "the survivors' reversals settled", func() bool {
			for i := range gws {
				if i != victim && metric(t, admin[i], "socketqueue_reversals_pending") != 0 {
					return false
				}
			}
			return true
		})
		gws[victim] = start(t, "cluster node started", argv[victim]...)
		waitFor(t, "the killed gateway back", func() bool { return isReady(admin[victim]) })
	}
	for key, revs := range ledgerPurchases(t, bankHTTP) {
		if revs != 1 {
			t.Errorf("%s reversed %d times, want once", key, revs)
		}
	}
	if tot := bankTotals(t, bankHTTP); tot.RepeatedReversals != 0 || tot.Reversals != 250 {
		t.Errorf("%d reversals, %d repeated; want 250, 0", tot.Reversals, tot.RepeatedReversals)
	}
}

// TestClusterTerminalLock: mixed traffic for one terminal (purchases,
// refunds of a known transaction, authorizations the bank does not
// support), half sent to one gateway of the cluster and half to another
// at once: each is answered, and the bank never has two of the
// terminal's requests at the same time.
func TestClusterTerminalLock(t *testing.T) {
	bankPort, bankHTTP := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	start(t, "bank ledger at GET /bank", "--v", "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP, "--bankDelay=0.05")
	_, pos, _ := startClusterGateways(t, 3, []string{bankPort}, "5")
	const each = 30
	// request i of a gateway: a purchase (journaled, reversible), a
	// refund carrying the RRN of the purchase it undoes (never reversed)
	// or an authorization (0100, never reversed; the emulator answers it
	// "not supported").
	request := func(stan int) (msg []byte, wantMTI, want39 string) {
		base := isocodec.Fields{
			0: "0200", 3: "000000", 4: "000000000100", 7: "1125120000", 11: fmt.Sprintf("%06d", stan),
			12: time.Now().Format("060102150405"), 22: "051", 24: "200", 25: "00",
			35: "4850781234567891=19082012232800000037", 41: "00000042", 42: "000124642124643", 49: "810",
		}
		wantMTI, want39 = "0210", "000"
		switch stan % 3 {
		case 1:
			base[3], base[37] = "200000", fmt.Sprintf("%012d", stan)
		case 2:
			base[0], wantMTI, want39 = "0100", "0110", ""
		}
		m, err := isocodec.SmartVista.Pack(base)
		if err != nil {
			t.Fatal(err)
		}
		return m, wantMTI, want39
	}
	done := make(chan error, 2)
	for g := range 2 {
		go func() {
			c, err := net.Dial("tcp", "127.0.0.1:"+pos[g])
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			var out []byte
			want := map[string][2]string{}
			for i := range each {
				stan := 100*g + i + 1
				msg, mti, code := request(stan)
				want[fmt.Sprintf("%06d", stan)] = [2]string{mti, code}
				out = append(append(out, fmt.Sprintf("%04d", len(msg))...), msg...)
			}
			if _, err := c.Write(out); err != nil {
				done <- err
				return
			}
			head := make([]byte, 4)
			for range each {
				if _, err := io.ReadFull(c, head); err != nil {
					done <- err
					return
				}
				n, _ := strconv.Atoi(string(head))
				reply := make([]byte, n)
				if _, err := io.ReadFull(c, reply); err != nil {
					done <- err
					return
				}
				f, err := isocodec.SmartVista.Unpack(reply)
				w, ok := want[f[11]]
				if err != nil || !ok || f[0] != w[0] || (w[1] != "" && f[39] != w[1]) {
					done <- fmt.Errorf("gateway %d: reply %q (%v), want %v", g+1, reply, err, w)
					return
				}
				delete(want, f[11])
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	tot := bankTotals(t, bankHTTP)
	third := int64(2 * each / 3)
	if tot.Purchases != third || tot.Refunds != third || tot.Unsupported != third || tot.Overlaps != 0 {
		t.Fatalf("the bank saw %d purchases, %d refunds, %d authorizations, %d requests while another of the terminal's was there; want %d of each, 0 (%+v)",
			tot.Purchases, tot.Refunds, tot.Unsupported, tot.Overlaps, third, tot)
	}
}

// TestClusterPausedInstance: a gateway stopped (SIGSTOP) past its lease
// with 20 purchases at the bank; a survivor, on the bank's other port,
// reverses them. Resumed (SIGCONT), its own timeouts would reverse them
// too, and the bank's answers that came meanwhile would reach its
// clients as approvals of purchases now reversed: it finds its lease
// lapsed, sends none of those reversals (the ledger: each reversed once,
// no repeat) and gives its clients no approval, then takes purchases
// again.
func TestClusterPausedInstance(t *testing.T) {
	for _, tc := range []struct {
		name string
		// answered: the bank answers (after a second, while the gateway
		// is stopped) rather than never.
		answered bool
	}{
		{"never answered", false},
		{"answered while paused", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			portA, portB, bankHTTP := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
			bankArgs := []string{"--v", "--echoServerPort=" + portA, "--bankPorts=" + portB, "--bankHttpPort=" + bankHTTP}
			timeout := "--queueTimeout=3"
			if tc.answered {
				// A queue timeout past the pause: the answers, not the
				// timeouts, are what the resumed gateway meets first.
				bankArgs, timeout = append(bankArgs, "--bankDelay=1"), "--queueTimeout=30"
			}
			start(t, "bank ledger at GET /bank", bankArgs...)
			gws, pos, admin := startClusterGateways(t, 3, []string{portA, portB}, "2", timeout)
			if !tc.answered {
				setBankMode(t, bankHTTP, portA, "mute")
			}
			c, err := net.Dial("tcp", "127.0.0.1:"+pos[0])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var out []byte
			for i := range 20 {
				msg := purchaseFor(t, 2000+i, fmt.Sprintf("%08d", 700+i))
				out = append(append(out, fmt.Sprintf("%04d", len(msg))...), msg...)
			}
			if _, err := c.Write(out); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "20 purchases at the bank", func() bool { return bankTotals(t, bankHTTP).Purchases == 20 })
			gws[0].cmd.Process.Signal(syscall.SIGSTOP)
			waitFor(t, "the survivors reversed all 20", func() bool { return bankTotals(t, bankHTTP).Reversals == 20 })
			gws[0].cmd.Process.Signal(syscall.SIGCONT)
			if tc.answered {
				c.SetDeadline(time.Now().Add(60 * time.Second))
				r := bufio.NewReader(c)
				for range 20 {
					var head [4]byte
					if _, err := io.ReadFull(r, head[:]); err != nil {
						t.Fatalf("the paused gateway's client: %v", err)
					}
					n, _ := strconv.Atoi(string(head[:]))
					reply := make([]byte, n)
					if _, err := io.ReadFull(r, reply); err != nil {
						t.Fatalf("the paused gateway's client: %v", err)
					}
					if approved(t, reply) {
						f, _ := isocodec.SmartVista.Unpack(reply)
						t.Errorf("%s/%s: its client saw an approval of a purchase the survivors reversed", f[41], f[11])
					}
				}
				waitLine(t, gws[0], "answer withheld")
			} else {
				waitLine(t, gws[0], "reversal no longer this instance's")
				setBankMode(t, bankHTTP, portA, "serve")
			}
			// Its node catches up with the others first: purchases
			// meanwhile may time out or be withheld (its lease lapsing
			// again while renewals go unanswered) and are reversed, as
			// during an election; until a batch of five is approved.
			got := map[string]bool{}
			for i := range 20 {
				got[fmt.Sprintf("%08d/%06d", 700+i, 2000+i)] = false
			}
			probe := 3000
			waitFor(t, "the resumed gateway approves a batch of purchases again", func() bool {
				batch := sendPurchases(t, "127.0.0.1:"+pos[0], probe, 5, 1, 5, true, nil)
				probe += 5
				all := true
				for k, ok := range batch {
					got[k] = ok
					all = all && ok
				}
				return all
			})
			waitFor(t, "no reversal pending on any gateway", func() bool {
				for _, a := range admin {
					if metric(t, a, "socketqueue_reversals_pending") != 0 {
						return false
					}
				}
				return true
			})
			judgeReversals(t, bankHTTP, got)
			if tot := bankTotals(t, bankHTTP); tot.RepeatedReversals != 0 {
				t.Fatalf("the bank saw %d repeated reversals; want 0", tot.RepeatedReversals)
			}
		})
	}
}

// TestClusterNodeLost: three gateways, traffic through one; the gateway
// whose node leads the leases (the worst to lose: no lease is renewed
// until a new leader is elected) is killed mid-traffic. Every purchase
// is answered, none at the bank twice, every one withheld from its
// client reversed once, and a new batch goes through after the loss.
// With the default lease the election (NATS's election timeout is 4 to
// 9 s) ends inside it: nearly all are approved and the lease never
// lapses. With a lease shorter than the election it lapses: the answers
// that came meanwhile are withheld and their purchases reversed, once,
// the purchases behind them wait for the renewal, and traffic goes on
// (before, a terminal's next purchase waited for the record its
// reversal held while the reversal waited behind it: 600 of 1000 timed
// out; and a survivor could reverse what the lapsed one reversed too).
func TestClusterNodeLost(t *testing.T) {
	for _, tc := range []struct {
		name, lease string
		lapses      bool
	}{
		{"default lease", "20", false},
		{"lease shorter than the election", "5", true},
	} {
		t.Run(tc.name, func(t *testing.T) { nodeLost(t, tc.lease, tc.lapses) })
	}
}

func nodeLost(t *testing.T, lease string, mayLapse bool) {
	bankPort, bankHTTP := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	// Each terminal's ten purchases take ten seconds at the bank: the
	// traffic outlasts the election that follows the kill.
	start(t, "bank ledger at GET /bank", "--v", "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP, "--bankDelay=1")
	gws, pos, admin, argv := clusterGateways(t, 3, []string{bankPort}, lease)
	victim, records := streamLeader(t, argv, "KV_socketqueue-instances"), streamLeader(t, argv, "KV_socketqueue-terminals")
	via := (victim + 1) % 3
	if via == records {
		via = (victim + 2) % 3 // the other survivor, whose records' leader is not its own node
	}
	t.Logf("gw%d leads the leases, gw%d the records; killing gw%d, traffic through gw%d", victim+1, records+1, victim+1, via+1)
	fundCard(t, "127.0.0.1:"+pos[via])
	const n = 1000
	done := make(chan map[string]bool, 1)
	go func() { done <- sendPurchases(t, "127.0.0.1:"+pos[via], 0, n, 10, 100, true, nil) }()
	waitFor(t, "traffic under way", func() bool { return bankTotals(t, bankHTTP).Purchases >= 200 })
	gws[victim].cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	got := <-done
	if len(got) != n {
		t.Fatalf("%d of %d purchases answered", len(got), n)
	}
	t.Logf("the batch answered %v after the kill", time.Since(killed).Round(time.Millisecond))
	// Traffic goes on after the loss: a new batch, all approved.
	for k, ok := range sendPurchases(t, "127.0.0.1:"+pos[via], 5000, 10, 1, 10, true, nil) {
		if !ok {
			t.Errorf("after the node's loss: %s not approved", k)
		}
		got[k] = ok
	}
	for _, a := range []string{admin[via], admin[3-victim-via]} {
		waitFor(t, "every reversal done", func() bool { return metric(t, a, "socketqueue_reversals_pending") == 0 })
	}
	approvedN := approvedOf(got)
	atBank, reversed := judgeReversals(t, bankHTTP, got)
	if tot := bankTotals(t, bankHTTP); tot.Purchases != int64(len(atBank)) {
		t.Errorf("%d purchases at the bank for %d terminal/STAN pairs: one went twice", tot.Purchases, len(atBank))
	}
	lapses := metric(t, admin[via], "socketqueue_cluster_lease_lapses_total")
	t.Logf("%d purchases, %d approved to their clients, %d at the bank, %d reversed; lease lapses %v", n, approvedN, len(atBank)-1, reversed, lapses)
	if want := len(got) - 1; len(atBank)-1 < want*99/100 {
		t.Errorf("only %d of %d went to the bank: traffic did not go on through the loss", len(atBank)-1, want)
	}
	if mayLapse {
		return
	}
	if approvedN < len(got)*99/100 {
		t.Errorf("only %d of %d approved: traffic did not go on through the loss", approvedN, len(got))
	}
	if lapses > 0 {
		t.Errorf("gw%d's lease lapsed %v times while the cluster elected new leaders", via+1, lapses)
	}
}

// streamLeader says which of the gateways started with argv runs the
// node that leads stream.
func streamLeader(t *testing.T, argv [][]string, stream string) int {
	t.Helper()
	port := func(args []string) string {
		for _, a := range args {
			if p, ok := strings.CutPrefix(a, "--clusterPort="); ok {
				return p
			}
		}
		t.Fatal("no --clusterPort")
		return ""
	}
	nc, err := nats.Connect("nats://127.0.0.1:" + port(argv[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var leader string
	waitFor(t, stream+" has a leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		if err != nil || info.Cluster == nil {
			return false
		}
		leader = info.Cluster.Leader
		return leader != ""
	})
	for i, args := range argv {
		if slices.Contains(args, "--clusterInstance="+leader) {
			return i
		}
	}
	t.Fatalf("leader %q is none of the gateways", leader)
	return 0
}

// TestClusterOverTLS: three gateways whose nodes route, and whose
// gateways reach their nodes, over mutual TLS, with their storage
// encrypted. Purchases through each are approved; no file of any node
// holds a terminal's number or an instance's name in the clear; a gateway
// whose certificate is from another CA does not join.
func TestClusterOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.MustCA(t, dir, "ca")
	member := ca.MustIssue(t, "member", testpki.Both, time.Now().Add(time.Hour))
	key := filepath.Join(dir, "store.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("0123456789abcdef", 4)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bankPort, bankHTTP := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	start(t, "bank ledger at GET /bank", "--v", "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP)
	gws, pos, _, argv := clusterGateways(t, 3, []string{bankPort}, "5",
		"--clusterTlsCert="+member.Cert, "--clusterTlsKey="+member.Key, "--clusterTlsCa="+ca.Path, "--clusterStoreKeyFile="+key)
	for i, g := range gws {
		if len(g.grep("cluster node started", "tls=true", "encrypted=true")) == 0 {
			t.Fatalf("gateway %d: its node is not on TLS with its storage encrypted", i+1)
		}
	}
	const each = 20
	for i, p := range pos {
		if approved := approvedOf(sendPurchases(t, "127.0.0.1:"+p, 1000*(i+1), each, 2, each, true, nil)); approved != each {
			t.Fatalf("gateway %d: %d of %d approved", i+1, approved, each)
		}
	}
	if tot := bankTotals(t, bankHTTP); tot.Approved != 3*each {
		t.Fatalf("the bank approved %d, want %d", tot.Approved, 3*each)
	}
	// What the nodes keep: gw1's records named its terminals (00000001..)
	// and the instance (as "i":"gw1"); none of it in the clear. The names
	// are sought with their quotes: the nodes' 280 KB of ciphertext holds
	// one of three given 3-byte strings by chance in about one run of 20
	// (CI saw it), a 5-byte one in about one of a million.
	for i, args := range argv {
		data := argOf(args, "--dataDir=")
		var files int
		filepath.WalkDir(filepath.Join(data, "nats"), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			files++
			b, _ := os.ReadFile(path)
			for _, needle := range []string{`"gw1"`, `"gw2"`, `"gw3"`, "00000001", "socketqueue-terminals"} {
				if bytes.Contains(b, []byte(needle)) {
					t.Errorf("gateway %d: %s holds %q in the clear", i+1, path, needle)
				}
			}
			return nil
		})
		if files == 0 {
			t.Fatalf("gateway %d: no storage under %s", i+1, data)
		}
	}

	other := testpki.MustCA(t, t.TempDir(), "other")
	stranger := other.MustIssue(t, "stranger", testpki.Both, time.Now().Add(time.Hour))
	routes := routeOf(argv[0])
	p := start(t, "cluster node started", "--v", "--dataDir="+t.TempDir(), "--cluster=embedded", "--clusterInstance=gw4",
		"--clusterPort="+strconv.Itoa(freePort(t)), "--clusterRoutePort="+strconv.Itoa(freePort(t)), "--clusterRoutes="+routes,
		"--clusterTlsCert="+stranger.Cert, "--clusterTlsKey="+stranger.Key, "--clusterTlsCa="+other.Path,
		"--upstreamHost=127.0.0.1", "--upstreamPort="+bankPort, "--listenPort="+strconv.Itoa(freePort(t)))
	waitLine(t, gws[0], "TLS route handshake error")
	waitLine(t, p, "waiting for the other nodes")
	if len(p.grep("cluster joined")) > 0 {
		t.Fatal("a gateway with another CA's certificate joined")
	}
	// The same certificate against gw1's node as an existing cluster: a
	// refusal, said at once, not waited on.
	client := "127.0.0.1:" + argOf(argv[0], "--clusterPort=")
	_, stderr, code := runBinary(t, "--dataDir="+t.TempDir(), "--cluster=tls://"+client, "--clusterInstance=gw5",
		"--clusterTlsCert="+stranger.Cert, "--clusterTlsKey="+stranger.Key, "--clusterTlsCa="+ca.Path,
		"--upstreamHost=127.0.0.1", "--upstreamPort="+bankPort, "--listenPort="+strconv.Itoa(freePort(t)))
	if code == 0 || !strings.Contains(stderr, "cluster: refused") {
		t.Fatalf("a stranger's certificate against an existing cluster: exit %d\n%.1500s", code, stderr)
	}
}

// argOf is the value of the argument with prefix.
func argOf(args []string, prefix string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, prefix); ok {
			return v
		}
	}
	return ""
}

// routeOf is the route address a gateway's arguments give its node.
func routeOf(args []string) string { return "127.0.0.1:" + argOf(args, "--clusterRoutePort=") }

// TestClusterQuorumLost: two of three nodes killed (their gateways, -9).
// The survivor has no quorum: each purchase it takes is refused (909,
// not recorded: not the bank's 911) within the queue timeout and none
// reaches the bank; /readyz says why. Once one node is back, the survivor
// finds the quorum by itself (no purchase needed: a balancer sends none
// to an unready gateway) and purchases through it are approved again.
func TestClusterQuorumLost(t *testing.T) {
	bankPort, bankHTTP := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	start(t, "bank ledger at GET /bank", "--v", "--echoServerPort="+bankPort, "--bankHttpPort="+bankHTTP)
	gws, pos, admin, argv := clusterGateways(t, 3, []string{bankPort}, "20", "--queueTimeout=4")
	if got := approvedOf(sendPurchases(t, "127.0.0.1:"+pos[0], 0, 10, 2, 10, true, nil)); got != 10 {
		t.Fatalf("with all three: %d of 10 approved", got)
	}
	before := bankTotals(t, bankHTTP)
	for _, g := range gws[1:] {
		g.cmd.Process.Signal(syscall.SIGKILL)
	}
	const n = 6
	codes := framedCodes(t, "127.0.0.1:"+pos[0], 100, n, 15*time.Second)
	for k, code := range codes {
		if code != "909" {
			t.Errorf("without a quorum: %s answered %q, want 909", k, code)
		}
	}
	if len(codes) != n {
		t.Fatalf("without a quorum: %d of %d answered", len(codes), n)
	}
	if after := bankTotals(t, bankHTTP); after.Purchases != before.Purchases {
		t.Fatalf("without a quorum %d purchases reached the bank", after.Purchases-before.Purchases)
	}
	resp, err := http.Get("http://127.0.0.1:" + admin[0] + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != "cluster cannot record purchases\n" {
		t.Errorf("/readyz without a quorum: %d %q", resp.StatusCode, body)
	}

	// One node back: the survivor carries on by itself.
	start(t, "cluster node started", argv[1]...)
	waitFor(t, "the survivor ready again", func() bool { return isReady(admin[0]) })
	if got := approvedOf(sendPurchases(t, "127.0.0.1:"+pos[0], 200, 10, 2, 10, true, nil)); got != 10 {
		t.Fatalf("with the quorum back: %d of 10 approved", got)
	}
	if after := bankTotals(t, bankHTTP); after.Purchases != before.Purchases+10 || after.Overlaps != 0 {
		t.Fatalf("at the bank: %d purchases since the loss (want the 10 sent after), %d overlaps", after.Purchases-before.Purchases, after.Overlaps)
	}
}

func approvedOf(got map[string]bool) int {
	n := 0
	for _, ok := range got {
		if ok {
			n++
		}
	}
	return n
}

// framedCodes sends n framed purchases on one connection, STANs from
// stan, each for its own terminal, and returns each one's field 39 by
// terminal/STAN as its answers come, within d.
func framedCodes(t *testing.T, addr string, stan, n int, d time.Duration) map[string]string {
	t.Helper()
	c := writePurchases(t, addr, stan, stan, n)
	c.SetDeadline(time.Now().Add(d))
	codes := map[string]string{}
	r := bufio.NewReader(c)
	for range n {
		var head [4]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			t.Logf("framed client: %v", err)
			break
		}
		l, _ := strconv.Atoi(string(head[:]))
		reply := make([]byte, l)
		if _, err := io.ReadFull(r, reply); err != nil {
			t.Fatal(err)
		}
		f, err := isocodec.SmartVista.Unpack(reply)
		if err != nil {
			t.Fatal(err)
		}
		codes[f[41]+"/"+f[11]] = f[39]
	}
	return codes
}
