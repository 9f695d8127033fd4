package dispatch

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

var t0 = time.Unix(1_700_000_000, 0)

type testClient struct{ gone bool }

func (c *testClient) Gone() bool                               { return c.gone }
func (c *testClient) Deliver(*Request, []byte, *isocodec.Scan) {}
func (c *testClient) Fail(*Request, error)                     {}

// msg packs and scans a smartVista message.
type msg struct {
	b []byte
	s isocodec.Scan
}

func pack(t testing.TB, f isocodec.Fields) *msg {
	t.Helper()
	b, err := isocodec.SmartVista.Pack(f)
	if err != nil {
		t.Fatal(err)
	}
	m := &msg{b: b}
	if err := isocodec.SmartVista.Layout.Scan(b, &m.s); err != nil {
		t.Fatal(err)
	}
	return m
}

func stan(i int) string {
	s := strconv.Itoa(i)
	return "000000"[len(s):] + s
}

func purchase(t testing.TB, stanN int, tid, amount string) *msg {
	return pack(t, isocodec.Fields{0: "0200", 3: "000000", 4: amount, 11: stan(stanN), 35: "4850781234567891=1908", 41: tid})
}

func reply(t testing.TB, req isocodec.Fields) *msg {
	f := isocodec.Fields{}
	for k, v := range req {
		f[k] = v
	}
	mti, _ := isocodec.ParseMTI(f[0])
	f[0] = mti.Response().String()
	f[39] = "000"
	delete(f, 35)
	return pack(t, f)
}

type rig struct {
	t    testing.TB
	tab  *Table
	keys []int
}

func newRig(t testing.TB, cfg Config) *rig {
	if cfg.KeyFields == nil {
		cfg.KeyFields = isocodec.DefaultKeyFields
	}
	cfg.Layout = isocodec.SmartVista.Layout
	cfg.Start = t0
	tab := New(cfg)
	tab.oneHash = hashAlike
	return &rig{t: t, tab: tab, keys: cfg.KeyFields}
}

// hashAlike: the rigs' tables give every key one hash.
var hashAlike bool

// TestKeysThatHashAlike runs the table's tests again with every key and
// terminal under one hash: what the maps find is checked against the
// whole key, so nothing changes.
func TestKeysThatHashAlike(t *testing.T) {
	hashAlike = true
	defer func() { hashAlike = false }()
	for name, test := range map[string]func(*testing.T){
		"SubmitAndMatch": TestSubmitAndMatch, "TerminalLock": TestTerminalLock, "LockOff": TestLockOff,
		"MaxQueue": TestMaxQueue, "Expire": TestExpire, "AbortAndFailAll": TestAbortAndFailAll,
		"FailLink": TestFailLink, "Unlocked": TestUnlocked, "ConflictScoring": TestConflictScoring,
		"ReplyOfAnotherClass": TestReplyOfAnotherClass, "KeySTANOnly": TestKeySTANOnly,
		"Concurrent": TestConcurrent, "TryTimedFromWrite": TestTryTimedFromWrite, "SlotBesideChain": TestSlotBesideChain,
	} {
		t.Run(name, test)
	}
}

func (g *rig) submit(m *msg, deadline time.Duration) (*Request, Outcome) {
	r := g.tab.Get()
	r.Fill(isocodec.SmartVista, m.b, &m.s, g.keys)
	r.Client = &testClient{}
	return r, g.tab.Submit(r, t0.Add(deadline))
}

func (g *rig) match(m *msg) (*Request, *Request) {
	key := isocodec.Key{}.Append(&m.s, m.b, g.keys)
	tid := isocodec.Key{}
	if m.s.Has(41) {
		tid = tid.Append(&m.s, m.b, []int{41})
	}
	return g.tab.Match(key, tid, &m.s, m.b)
}

func fields(m *msg) isocodec.Fields {
	f, _ := isocodec.SmartVista.Unpack(m.b)
	return f
}

