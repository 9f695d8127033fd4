package main

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// linkMetric reads a per-link figure from a gateway's /metrics.
func linkMetric(t *testing.T, adminPort, name, link string) float64 {
	t.Helper()
	return metric(t, adminPort, name+`{link="`+link+`"}`)
}

// setBankMode sets how the emulator's port treats its connections.
func setBankMode(t *testing.T, bankHTTP, port, mode string) {
	t.Helper()
	resp, err := http.Post("http://127.0.0.1:"+bankHTTP+"/bank/mode?port="+port+"&mode="+mode, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /bank/mode port %s %s: %s", port, mode, resp.Status)
	}
}

// ledgerPurchases are the emulator's purchases by TID/STAN, with how
// many times each was reversed.
func ledgerPurchases(t *testing.T, bankHTTP string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tx := range bankSnapshot(t, bankHTTP, -1).Transactions {
		if tx.Kind == "purchase" {
			out[tx.TID+"/"+tx.STAN] = tx.Reversals
		}
	}
	return out
}

// judgeReversals checks the emulator's ledger against what the clients
// saw (got, by TID/STAN: approved or not): a purchase approved to its
// client is not reversed, one that was not is reversed exactly once. It
// returns the purchases at the bank and how many were reversed.
func judgeReversals(t *testing.T, bankHTTP string, got map[string]bool) (map[string]int, int) {
	t.Helper()
	atBank := ledgerPurchases(t, bankHTTP)
	reversed := 0
	for key, revs := range atBank {
		switch {
		case got[key] && revs != 0:
			t.Errorf("%s: approved to its client, reversed %d times", key, revs)
		case !got[key] && revs != 1:
			t.Errorf("%s: not approved to its client, reversed %d times, want once", key, revs)
		case !got[key]:
			reversed++
		}
	}
	return atBank, reversed
}

