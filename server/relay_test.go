package server

import (
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/journal"
	"github.com/socketqueue/socketqueue-go/metrics"
)

// memLink is a bank link in memory: it keeps what is sent, and can be
// down or refuse writes.
type memLink struct {
	mu   sync.Mutex
	up   bool
	err  error
	sent [][]byte
	// wakeable: wake(nil) reports a link woken (and counts it in
	// wakes), as a link on a loop would; there are no loops here.
	wakeable bool
	wakes    int
}

func (l *memLink) Ready() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.up }

func (l *memLink) pick(int32) (int32, bool) { return 0, l.Ready() }

func (l *memLink) roundTrip(int32, time.Duration, *metrics.Tally) {}

func (l *memLink) send(_ int32, msg []byte, _ gnet.EventLoop, _ bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.up {
		return ErrLinkDown
	}
	if l.err != nil {
		return l.err
	}
	l.sent = append(l.sent, append([]byte(nil), msg...))
	return nil
}

func (l *memLink) sendHeld(link int32, msg []byte) error { return l.send(link, msg, nil, false) }
func (l *memLink) wakeHeld()                             {}
func (l *memLink) wakeHeldOff(gnet.EventLoop)            {}
func (l *memLink) wake(el gnet.EventLoop) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el == nil && l.wakeable && l.up {
		l.wakes++
		return true
	}
	return false
}

// take returns what was sent since the last call.
func (l *memLink) take() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sent
	l.sent = nil
	return out
}

// recClient records what the relay told it.
type recClient struct {
	replies [][]byte
	errs    []error
	gone    bool
}

func (c *recClient) Deliver(_ *dispatch.Request, reply []byte, _ *isocodec.Scan) {
	c.replies = append(c.replies, append([]byte(nil), reply...))
}
func (c *recClient) Fail(_ *dispatch.Request, err error) { c.errs = append(c.errs, err) }
func (c *recClient) Gone() bool                          { return c.gone }

type memRig struct {
	t     *testing.T
	rl    *relay
	link  *memLink
	clock *clock.Manual
}

func newMemRig(t *testing.T, j ...*journal.Journal) *memRig {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	cfg := Config{Dialect: sv, HostFraming: ascii4(t), POSFraming: ascii4(t), UpstreamAddr: "in memory",
		HTTPAddr: "in memory", LockTerminal: true, QueueTimeout: 3 * time.Second, ShortTimeout: time.Second, Clock: clk}
	if len(j) > 0 {
		cfg.Journal = j[0]
	}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	link := &memLink{up: true}
	return &memRig{t: t, rl: newRelay(&cfg, link), link: link, clock: clk}
}

// msg packs and scans a smartVista message.
func (g *memRig) msg(f isocodec.Fields) ([]byte, *isocodec.Scan) {
	g.t.Helper()
	b, err := sv.Pack(f)
	if err != nil {
		g.t.Fatal(err)
	}
	var s isocodec.Scan
	if err := sv.Layout.Scan(b, &s); err != nil {
		g.t.Fatal(err)
	}
	return b, &s
}

func (g *memRig) admit(f isocodec.Fields, c dispatch.Client) error {
	b, s := g.msg(f)
	return g.rl.admit(admission{msg: b, scan: s, client: c, now: g.clock.Now(), wait: g.rl.cfg.QueueTimeout})
}

// answer has the bank reply to sent with code, on the link's loop.
func (g *memRig) answer(sent []byte, code string) bool {
	g.t.Helper()
	f, err := sv.Unpack(sent)
	if err != nil {
		g.t.Fatal(err)
	}
	mti, _ := isocodec.ParseMTI(f[0])
	f[0], f[39] = mti.Response().String(), code
	b, s := g.msg(f)
	return g.rl.reply(s, b, 0, nil, g.rl.tallies.of(nil), g.clock.Now().UnixNano())
}