func TestSubmitAndMatch(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true})
	p := purchase(t, 1, "00000001", "000000001000")
	r, out := g.submit(p, time.Minute)
	if out != Send || r.State() != InFlight || g.tab.Held() != 1 {
		t.Fatalf("submit: %v %v %d", out, r.State(), g.tab.Held())
	}
	got, next := g.match(reply(t, fields(p)))
	if got != r || next != nil || r.State() != Free || g.tab.Held() != 0 {
		t.Fatalf("match: %p %p %v", got, next, r.State())
	}
	// The same reply again, and a reply for nobody, match nothing.
	if got, _ := g.match(reply(t, fields(p))); got != nil {
		t.Fatal("duplicate reply matched")
	}
	other := fields(purchase(t, 2, "00000001", "000000001000"))
	if got, _ := g.match(reply(t, other)); got != nil {
		t.Fatal("unknown reply matched")
	}
	if c := g.tab.Counts(); c != (Counts{}) {
		t.Fatalf("counts %+v", c)
	}
	g.tab.Put(r)
}

// TestTerminalLock: requests for one TID go one at a time, in order;
// other TIDs are not held up.
func TestTerminalLock(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true})
	var reqs []*Request
	var msgs []*msg
	for i := 1; i <= 4; i++ {
		m := purchase(t, i, "00000007", "000000001000")
		r, out := g.submit(m, time.Minute)
		if want := map[bool]Outcome{true: Send, false: Wait}[i == 1]; out != want {
			t.Fatalf("request %d: %v, want %v", i, out, want)
		}
		reqs, msgs = append(reqs, r), append(msgs, m)
	}
	if _, out := g.submit(purchase(t, 1, "00000008", "000000001000"), time.Minute); out != Send {
		t.Fatal("another terminal waits")
	}
	if c := g.tab.Counts(); c.InFlight != 2 || c.Waiting != 3 || c.Terminals != 2 {
		t.Fatalf("counts %+v", c)
	}
	// A reply to a waiting request is not matched: it was never sent.
	if got, _ := g.match(reply(t, fields(msgs[2]))); got != nil {
		t.Fatal("matched a request that was not sent")
	}
	for i := range 4 {
		got, next := g.match(reply(t, fields(msgs[i])))
		if got != reqs[i] {
			t.Fatalf("reply %d matched %p", i, got)
		}
		if i < 3 && next != reqs[i+1] || i == 3 && next != nil {
			t.Fatalf("after %d next is %p", i, next)
		}
	}
}

func TestLockOff(t *testing.T) {
	g := newRig(t, Config{LockTerminal: false})
	for i := 1; i <= 3; i++ {
		if _, out := g.submit(purchase(t, i, "00000007", "000000001000"), time.Minute); out != Send {
			t.Fatalf("request %d: %v", i, out)
		}
	}
}

func TestMaxQueue(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true, MaxQueue: 2})
	g.submit(purchase(t, 1, "00000001", "000000001000"), time.Minute)
	g.submit(purchase(t, 2, "00000001", "000000001000"), time.Minute)
	r, out := g.submit(purchase(t, 3, "00000002", "000000001000"), time.Minute)
	if out != Full || r.State() != Free || g.tab.Held() != 2 {
		t.Fatalf("third: %v %v held %d", out, r.State(), g.tab.Held())
	}
}