// fundCard gives the test card enough for thousands of purchases: an
// amount ending in 888 sets the emulator's balance to the digits before
// it.
func fundCard(t *testing.T, posAddr string) {
	t.Helper()
	msg, err := isocodec.SmartVista.Pack(isocodec.Fields{
		0: "0200", 3: "000000", 4: "999999999888", 7: "1125120000", 11: "999999",
		12: time.Now().Format("060102150405"), 22: "051", 24: "200", 25: "00",
		35: "4850781234567891=19082012232800000037", 41: "99999999", 42: "000124642124643", 49: "810",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", posAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(append([]byte(fmt.Sprintf("%04d", len(msg))), msg...)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
}

// TestLinksRoundRobin: a gateway with two links to one emulated bank
// (one ledger) on two ports, the emulator a process of its own. Traffic
// is shared between the links within 10%. One port is cut mid-traffic
// and refuses to take the link back: what was in flight on it is failed
// to its clients and reversed at the bank exactly once, nothing a client
// saw approved is reversed, the rest goes on the other link with no
// refusal. The port serves again: its link comes back and takes traffic.
func TestLinksRoundRobin(t *testing.T) {
	portA, portB, bankHTTP := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	start(t, "bank ledger at GET /bank", "--v", "--echoServerPort="+portA, "--bankPorts="+portB, "--bankHttpPort="+bankHTTP,
		"--bankDelay=0.2")
	linkA, linkB := "127.0.0.1:"+portA, "127.0.0.1:"+portB
	posPort, adminPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	gw := start(t, "gateway listening", "--v", "--dataDir="+t.TempDir(), "--upstream="+linkA+","+linkB,
		"--listenPort="+posPort, "--listenFraming=header", "--adminPort="+adminPort,
		"--upstreamRetry=0.2", "--upstreamRetryRefused=0.2", "--queueTimeout=3", "--queueShortTimeout=2")
	up := func(link string) bool { return linkMetric(t, adminPort, "socketqueue_bank_link_up", link) == 1 }
	sent := func(link string) float64 {
		return linkMetric(t, adminPort, "socketqueue_bank_link_requests_total", link)
	}
	waitFor(t, "both links up", func() bool { return up(linkA) && up(linkB) })
	fundCard(t, "127.0.0.1:"+posPort)
	if code, body := request(t, "GET", "http://127.0.0.1:"+adminPort+"/healthz?verbose", "", ""); code != 200 ||
		!strings.Contains(body, "link "+linkA+" up=true ready=true") || !strings.Contains(body, "link "+linkB+" up=true ready=true") {
		t.Errorf("/healthz?verbose: %d\n%s", code, body)
	}
	if _, body := request(t, "GET", "http://127.0.0.1:"+adminPort+"/stats", "", ""); !strings.Contains(body, `"links":[{"link":"`+linkA+`","up":true`) {
		t.Errorf("/stats has no state of the links:\n%s", body)
	}

	const n = 3000
	done := make(chan map[string]bool, 1)
	go func() { done <- sendPurchases(t, "127.0.0.1:"+posPort, 0, n, 20, 300, true, nil) }()
	waitFor(t, "traffic under way", func() bool { return sent(linkA)+sent(linkB) >= 900 })
	a, b := sent(linkA), sent(linkB)
	if d := a - b; d > 0.1*max(a, b) || -d > 0.1*max(a, b) {
		t.Errorf("round robin: %v on one link, %v on the other", a, b)
	}
	setBankMode(t, bankHTTP, portB, "refuse")
	got := <-done
	afterCut := sent(linkB)

	approvedN := 0
	for _, ok := range got {
		if ok {
			approvedN++
		}
	}
	if len(got) != n {
		t.Fatalf("%d of %d purchases answered", len(got), n)
	}
	if approvedN == n {
		t.Fatal("every purchase approved: the cut came after the traffic")
	}
	if v := metric(t, adminPort, `socketqueue_refused_total{reason="link_down"}`); v > 0 {
		t.Errorf("%v requests refused for want of a link while one was up", v)
	}
	waitFor(t, "every reversal done", func() bool { return metric(t, adminPort, "socketqueue_reversals_pending") == 0 })
	atBank, reversed := judgeReversals(t, bankHTTP, got)
	t.Logf("%d purchases, %d approved to their clients, %d at the bank, %d reversed; link B sent %v before the cut", n, approvedN, len(atBank), reversed, afterCut)

	setBankMode(t, bankHTTP, portB, "serve")
	waitFor(t, "link B back", func() bool { return up(linkB) })
	if again := sendPurchases(t, "127.0.0.1:"+posPort, n, 40, 4, 40, true, nil); len(again) != 40 {
		t.Fatalf("after link B came back: %d of 40 answered", len(again))
	}
	if sent(linkB) <= afterCut {
		t.Error("link B took no traffic after it came back")
	}
	if code := gw.stop(t); code != 0 {
		t.Fatalf("gateway exit %d", code)
	}
}

// TestLinksFailoverAndSignOn: three links, failover in the order given,
// each signed on when it connects. The first link's sign-on is declined
// by its port: it is never used. The second takes everything; muted (it
// decides and never answers, echoes included), it leaves rotation after
// its unanswered echoes and the third takes the traffic; answering again,
// it is back and takes everything. A clean stop signs the used links off.
func TestLinksFailoverAndSignOn(t *testing.T) {
	ports := []string{strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))}
	bankHTTP := strconv.Itoa(freePort(t))
	start(t, "bank ledger at GET /bank", "--v", "--echoServerPort="+ports[0], "--bankPorts="+ports[1]+","+ports[2], "--bankHttpPort="+bankHTTP)
	setBankMode(t, bankHTTP, ports[0]+"&signOn=decline", "serve")
	declined, primary, secondary := "127.0.0.1:"+ports[0], "127.0.0.1:"+ports[1], "127.0.0.1:"+ports[2]
	posPort, adminPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	gw := start(t, "gateway listening", "--v", "--dataDir="+t.TempDir(), "--upstream="+declined+","+primary+","+secondary,
		"--upstreamPolicy=failover", "--upstreamSignOn", "--upstreamEchoInterval=1", "--upstreamEchoMisses=2",
		"--listenPort="+posPort, "--listenFraming=header", "--adminPort="+adminPort, "--queueTimeout=3", "--queueShortTimeout=1")
	ready := func(link string) bool { return linkMetric(t, adminPort, "socketqueue_bank_link_ready", link) == 1 }
	requests := func(link string) float64 {
		return linkMetric(t, adminPort, "socketqueue_bank_link_requests_total", link)
	}
	waitFor(t, "the primary and secondary signed on", func() bool { return ready(primary) && ready(secondary) })
	if ready(declined) || linkMetric(t, adminPort, "socketqueue_bank_link_up", declined) != 1 {
		t.Fatal("the link whose sign-on was declined should be up and not ready")
	}
	if tot := bankTotals(t, bankHTTP); tot.SignOns != 3 || tot.SignOnsDeclined != 1 {
		t.Fatalf("the bank saw %d sign-ons, %d declined; want 3, 1", tot.SignOns, tot.SignOnsDeclined)
	}
	fundCard(t, "127.0.0.1:"+posPort)
	allApproved := func(from, n int) {
		t.Helper()
		got := sendPurchases(t, "127.0.0.1:"+posPort, from, n, 4, 40, true, nil)
		for k, ok := range got {
			if !ok {
				t.Fatalf("%s not approved", k)
			}
		}
	}
	allApproved(0, 100)
	if requests(primary) != 101 || requests(secondary) != 0 || requests(declined) != 0 {
		t.Fatalf("failover: %v, %v, %v requests; want all 101 on the primary", requests(declined), requests(primary), requests(secondary))
	}

	setBankMode(t, bankHTTP, ports[1], "mute")
	muted := time.Now()
	waitFor(t, "the muted primary out of rotation", func() bool { return !ready(primary) })
	// Two echoes, each sent after 1 s without a byte and failed after
	// the 1 s short timeout, on the once-a-second checks.
	if took := time.Since(muted); took > 8*time.Second {
		t.Errorf("the muted primary left rotation after %v", took)
	}
	allApproved(100, 40)
	if requests(secondary) != 40 {
		t.Fatalf("%v requests on the secondary, want the 40 sent while the primary was out", requests(secondary))
	}

	setBankMode(t, bankHTTP, ports[1], "serve")
	waitFor(t, "the primary back in rotation", func() bool { return ready(primary) })
	before := requests(primary)
	allApproved(140, 40)
	if requests(primary) != before+40 || requests(secondary) != 40 {
		t.Fatalf("after the primary came back: %v more on it, %v on the secondary", requests(primary)-before, requests(secondary))
	}
	if code := gw.stop(t); code != 0 {
		t.Fatalf("gateway exit %d", code)
	}
	if tot := bankTotals(t, bankHTTP); tot.SignOffs != 2 {
		t.Fatalf("the bank saw %d sign-offs at the gateway's stop, want 2 (the links signed on)", tot.SignOffs)
	}
}