func (g *memRig) one() []byte {
	g.t.Helper()
	sent := g.link.take()
	if len(sent) != 1 {
		g.t.Fatalf("%d messages sent to the bank, want 1", len(sent))
	}
	return sent[0]
}

func mtiOf(t *testing.T, b []byte) string {
	f, err := sv.Unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	return f[0]
}

// TestRelayPaths drives a request's life through the relay alone: an
// in-memory link, the test clock, no sockets.
func TestRelayPaths(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, g *memRig)
	}{
		{"answered", func(t *testing.T, g *memRig) {
			c := &recClient{}
			if err := g.admit(purchaseFields(1, "00000001", "100"), c); err != nil {
				t.Fatal(err)
			}
			if !g.answer(g.one(), "000") || len(c.replies) != 1 || len(c.errs) != 0 {
				t.Fatalf("replies %d, errors %v", len(c.replies), c.errs)
			}
			if g.rl.table.Held() != 0 || g.rl.rev.Schedule().Len() != 0 {
				t.Fatal("something left behind")
			}
		}},
		{"refused without a link, nothing sent", func(t *testing.T, g *memRig) {
			g.link.up = false
			c := &recClient{}
			if err := g.admit(purchaseFields(1, "00000001", "100"), c); !errors.Is(err, ErrLinkDown) {
				t.Fatalf("admit: %v", err)
			}
			if len(c.errs)+len(c.replies) != 0 || g.rl.table.Held() != 0 {
				t.Fatal("a refused request reached its client or the table")
			}
		}},
		{"refused while stopping", func(t *testing.T, g *memRig) {
			g.rl.stopping.Store(true)
			if err := g.admit(purchaseFields(1, "00000001", "100"), &recClient{}); !errors.Is(err, ErrStopping) {
				t.Fatalf("admit: %v", err)
			}
			if len(g.link.take()) != 0 {
				t.Fatal("sent while stopping")
			}
		}},
		{"one per terminal, the next goes on the answer", func(t *testing.T, g *memRig) {
			a, b := &recClient{}, &recClient{}
			_ = g.admit(purchaseFields(1, "00000001", "100"), a)
			_ = g.admit(purchaseFields(2, "00000001", "100"), b)
			first := g.one()
			g.answer(first, "000")
			second := g.one()
			g.answer(second, "000")
			if len(a.replies) != 1 || len(b.replies) != 1 {
				t.Fatalf("replies %d and %d", len(a.replies), len(b.replies))
			}
		}},
		{"a write that fails is failed, not reversed", func(t *testing.T, g *memRig) {
			g.link.err = errors.New("broken pipe")
			c := &recClient{}
			_ = g.admit(purchaseFields(1, "00000001", "100"), c)
			if len(c.errs) != 1 || g.rl.rev.Schedule().Len() != 0 {
				t.Fatalf("errors %v, reversals %d", c.errs, g.rl.rev.Schedule().Len())
			}
		}},
		{"unanswered: failed, reversed once, the reversal approved", func(t *testing.T, g *memRig) {
			c := &recClient{}
			_ = g.admit(purchaseFields(1, "00000001", "100"), c)
			g.one()
			g.clock.Advance(3 * time.Second)
			g.rl.expire(g.clock.Now())
			if len(c.errs) != 1 || !errors.Is(c.errs[0], ErrTimeout) {
				t.Fatalf("client told %v", c.errs)
			}
			g.rl.sendDueReversals(g.clock.Now())
			rev := g.one()
			if m := mtiOf(t, rev); m != "0400" {
				t.Fatalf("reversal MTI %s", m)
			}
			g.rl.sendDueReversals(g.clock.Now())
			if len(g.link.take()) != 0 {
				t.Fatal("a second reversal while the first is out")
			}
			g.answer(rev, "000")
			if cnt := g.rl.rev.Schedule().Counts(); cnt.Approved != 1 || cnt.Sent != 1 || g.rl.rev.Schedule().Len() != 0 {
				t.Fatalf("counts %+v", cnt)
			}
		}},
		{"a reversal try with no answer is repeated as 0401", func(t *testing.T, g *memRig) {
			_ = g.admit(purchaseFields(1, "00000001", "100"), &recClient{})
			g.one()
			g.rl.failAll(ErrLinkDropped)
			g.rl.sendDueReversals(g.clock.Now())
			g.one()
			g.clock.Advance(time.Second) // the try's timeout
			g.rl.expire(g.clock.Now())
			g.clock.Advance(2 * time.Second) // the second try's delay
			g.rl.sendDueReversals(g.clock.Now())
			if m := mtiOf(t, g.one()); m != "0401" {
				t.Fatalf("repeat MTI %s", m)
			}
		}},
		{"answered after its client left: reversed if approved", func(t *testing.T, g *memRig) {
			for i, code := range []string{"000", "116"} {
				c := &recClient{}
				_ = g.admit(purchaseFields(i+1, "00000001", "100"), c)
				c.gone = true
				g.answer(g.one(), code)
			}
			if n := g.rl.rev.Schedule().Len(); n != 1 {
				t.Fatalf("%d reversals for an approved and a declined purchase, want 1", n)
			}
		}},
		{"an unknown reply matches nothing", func(t *testing.T, g *memRig) {
			b, _ := g.msg(purchaseFields(9, "00000009", "100"))
			if g.answer(b, "000") {
				t.Fatal("matched")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newMemRig(t)) })
	}
}