func TestExpire(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true})
	a, _ := g.submit(purchase(t, 1, "00000001", "000000001000"), 5*time.Second)
	b, _ := g.submit(purchase(t, 2, "00000001", "000000001000"), 35*time.Second)
	c, _ := g.submit(purchase(t, 3, "00000001", "000000001000"), 2*time.Second) // waits behind a, expires first
	exp, ready := g.tab.Expire(t0.Add(1990*time.Millisecond), nil, nil)
	if len(exp) != 0 || len(ready) != 0 {
		t.Fatalf("early: %d expired", len(exp))
	}
	exp, ready = g.tab.Expire(t0.Add(2*time.Second), nil, nil)
	if len(exp) != 1 || exp[0] != c || len(ready) != 0 || c.State() != Free {
		t.Fatalf("waiting request did not expire alone: %d %d", len(exp), len(ready))
	}
	exp, ready = g.tab.Expire(t0.Add(5*time.Second), nil, nil)
	if len(exp) != 1 || exp[0] != a || len(ready) != 1 || ready[0] != b || b.State() != InFlight {
		t.Fatalf("in-flight expiry: %d expired %d ready", len(exp), len(ready))
	}
	if got, _ := g.match(reply(t, fields(purchase(t, 1, "00000001", "000000001000")))); got != nil {
		t.Fatal("late reply matched an expired request")
	}
	if g.tab.Held() != 1 {
		t.Fatalf("held %d", g.tab.Held())
	}
}

func TestAbortAndFailAll(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true})
	a, _ := g.submit(purchase(t, 1, "00000001", "000000001000"), time.Minute)
	b, _ := g.submit(purchase(t, 2, "00000001", "000000001000"), time.Minute)
	c, _ := g.submit(purchase(t, 3, "00000001", "000000001000"), time.Minute)
	if next, ok := g.tab.Abort(b); next != nil || !ok || b.State() != Free {
		t.Fatal("abort of a waiting request")
	}
	if next, ok := g.tab.Abort(a); next != c || !ok {
		t.Fatal("abort of the one in flight should pass the turn on")
	}
	if _, ok := g.tab.Abort(a); ok {
		t.Fatal("a second abort took it out again")
	}
	g.submit(purchase(t, 1, "00000002", "000000001000"), time.Minute)
	g.submit(purchase(t, 2, "00000002", "000000001000"), time.Minute)
	out := g.tab.FailAll(nil)
	if len(out) != 3 || g.tab.Held() != 0 || g.tab.Counts() != (Counts{}) {
		t.Fatalf("fail all: %d out, held %d, %+v", len(out), g.tab.Held(), g.tab.Counts())
	}
	for _, r := range out {
		if r.State() != Free {
			t.Fatal("failed request still in the table")
		}
	}
	// The table works after.
	if _, out := g.submit(purchase(t, 5, "00000001", "000000001000"), time.Minute); out != Send {
		t.Fatal("after FailAll")
	}
}

// TestFailLink: a dropped link takes out only the requests written on
// it; the turns they held pass on (to go on another link); requests not
// yet written and those on other links stay.
func TestFailLink(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true})
	onA, _ := g.submit(purchase(t, 1, "00000001", "000000001000"), time.Minute)
	behindA, _ := g.submit(purchase(t, 2, "00000001", "000000001000"), time.Minute)
	onB, _ := g.submit(purchase(t, 3, "00000002", "000000001000"), time.Minute)
	unsent, _ := g.submit(purchase(t, 4, "00000003", "000000001000"), time.Minute)
	for _, m := range []struct {
		r    *Request
		link int32
	}{{onA, 0}, {onB, 1}} {
		if !g.tab.MarkSent(m.r, 0, t0.UnixNano(), m.link) {
			t.Fatal("mark sent")
		}
	}
	own := g.tab.Get() // the gateway's own, unlocked: in a chain, not a terminal's slot
	ownMsg := purchase(t, 5, "00000003", "000000001000")
	own.Fill(isocodec.SmartVista, ownMsg.b, &ownMsg.s, g.keys)
	own.Client, own.Unlocked = &testClient{}, true
	g.tab.Submit(own, t0.Add(time.Minute))
	g.tab.MarkSent(own, 0, t0.UnixNano(), 1)
	counts := make([]int, 3)
	g.tab.SentByLink(counts)
	if counts[0] != 1 || counts[1] != 2 || counts[2] != 0 {
		t.Fatalf("written by link: %v, want [1 2 0]", counts)
	}
	out, ready := g.tab.FailLink(0, nil, nil)
	if len(out) != 1 || out[0] != onA || len(ready) != 1 || ready[0] != behindA {
		t.Fatalf("fail link 0: out %v, ready %v", out, ready)
	}
	if onB.State() != InFlight || unsent.State() != InFlight || behindA.State() != InFlight {
		t.Fatal("requests not written on link 0 were taken out")
	}
	if g.tab.Held() != 4 {
		t.Fatalf("held %d, want 4", g.tab.Held())
	}
	if r, _ := g.match(reply(t, fields(purchase(t, 3, "00000002", "000000001000")))); r != onB {
		t.Fatal("the reply of a request on the other link no longer matches")
	}
}

