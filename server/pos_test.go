package server

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/internal/testconns"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// TestBareEchoFixture: the real smartVista echo sent bare gets a bare
// 0810 with its STAN and TID, then the connection closes.
func TestBareEchoFixture(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	g := startGateway(t, b.Addr().String(), nil)
	msg, err := os.ReadFile("testdata/sv_800_echo.bin")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := bareExchange(g.POSAddr().String(), msg)
	if err != nil {
		t.Fatal(err)
	}
	req, got := unpack(t, msg), unpack(t, reply)
	if got[0] != "0810" || got[11] != req[11] || got[41] != req[41] || got[39] != "000" {
		t.Fatalf("reply %v to %v", got, req)
	}
}

// TestManyTerminals: 200 clients at once, each its own TID, each gets its
// own reply.
func TestManyTerminals(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	g := startGateway(t, b.Addr().String(), nil)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := pack(t, purchaseFields(i, tid(i), "000000000100"))
			reply, err := bareExchange(g.POSAddr().String(), msg)
			if err != nil {
				errs <- err
				return
			}
			f, err := sv.Unpack(reply)
			if err != nil || f[0] != "0210" || f[11] != stan(i) || f[41] != tid(i) || f[39] != "000" {
				errs <- errors.New("client " + tid(i) + " got " + f[41] + "/" + f[11])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if tot := b.Host().Ledger().Totals(); tot.Approved != n {
		t.Fatalf("bank approved %d", tot.Approved)
	}
}

// TestSharedTerminal: 20 clients with one TID are all answered, one at a
// time: with the bank taking 20 ms a reply, 20 of them cannot take less
// than 400 ms unless two were at the bank together.
func TestSharedTerminal(t *testing.T) {
	const n, delay = 20, 20 * time.Millisecond
	b := startBank(t, bank.Faults{Delay: delay}, "")
	g := startGateway(t, b.Addr().String(), nil)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := bareExchange(g.POSAddr().String(), pack(t, purchaseFields(i, "00000042", "000000000100")))
			if err != nil {
				errs <- err
				return
			}
			if f, err := sv.Unpack(reply); err != nil || f[11] != stan(i) || f[41] != "00000042" {
				errs <- errors.New("misdelivered reply for " + stan(i))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if el := time.Since(start); el < n*delay {
		t.Fatalf("%d requests for one terminal took %v: some overlapped at the bank", n, el)
	}
}

// TestPipelinedSameTerminal: a framed client pipelines 20 requests for one
// TID in one write; they reach the bank and come back in order.
func TestPipelinedSameTerminal(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	g := startGateway(t, b.Addr().String(), func(c *Config) { c.POSFraming = ascii4(t) })
	c := dialFramed(t, g.POSAddr().String())
	var batch []byte
	for i := 1; i <= 20; i++ {
		batch = append(batch, frame(pack(t, purchaseFields(i, "00000007", "000000000100")))...)
	}
	if _, err := c.Write(batch); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		reply, err := c.read(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f := unpack(t, reply); f[11] != stan(i) || f[39] != "000" {
			t.Fatalf("reply %d is for %s (%s)", i, f[11], f[39])
		}
	}
	for i, tx := range b.Host().Ledger().Transactions() {
		if string(tx.STAN[:]) != stan(i+1) {
			t.Fatalf("bank saw %s as transaction %d", tx.STAN, i+1)
		}
	}
}

// TestGarbageOnPOS: HTTP, a TLS hello and noise on the binary port close
// that connection; nothing reaches the bank; the gateway carries on.
func TestGarbageOnPOS(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	g := startGateway(t, b.Addr().String(), nil)
	for name, junk := range map[string][]byte{
		"http":      []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"tls hello": {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03},
		"noise":     []byte("\x00\xff\x13\x37 port scan"),
		"bad field": append([]byte("0800"), make([]byte, 40)...),
	} {
		t.Run(name, func(t *testing.T) {
			reply, err := bareExchange(g.POSAddr().String(), junk)
			if err != nil || len(reply) != 0 {
				t.Fatalf("want a silent close, got %q %v", reply, err)
			}
		})
	}
	expired := purchaseFields(1, "00000001", "000000000100")
	expired[12] = "150820130600"
	if reply, _ := bareExchange(g.POSAddr().String(), pack(t, expired)); len(reply) != 0 {
		t.Fatal("an expired request was answered")
	}
	if tot := b.Host().Ledger().Totals(); tot != (bank.Totals{}) {
		t.Fatalf("garbage reached the bank: %+v", tot)
	}
	reply, err := bareExchange(g.POSAddr().String(), pack(t, purchaseFields(2, "00000001", "000000000100")))
	if err != nil || unpack(t, reply)[39] != "000" {
		t.Fatalf("after garbage: %v", err)
	}
}

// TestFramedFailures: a framed client gets the gateway's answer in the
// bank's place: 904 for an invalid request, 911 on timeout, 907 while the
// link is down.
func TestFramedFailures(t *testing.T) {
	b := startBank(t, bank.Faults{MuteEvery: 1}, "")
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.POSFraming = ascii4(t)
		c.QueueTimeout = 200 * time.Millisecond
	})
	c := dialFramed(t, g.POSAddr().String())
	bad := purchaseFields(1, "00000001", "000000000100")
	delete(bad, 49)
	c.Write(frame(pack(t, bad)))
	c.Write(frame(pack(t, purchaseFields(2, "00000001", "000000000100"))))
	for _, want := range []struct{ stan, code string }{{"000001", "904"}, {"000002", "911"}} {
		reply, err := c.read(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f := unpack(t, reply); f[0] != "0210" || f[11] != want.stan || f[39] != want.code {
			t.Fatalf("got %s/%s/%s, want 0210/%s/%s", f[0], f[11], f[39], want.stan, want.code)
		}
	}
	stopBank(t, b)
	waitLink(t, g, false)
	c.Write(frame(pack(t, purchaseFields(3, "00000001", "000000000100"))))
	reply, err := c.read(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f := unpack(t, reply); f[11] != "000003" || f[39] != "907" {
		t.Fatalf("link down: %v", f)
	}
}

// TestBareTimeoutCloses: a bare client whose reply never comes is
// disconnected at queueTimeout.
func TestBareTimeoutCloses(t *testing.T) {
	b := startBank(t, bank.Faults{MuteEvery: 1}, "")
	g := startGateway(t, b.Addr().String(), func(c *Config) { c.QueueTimeout = 200 * time.Millisecond })
	reply, err := bareExchange(g.POSAddr().String(), pack(t, purchaseFields(1, "00000001", "000000000100")))
	if err != nil || len(reply) != 0 {
		t.Fatalf("got %q %v", reply, err)
	}
	if g.Table().Held() != 0 {
		t.Fatal("timed-out request still held")
	}
}

// TestClientIdle: a POS connection that sends nothing is closed.
func TestClientIdle(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	g := startGateway(t, b.Addr().String(), func(c *Config) { c.ClientIdle = 100 * time.Millisecond })
	c, err := net.Dial("tcp", g.POSAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: %v", err)
	}
}

var _ = isocodec.SmartVista

// TestSplitFrames: requests that arrive a byte at a time, bare and framed,
// and a bank reply that arrives a byte at a time, all get through; a
// partial frame is kept until its rest comes.
func TestSplitFrames(t *testing.T) {
	t.Run("bare POS", func(t *testing.T) {
		b := startBank(t, bank.Faults{}, "")
		g := startGateway(t, b.Addr().String(), nil)
		c, err := net.Dial("tcp", g.POSAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, x := range pack(t, purchaseFields(1, "00000001", "000000000100")) {
			c.Write([]byte{x})
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		reply, _ := io.ReadAll(c)
		if len(reply) == 0 || unpack(t, reply)[11] != "000001" {
			t.Fatalf("reply %q", reply)
		}
	})
	t.Run("framed POS", func(t *testing.T) {
		b := startBank(t, bank.Faults{}, "")
		g := startGateway(t, b.Addr().String(), func(c *Config) { c.POSFraming = ascii4(t) })
		c := dialFramed(t, g.POSAddr().String())
		for i := 1; i <= 3; i++ {
			for _, x := range frame(pack(t, purchaseFields(i, "00000001", "000000000100"))) {
				c.Write([]byte{x})
			}
			reply, err := c.read(5 * time.Second)
			if err != nil || unpack(t, reply)[11] != stan(i) {
				t.Fatalf("reply %d: %v", i, err)
			}
		}
	})
	t.Run("bank reply", func(t *testing.T) {
		fb := newFakeBank(t)
		g := startGateway(t, fb.Addr(), func(c *Config) { c.POSFraming = ascii4(t) })
		bk := fb.accept(t)
		c := dialFramed(t, g.POSAddr().String())
		for i := 1; i <= 3; i++ {
			c.Write(frame(pack(t, purchaseFields(i, "00000001", "000000000100"))))
			req, err := bk.read(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range frame(replyTo(t, req, nil)) {
				bk.Write([]byte{x})
			}
			reply, err := c.read(5 * time.Second)
			if err != nil || unpack(t, reply)[11] != stan(i) {
				t.Fatalf("reply %d: %v", i, err)
			}
		}
	})
}

func TestIsTLSHello(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"TLS 1.2/1.3 ClientHello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00}, true},
		{"SSL 3.0 record, ClientHello", []byte{0x16, 0x03, 0x00, 0x00, 0x30, 0x01}, true},
		{"too short to tell", []byte{0x16, 0x03, 0x01, 0x02, 0x00}, false},
		{"ASCII length header", []byte("0123" + "0200"), false},
		{"binary length 0x1603 with a 0100 BCD MTI", []byte{0x16, 0x03, 0x01, 0x00, 0x72, 0x38}, false},
		{"a TLS alert, not a hello", []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02}, false},
		{"record version 3.9", []byte{0x16, 0x03, 0x09, 0x00, 0x30, 0x01}, false},
	} {
		if got := isTLSHello(tc.b); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestShutdownEndsEveryPOSConnection: POS clients connect without a
// pause while the gateway stops, with one loop (its own SO_REUSEPORT
// listener) and with two (gnet's shared listener, whose reactor hands
// connections over): once Shutdown has returned, none a client got is
// left open with nobody serving it. With Engine.Stop alone, two loops
// left some open.
func TestShutdownEndsEveryPOSConnection(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	for _, loops := range []int{1, 2} {
		t.Run(strconv.Itoa(loops)+" loops", func(t *testing.T) {
			for round := range 5 {
				g := startGateway(t, b.Addr().String(), func(c *Config) { c.Loops = loops })
				open, made := testconns.LeftOpen(t, g.POSAddr().String(), func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := g.Shutdown(ctx); err != nil {
						t.Error(err)
					}
				})
				if open > 0 {
					t.Fatalf("round %d: %d of %d connections left open after Shutdown", round+1, open, made)
				}
			}
		})
	}
}
