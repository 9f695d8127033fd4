package server

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/journal"
)

// TestUpstreamRestart: the bank goes away with requests in flight; they
// fail at once, not at their timeout; the link comes back by itself and
// new requests succeed.
func TestUpstreamRestart(t *testing.T) {
	b := startBank(t, bank.Faults{Delay: time.Hour}, "") // nothing is answered
	addr := b.Addr().String()
	g := startGateway(t, addr, nil) // queueTimeout 10 s
	type result struct {
		code int
		took time.Duration
	}
	results := make(chan result, 5)
	for i := 1; i <= 5; i++ {
		go func() {
			start := time.Now()
			code, _ := post(t, g, "/", "application/json", strings.Replace(seedCurl(), "992468", strconv.Itoa(i), 1))
			results <- result{code, time.Since(start)}
		}()
	}
	for g.Table().Held() < 5 {
		time.Sleep(time.Millisecond)
	}
	stopBank(t, b)
	for range 5 {
		r := <-results
		if r.code != 502 || r.took > 5*time.Second {
			t.Fatalf("in-flight request: %d after %v, want 502 at once", r.code, r.took)
		}
	}
	waitLink(t, g, false)
	if code, body := post(t, g, "/", "application/json", seedCurl()); code != 503 {
		t.Fatalf("link down: %d %s", code, body)
	}
	startBank(t, bank.Faults{}, addr)
	waitLink(t, g, true)
	if code, body := post(t, g, "/", "application/json", seedCurl()); code != 200 || !strings.Contains(body, `"39":0`) {
		t.Fatalf("after reconnect: %d %s", code, body)
	}
}

// fakeBank is a scripted peer on a real socket, for what the emulator
// will not do on purpose: replies for nobody, its own echoes.
type fakeBank struct {
	ln    net.Listener
	conns chan net.Conn
}

func newFakeBank(t *testing.T) *fakeBank {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBank{ln: ln, conns: make(chan net.Conn, 4)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(f.conns)
				return
			}
			f.conns <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return f
}

func (f *fakeBank) accept(t *testing.T) *framedConn {
	select {
	case c := <-f.conns:
		t.Cleanup(func() { c.Close() })
		return &framedConn{c, bufio.NewReader(c)}
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not connect")
		return nil
	}
}

func replyTo(t testing.TB, req []byte, edit func(isocodec.Fields)) []byte {
	f := unpack(t, req)
	mti, _ := isocodec.ParseMTI(f[0])
	f[0], f[39] = mti.Response().String(), "000"
	delete(f, 35)
	if edit != nil {
		edit(f)
	}
	return pack(t, f)
}