// TestUnlocked: a request marked Unlocked goes at once, beside its
// terminal's, and passes no turn on when it ends.
func TestUnlocked(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true})
	g.submit(purchase(t, 1, "00000001", "000000001000"), time.Minute)
	m := purchase(t, 2, "00000001", "000000001000")
	own := g.tab.Get()
	own.Fill(isocodec.SmartVista, m.b, &m.s, g.keys)
	own.Client, own.Unlocked = &testClient{}, true
	if got := g.tab.Submit(own, t0.Add(time.Minute)); got != Send {
		t.Fatalf("unlocked: %v, want Send beside the terminal's request", got)
	}
	queued, out := g.submit(purchase(t, 3, "00000001", "000000001000"), time.Minute)
	if out != Wait {
		t.Fatal("the terminal's next request should still wait")
	}
	if _, next := g.match(reply(t, fields(m))); next != nil {
		t.Fatal("an unlocked request passed the terminal's turn on")
	}
	if _, next := g.match(reply(t, fields(purchase(t, 1, "00000001", "000000001000")))); next != queued {
		t.Fatal("the terminal's turn did not pass to its next request")
	}
}

// TestConflictScoring: with the lock off, two requests under one key are
// told apart by MTI, amount and card number.
func TestConflictScoring(t *testing.T) {
	echo := isocodec.Fields{0: "0800", 11: "000001", 41: "00000001", 3: "990000"}
	buy := func(amount, track string) isocodec.Fields {
		return isocodec.Fields{0: "0200", 3: "000000", 4: amount, 11: "000001", 35: track, 41: "00000001"}
	}
	tests := []struct {
		name   string
		reqs   []isocodec.Fields
		reply  isocodec.Fields
		wanted int
	}{
		{"same class", []isocodec.Fields{buy("000000001000", "4850781234567891=19"), echo},
			isocodec.Fields{0: "0810", 11: "000001", 41: "00000001", 39: "000"}, 1},
		{"same amount", []isocodec.Fields{buy("000000001000", "4850781234567891=19"), buy("000000002000", "4850781234567891=19")},
			isocodec.Fields{0: "0210", 4: "000000002000", 11: "000001", 41: "00000001", 39: "000"}, 1},
		{"PAN starts track 2", []isocodec.Fields{buy("000000001000", "4850781234567891=19"), buy("000000001000", "5555551234567891=19")},
			isocodec.Fields{0: "0210", 2: "5555551234567891", 4: "000000001000", 11: "000001", 41: "00000001", 39: "000"}, 1},
		{"tie goes to the first", []isocodec.Fields{buy("000000001000", "4850781234567891=19"), buy("000000001000", "4850781234567891=19")},
			isocodec.Fields{0: "0210", 4: "000000001000", 11: "000001", 41: "00000001", 39: "000"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, Config{LockTerminal: false})
			var reqs []*Request
			for _, f := range tc.reqs {
				r, _ := g.submit(pack(t, f), time.Minute)
				reqs = append(reqs, r)
			}
			got, _ := g.match(pack(t, tc.reply))
			if got != reqs[tc.wanted] {
				t.Fatalf("matched request %v", got)
			}
			other := tc.reqs[1-tc.wanted]
			if got, _ = g.match(reply(t, other)); got != reqs[1-tc.wanted] {
				t.Fatal("the other request is lost")
			}
		})
	}
}