// TestListenLinks: the gateway waits for the bank and keeps two of its
// connections, here two emulators dialling it; requests are shared
// between them round robin.
func TestListenLinks(t *testing.T) {
	listenPort, posPort, adminPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	gw := start(t, "gateway listening", "--v", "--dataDir="+t.TempDir(), "--upstreamListenPort="+listenPort, "--upstreamListenLinks=2",
		"--listenPort="+posPort, "--listenFraming=header", "--adminPort="+adminPort)
	var banks []string
	for range 2 {
		h := strconv.Itoa(freePort(t))
		start(t, "bank ledger at GET /bank", "--v", "--bankConnectPort="+listenPort, "--bankHttpPort="+h, "--upstreamRetry=0.2")
		banks = append(banks, h)
	}
	ready := func(link string) bool { return linkMetric(t, adminPort, "socketqueue_bank_link_ready", link) == 1 }
	waitFor(t, "both connections of the bank up", func() bool { return ready("listen#1") && ready("listen#2") })
	got := sendPurchases(t, "127.0.0.1:"+posPort, 0, 100, 4, 40, true, nil)
	for k, ok := range got {
		if !ok {
			t.Fatalf("%s not approved", k)
		}
	}
	a, b := bankTotals(t, banks[0]).Purchases, bankTotals(t, banks[1]).Purchases
	if a+b != 100 || a < 40 || b < 40 {
		t.Fatalf("the two connections took %d and %d of 100 purchases", a, b)
	}
	if code := gw.stop(t); code != 0 {
		t.Fatalf("gateway exit %d", code)
	}
}