// TestHandoff: a synced commit's purchases go to the bank from the
// callback of the link woken for them; with no link to wake, from the
// writer; and from the detach of a link that went down after it was
// woken, which fails them, never leaving one behind.
func TestHandoff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		wakeable  bool
		downFirst bool // the link goes down before its callback runs
	}{
		{"the woken link's callback sends them", true, false},
		{"no link to wake: the writer sends them", false, false},
		{"down once woken: run as its detach runs them, they fail", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := openJournal(t, filepath.Join(t.TempDir(), "journal"))
			g := newMemRig(t, j)
			g.link.mu.Lock()
			g.link.wakeable = tc.wakeable
			g.link.mu.Unlock()
			c := &syncClient{}
			if err := g.admit(purchaseFields(1, "00000001", "100"), c); err != nil {
				t.Fatal(err)
			}
			if !tc.wakeable {
				eventually(t, "the purchase sent by the writer", func() bool { return g.link.count() == 1 })
				return
			}
			eventually(t, "the link woken", func() bool { g.link.mu.Lock(); defer g.link.mu.Unlock(); return g.link.wakes == 1 })
			if n := g.link.count(); n != 0 {
				t.Fatalf("%d sent before the link's callback", n)
			}
			if tc.downFirst {
				g.link.mu.Lock()
				g.link.up = false
				g.link.mu.Unlock()
			}
			if !g.rl.runHanded(nil) || g.rl.runHanded(nil) {
				t.Fatal("runHanded did not take the commit once")
			}
			if tc.downFirst {
				if errs := c.failures(); len(errs) != 1 || !errors.Is(errs[0], ErrLinkDown) {
					t.Fatalf("client told %v, want the link down", errs)
				}
				eventually(t, "the purchase settled", func() bool { return j.Stats().Open == 0 })
				return
			}
			if n := g.link.count(); n != 1 {
				t.Fatalf("%d sent, want 1", n)
			}
		})
	}
}

// syncClient is recClient safe across goroutines.
type syncClient struct {
	mu   sync.Mutex
	errs []error
}

func (c *syncClient) Deliver(*dispatch.Request, []byte, *isocodec.Scan) {}
func (c *syncClient) Fail(_ *dispatch.Request, err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}
func (c *syncClient) Gone() bool { return false }
func (c *syncClient) failures() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.errs)
}

func (l *memLink) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sent)
}