// TestSlotBesideChain: with the lock on, a terminal's request in flight
// is in its terminal's slot, and an unlocked one under the same key in
// the key's chain; a reply chooses between the two as between two in a
// chain (class, then the earliest sent), and the other stays matchable.
func TestSlotBesideChain(t *testing.T) {
	buy := isocodec.Fields{0: "0200", 3: "000000", 4: "000000001000", 11: "000001", 35: "4850781234567891=19", 41: "00000001"}
	echo := isocodec.Fields{0: "0800", 3: "990000", 11: "000001", 41: "00000001"}
	tests := []struct {
		name        string
		unlockFirst bool // the unlocked request goes in flight first
		second      isocodec.Fields
		reply       isocodec.Fields
		wantLocked  bool
	}{
		{"class picks the slot", false, echo, isocodec.Fields{0: "0210", 4: "000000001000", 11: "000001", 41: "00000001", 39: "000"}, true},
		{"class picks the chain", false, echo, isocodec.Fields{0: "0810", 11: "000001", 41: "00000001", 39: "000"}, false},
		{"tie: the slot was first", false, buy, isocodec.Fields{0: "0210", 4: "000000001000", 11: "000001", 41: "00000001", 39: "000"}, true},
		{"tie: the chain was first", true, buy, isocodec.Fields{0: "0210", 4: "000000001000", 11: "000001", 41: "00000001", 39: "000"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, Config{LockTerminal: true})
			unlocked := func() *Request {
				m := pack(t, tc.second)
				r := g.tab.Get()
				r.Fill(isocodec.SmartVista, m.b, &m.s, g.keys)
				r.Client, r.Unlocked = &testClient{}, true
				if out := g.tab.Submit(r, t0.Add(time.Minute)); out != Send {
					t.Fatalf("unlocked: %v", out)
				}
				return r
			}
			var locked, other *Request
			if tc.unlockFirst {
				other = unlocked()
			}
			locked, out := g.submit(pack(t, buy), time.Minute)
			if out != Send {
				t.Fatalf("locked: %v", out)
			}
			if !tc.unlockFirst {
				other = unlocked()
			}
			want, rest := other, locked
			if tc.wantLocked {
				want, rest = locked, other
			}
			if got, _ := g.match(pack(t, tc.reply)); got != want {
				t.Fatalf("matched %p, want %p (locked %p)", got, want, locked)
			}
			if got, _ := g.match(reply(t, map[bool]isocodec.Fields{true: buy, false: tc.second}[rest == locked])); got != rest {
				t.Fatalf("the other request is lost: %p", got)
			}
			if g.tab.Held() != 0 || g.tab.Counts() != (Counts{}) {
				t.Fatalf("held %d, %+v", g.tab.Held(), g.tab.Counts())
			}
		})
	}
}

// TestKeySTANOnly: with key fields 11 alone, a reply without 41 matches.
// TestReplyOfAnotherClass: a late 0210 under the key of the 0400 that
// reverses it answers nothing.
func TestReplyOfAnotherClass(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true})
	buy := purchase(t, 1, "00000001", "000000001000")
	rev := fields(buy)
	rev[0] = "0400"
	r, _ := g.submit(pack(t, rev), time.Minute)
	if got, _ := g.match(reply(t, fields(buy))); got != nil {
		t.Fatal("a 0210 matched a 0400")
	}
	if got, _ := g.match(reply(t, rev)); got != r {
		t.Fatal("the 0410 did not match")
	}
}