// TestRepliesForNobody: a reply for an unknown key and a second copy of a
// reply reach no client; the real reply reaches its own.
func TestRepliesForNobody(t *testing.T) {
	fb := newFakeBank(t)
	g := startGateway(t, fb.Addr(), func(c *Config) { c.POSFraming = ascii4(t) })
	bk := fb.accept(t)
	c := dialFramed(t, g.POSAddr().String())
	c.Write(frame(pack(t, purchaseFields(1, "00000001", "000000000100"))))
	req, err := bk.read(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	unknown := replyTo(t, req, func(f isocodec.Fields) { f[11] = "999999" })
	real := replyTo(t, req, nil)
	bk.Write(append(append(frame(unknown), frame(real)...), frame(real)...))
	got, err := c.read(5 * time.Second)
	if err != nil || unpack(t, got)[11] != "000001" {
		t.Fatalf("first reply: %v", err)
	}
	// Nothing more comes: the next reply is the answer to the next request.
	c.Write(frame(pack(t, purchaseFields(2, "00000001", "000000000100"))))
	req2, err := bk.read(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	bk.Write(frame(replyTo(t, req2, nil)))
	got, err = c.read(5 * time.Second)
	if err != nil || unpack(t, got)[11] != "000002" {
		t.Fatalf("the client got a stray reply: %v %v", unpack(t, got), err)
	}
}

func (f *fakeBank) Addr() string { return f.ln.Addr().String() }

// TestBankEchoAnswered: the bank's own 0800 gets the gateway's 0810.
func TestBankEchoAnswered(t *testing.T) {
	fb := newFakeBank(t)
	startGateway(t, fb.Addr(), func(c *Config) { c.HTTPAddr = "" })
	bk := fb.accept(t)
	bk.Write(frame(pack(t, isocodec.Fields{0: "0800", 3: "990000", 7: "1125120000", 11: "000777", 24: "831", 41: "00000099", 42: "000000000000001"})))
	reply, err := bk.read(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f := unpack(t, reply)
	_, has24 := f[24]
	_, has42 := f[42]
	if f[0] != "0810" || f[11] != "000777" || f[39] != "000" || len(f[37]) != 12 || len(f[7]) != 10 || has24 || has42 {
		t.Fatalf("answer %v", f)
	}
}

// TestKeySTANOnly: with queueMessageKeyFields=11 a host that leaves 41
// out of its 0810 still gets its reply home.
func TestKeySTANOnly(t *testing.T) {
	fb := newFakeBank(t)
	g := startGateway(t, fb.Addr(), func(c *Config) { c.KeyFields = []int{11} })
	bk := fb.accept(t)
	var reply []byte
	var err error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		reply, err = bareExchange(g.POSAddr().String(), pack(t, isocodec.Fields{0: "0800", 3: "990000", 7: "1125120000", 11: "000123", 24: "831", 41: "00000001"}))
	}()
	req, rerr := bk.read(5 * time.Second)
	if rerr != nil {
		t.Fatal(rerr)
	}
	bk.Write(frame(replyTo(t, req, func(f isocodec.Fields) { delete(f, 41) })))
	wg.Wait()
	if err != nil || unpack(t, reply)[11] != "000123" {
		t.Fatalf("reply %q %v", reply, err)
	}
}

// TestUpstreamListen: the bank connects to us; a second connection from
// it replaces the first.
func TestUpstreamListen(t *testing.T) {
	g := startGateway(t, "", func(c *Config) { c.UpstreamListen = "127.0.0.1:0" })
	dialBank := func() *framedConn {
		c, err := net.Dial("tcp", g.UpstreamListenAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		waitLink(t, g, true)
		return &framedConn{c, bufio.NewReader(c)}
	}
	first := dialBank()
	second, err := net.Dial("tcp", g.UpstreamListenAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := first.r.ReadByte(); err != io.EOF {
		t.Fatalf("the old link was not replaced: %v", err)
	}
	bk := &framedConn{second, bufio.NewReader(second)}
	done := make(chan []byte)
	go func() {
		r, _ := bareExchange(g.POSAddr().String(), pack(t, purchaseFields(1, "00000001", "000000000100")))
		done <- r
	}()
	req, err := bk.read(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	bk.Write(frame(replyTo(t, req, nil)))
	if f := unpack(t, <-done); f[0] != "0210" || f[11] != "000001" {
		t.Fatalf("reply %v", f)
	}
}

// TestIdleLink: a quiet link gets an echo after EchoInterval and is
// closed after UpstreamIdle, then dialled again.
func TestIdleLink(t *testing.T) {
	fb := newFakeBank(t)
	g := startGateway(t, fb.Addr(), func(c *Config) {
		c.EchoInterval = 100 * time.Millisecond
		c.UpstreamIdle = 2500 * time.Millisecond
		c.EchoTID = "00000077"
	})
	bk := fb.accept(t)
	req, err := bk.read(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f := unpack(t, req); f[0] != "0800" || f[41] != "00000077" || f[24] != "831" {
		t.Fatalf("echo %v", f)
	}
	bk.Write(frame(replyTo(t, req, nil)))
	// Stop answering: the echoes stop being answered, the link stays
	// quiet on our side, and the gateway hangs up and dials again.
	bk.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, bk.r); err != nil {
		t.Fatalf("link not closed: %v", err)
	}
	fb.accept(t)
	waitLink(t, g, true)
}

// TestHeldSendsWakeOnce: sends held for a batch (a group commit's
// purchases) queue without waking the link's loop, and one wakeHeld
// writes them all.
func TestHeldSendsWakeOnce(t *testing.T) {
	fb := newFakeBank(t)
	g := startGateway(t, fb.Addr(), nil)
	bk := fb.accept(t)
	l := g.links.all[0]
	var msgs [][]byte
	for i := range 3 {
		m := pack(t, purchaseFields(i+1, "00000001", "000000000100"))
		msgs = append(msgs, m)
		if err := g.links.sendHeld(l.id, m); err != nil {
			t.Fatal(err)
		}
	}
	l.mu.Lock()
	woken, held, pending := l.woken, l.held, len(l.pending)
	l.mu.Unlock()
	if want := 3 * (4 + len(msgs[0])); woken || !held || pending != want {
		t.Fatalf("after three held sends: woken %v, held %v, %d bytes pending (want %d)", woken, held, pending, want)
	}
	g.links.wakeHeld()
	for i, m := range msgs {
		got, err := bk.read(5 * time.Second)
		if err != nil || string(got) != string(m) {
			t.Fatalf("request %d at the bank: %v", i+1, err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		t.Fatal("still held after wakeHeld")
	}
}

// TestLonePurchasesCommitOnLinksWake: a terminal's lone purchase is
// committed by the callback of the link on its loop, woken for it
// (endPOSCallback). With no commit by the journal's timer, a purchase
// that wake-up failed to commit would never be answered.
func TestLonePurchasesCommitOnLinksWake(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	j := openJournal(t, filepath.Join(t.TempDir(), "journal"), journal.Options{NoSync: true, LazyCommit: time.Hour})
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.Journal = j
		c.QueueTimeout = 2 * time.Second
	})
	for i := 1; i <= 3; i++ {
		approvedAlone(t, g, i)
	}
	// Terminals at once, so that some share a round.
	replies := make(chan []byte, 16)
	for i := 10; i < 26; i++ {
		msg := pack(t, purchaseFields(i, tid(i), "000000000100"))
		go func() {
			reply, err := bareExchange(g.POSAddr().String(), msg)
			if err != nil {
				reply = []byte(err.Error())
			}
			replies <- reply
		}()
	}
	for range 16 {
		reply := <-replies
		if f := unpack(t, reply); f[0] != "0210" || f[39] != "000" {
			t.Fatalf("purchase: %v", f)
		}
	}
}

// TestLoopCommitWakesOtherLoopsLink: with the journal in the OS cache
// and two loops, a POS client's loop commits its purchase itself; when
// the bank link is on the other loop, that loop is woken for it, so a
// lone purchase with no other traffic to carry it goes at once (left
// held, it would wait for its timeout).
func TestLoopCommitWakesOtherLoopsLink(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	// No commit by the journal's timer: each must come from a Wake.
	j := openJournal(t, filepath.Join(t.TempDir(), "journal"), journal.Options{NoSync: true, LazyCommit: time.Hour})
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.Journal = j
		c.Loops = 2
		c.QueueTimeout = 2 * time.Second
	})
	// Connections go to the loops in turn: four, one at a time, put
	// purchases on both.
	for i := 1; i <= 4; i++ {
		approvedAlone(t, g, i)
	}
}

// approvedAlone sends purchase i on a connection of its own and fails
// t unless it is approved.
func approvedAlone(t *testing.T, g *Gateway, i int) {
	t.Helper()
	reply, err := bareExchange(g.POSAddr().String(), pack(t, purchaseFields(i, tid(i), "000000000100")))
	if err != nil {
		t.Fatal(err)
	}
	if f := unpack(t, reply); f[0] != "0210" || f[39] != "000" {
		t.Fatalf("purchase %d: %v", i, f)
	}
}