func TestKeySTANOnly(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true, KeyFields: []int{11}})
	if len(g.tab.shards) != 1 {
		t.Fatalf("%d shards without the TID in the key", len(g.tab.shards))
	}
	r, _ := g.submit(pack(t, isocodec.Fields{0: "0800", 3: "990000", 11: "000042", 41: "00000001"}), time.Minute)
	got, _ := g.match(pack(t, isocodec.Fields{0: "0810", 11: "000042", 39: "000"}))
	if got != r {
		t.Fatal("no match on STAN alone")
	}
}

func TestHotPathAllocatesNothing(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true, MaxQueue: 100})
	p := purchase(t, 1, "00000001", "000000001000")
	rep := reply(t, fields(p))
	key := isocodec.Key{}.Append(&rep.s, rep.b, g.keys)
	tid := isocodec.Key{}.Append(&rep.s, rep.b, []int{41})
	c := &testClient{}
	// Warm the pool and the maps.
	for range 10 {
		r := g.tab.Get()
		r.Fill(isocodec.SmartVista, p.b, &p.s, g.keys)
		g.tab.Submit(r, t0.Add(time.Minute))
		got, _ := g.tab.Match(key, tid, &rep.s, rep.b)
		g.tab.Put(got)
	}
	n := testing.AllocsPerRun(1000, func() {
		r := g.tab.Get()
		r.Fill(isocodec.SmartVista, p.b, &p.s, g.keys)
		r.Client = c
		g.tab.Submit(r, t0.Add(time.Minute))
		got, _ := g.tab.Match(key, tid, &rep.s, rep.b)
		g.tab.Put(got)
	})
	if n != 0 {
		t.Fatalf("%v allocs per submit and match", n)
	}
}

// TestConcurrent hammers the table from many goroutines (run with -race):
// every request is matched exactly once and the table ends empty.
func TestConcurrent(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true})
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tid := "0000000" + strconv.Itoa(w)
			for i := 1; i <= each; i++ {
				m := purchase(t, i, tid, "000000001000")
				r, out := g.submit(m, time.Minute)
				if out != Send {
					t.Errorf("worker %d: %v", w, out)
					return
				}
				got, next := g.match(reply(t, fields(m)))
				if got != r || next != nil {
					t.Errorf("worker %d: mismatch", w)
					return
				}
				g.tab.Put(got)
			}
		}()
	}
	wg.Wait()
	if g.tab.Held() != 0 || g.tab.Counts() != (Counts{}) {
		t.Fatalf("held %d %+v", g.tab.Held(), g.tab.Counts())
	}
}

// TestTryTimedFromWrite: a request with TryTimeout that waited behind its
// terminal gets its whole TryTimeout once marked sent, whatever it spent
// waiting; the wait itself is bound by Submit's deadline.
func TestTryTimedFromWrite(t *testing.T) {
	g := newRig(t, Config{LockTerminal: true})
	first, _ := g.submit(purchase(t, 1, "00000001", "100"), time.Second)
	rev, out := g.submit(purchase(t, 2, "00000001", "100"), 10*time.Second)
	if out != Wait {
		t.Fatalf("second request for the terminal: %v", out)
	}
	rev.TryTimeout = 500 * time.Millisecond
	_, ready := g.tab.Expire(t0.Add(time.Second), nil, nil) // the first times out
	if len(ready) != 1 || ready[0] != rev {
		t.Fatalf("ready %v", ready)
	}
	_ = first
	sent := t0.Add(3 * time.Second) // written well after it went in flight
	if !g.tab.MarkSent(rev, 0, sent.UnixNano(), 0) {
		t.Fatal("not in flight")
	}
	if exp, _ := g.tab.Expire(sent.Add(490*time.Millisecond), nil, nil); len(exp) != 0 {
		t.Fatalf("expired %v after it was written, before its try timeout", 490*time.Millisecond)
	}
	if exp, _ := g.tab.Expire(sent.Add(500*time.Millisecond), nil, nil); len(exp) != 1 || exp[0] != rev {
		t.Fatalf("not expired at its try timeout: %v", exp)
	}
}
