package server

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/journal"
)

// eventually waits for cond, checking every few milliseconds, for up to
// 20 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func openJournal(t testing.TB, path string, opts ...journal.Options) *journal.Journal {
	t.Helper()
	j, err := journal.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// checkLedger: every muted (approved, unanswered) purchase was reversed
// exactly once, no answered one was, and no reversal came without an
// original.
func checkLedger(t testing.TB, b *bank.Server, wantMuted int) {
	t.Helper()
	muted := 0
	for _, tx := range b.Host().Ledger().Transactions() {
		switch {
		case tx.Muted && tx.Reversals != 1:
			t.Errorf("muted purchase %s reversed %d times", tx.STAN, tx.Reversals)
		case !tx.Muted && tx.Reversals != 0:
			t.Errorf("answered purchase %s reversed", tx.STAN)
		}
		if tx.Muted {
			muted++
		}
	}
	tot := b.Host().Ledger().Totals()
	if muted != wantMuted || tot.ReversalsNotFound != 0 || tot.RepeatedReversals != 0 {
		t.Fatalf("%d muted (want %d), %d reversals without an original, %d repeated", muted, wantMuted, tot.ReversalsNotFound, tot.RepeatedReversals)
	}
}

// TestReverseUnanswered: the bank never answers every 5th of 100
// purchases; exactly those are reversed, journal synced, in the OS cache
// (committed by the loops themselves, the bank link on one of two loops
// or on the clients' only one) and off.
func TestReverseUnanswered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		journal bool
		noSync  bool
		loops   int
	}{
		{"journal", true, false, 1}, {"journal os", true, true, 1}, {"journal os, 2 loops", true, true, 2}, {"no journal", false, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBank(t, bank.Faults{MuteEvery: 5}, "")
			var j *journal.Journal
			if tc.journal {
				j = openJournal(t, filepath.Join(t.TempDir(), "journal"), journal.Options{NoSync: tc.noSync})
			}
			g := startGateway(t, b.Addr().String(), func(c *Config) {
				c.QueueTimeout = 300 * time.Millisecond
				c.Journal = j
				c.Loops = tc.loops
			})
			var wg sync.WaitGroup
			for i := 1; i <= 100; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					bareExchange(g.POSAddr().String(), pack(t, purchaseFields(i, tid(i), "000000000100")))
				}()
			}
			wg.Wait()
			eventually(t, "20 reversals approved", func() bool {
				return g.Reversals().Counts().Approved == 20 && g.Reversals().Len() == 0
			})
			checkLedger(t, b, 20)
			if c := g.Reversals().Counts(); c.Decided != 20 || c.Sent != 20 || c.GivenUp != 0 {
				t.Fatalf("counts %+v", c)
			}
			if j != nil {
				eventually(t, "journal empty", func() bool { j.Flush(); return j.Stats().Open == 0 })
			}
		})
	}
}

// TestReverseWhenClientLeaves: a client that hangs up right after sending
// a purchase gets it reversed once the bank approves it.
func TestReverseWhenClientLeaves(t *testing.T) {
	b := startBank(t, bank.Faults{Delay: 200 * time.Millisecond}, "")
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.Journal = openJournal(t, filepath.Join(t.TempDir(), "journal"))
	})
	c, err := net.Dial("tcp", g.POSAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(pack(t, purchaseFields(1, "00000001", "000000000100")))
	eventually(t, "the purchase in flight", func() bool { return g.Table().Held() == 1 })
	c.Close()
	eventually(t, "the purchase reversed", func() bool { return b.Host().Ledger().Totals().Reversals == 1 })
	if tx := b.Host().Ledger().Transactions(); len(tx) != 1 || tx[0].Reversals != 1 {
		t.Fatalf("ledger %+v", tx)
	}
	// An answered purchase of a client that stays is not reversed.
	reply, err := bareExchange(g.POSAddr().String(), pack(t, purchaseFields(2, "00000001", "000000000100")))
	if err != nil || unpack(t, reply)[39] != "000" {
		t.Fatal(err)
	}
	if tot := b.Host().Ledger().Totals(); tot.Reversals != 1 || tot.Approved != 2 {
		t.Fatalf("totals %+v", tot)
	}
}

// TestReversalRetriesOnSchedule: the bank answers the first two tries
// with 912; the gateway retries at 2 s and then 10 s of a test clock, not
// before, and the third try is approved.
func TestReversalRetriesOnSchedule(t *testing.T) {
	b := startBank(t, bank.Faults{MuteEvery: 1, Code: "912", CodeMTI: [4]byte{'0', '4', '0', '0'}, CodeCount: 2}, "")
	clk := clock.NewManual(time.Now())
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.Clock = clk
		c.QueueTimeout = time.Second
		c.ShortTimeout = time.Second
	})
	f := purchaseFields(1, "00000001", "000000000100")
	f[12] = clk.Now().Format("060102150405")
	done := make(chan []byte)
	go func() {
		r, _ := bareExchange(g.POSAddr().String(), pack(t, f))
		done <- r
	}()
	eventually(t, "purchase at the bank", func() bool { return b.Host().Ledger().Totals().Approved == 1 })
	clk.Advance(time.Second) // the purchase times out
	if r := <-done; len(r) != 0 {
		t.Fatal("a timed-out client got a reply")
	}
	forced := func() int64 { return b.Host().Ledger().Totals().Forced }
	eventually(t, "first try answered 912", func() bool { return forced() == 1 && g.Reversals().Counts().Retried == 1 })
	clk.Advance(1990 * time.Millisecond)
	time.Sleep(50 * time.Millisecond) // give a wrong early retry the chance to show
	if forced() != 1 {
		t.Fatal("retried before 2 s")
	}
	clk.Advance(10 * time.Millisecond)
	eventually(t, "second try answered 912", func() bool { return forced() == 2 && g.Reversals().Counts().Retried == 2 })
	clk.Advance(9990 * time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	if b.Host().Ledger().Totals().Reversals != 0 {
		t.Fatal("retried before 10 s")
	}
	clk.Advance(10 * time.Millisecond)
	eventually(t, "third try approved", func() bool { return g.Reversals().Counts().Approved == 1 })
	checkLedger(t, b, 1)
	if c := g.Reversals().Counts(); c.Sent != 3 || c.Retried != 2 || c.GivenUp != 0 {
		t.Fatalf("counts %+v", c)
	}
}

// TestReverseWhenLinkDrops: the bank processes a purchase and drops the
// link before answering; once the link is back, the purchase is reversed.
func TestReverseWhenLinkDrops(t *testing.T) {
	// A seed whose first real-life draw closes the link and whose next
	// draws neither close it nor answer twice.
	var seed uint64
	for s := uint64(1); ; s++ {
		r := rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
		first := r.IntN(10) == 0
		r.IntN(5)
		calm := true
		for range 20 {
			if r.IntN(10) == 0 || r.IntN(5) == 0 {
				calm = false
			}
		}
		if first && calm {
			seed = s
			break
		}
	}
	b := startHost(t, bank.HostConfig{Faults: bank.Faults{RealLife: true}, Seed: seed}, "")
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.Journal = openJournal(t, filepath.Join(t.TempDir(), "journal"))
	})
	reply, _ := bareExchange(g.POSAddr().String(), pack(t, purchaseFields(1, "00000001", "000000000100")))
	if len(reply) != 0 {
		t.Fatal("answered although the link dropped")
	}
	eventually(t, "reversed after reconnecting", func() bool { return g.Reversals().Counts().Approved == 1 })
	checkLedger(t, b, 1)
}

// TestRecoverFromJournal: purchases a dead gateway left open in its
// journal (sent to the bank, never answered) are reversed by the next
// gateway at start.
func TestRecoverFromJournal(t *testing.T) {
	b := startBank(t, bank.Faults{MuteEvery: 1}, "")
	path := filepath.Join(t.TempDir(), "journal")
	// What the dead gateway did: journal each purchase, then send it.
	j := openJournal(t, path)
	j.Notify(func(batch []journal.Begun, err error) {
		for _, b := range batch {
			b.Tag.(chan error) <- err
		}
	})
	bk := dialFramed(t, b.Addr().String())
	for i := 1; i <= 5; i++ {
		msg := pack(t, purchaseFields(i, tid(i), "000000000100"))
		done := make(chan error, 1)
		if _, err := j.Begin(msg, done); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		bk.Write(frame(msg))
	}
	eventually(t, "5 purchases at the bank", func() bool { return b.Host().Ledger().Totals().Approved == 5 })
	j.Close()

	g := startGateway(t, b.Addr().String(), func(c *Config) { c.Journal = openJournal(t, path) })
	eventually(t, "5 recovered reversals approved", func() bool { return g.Reversals().Counts().Approved == 5 })
	if c := g.Reversals().Counts(); c.Recovered != 5 || c.Sent != 5 {
		t.Fatalf("counts %+v", c)
	}
	checkLedger(t, b, 5)
}

// TestJournalRefusesPurchase: when the journal cannot record a purchase,
// the purchase is not sent; its client is answered 909 (system
// malfunction) and the bank sees nothing. Echoes, which are not
// journaled, still go.
func TestJournalRefusesPurchase(t *testing.T) {
	b := startBank(t, bank.Faults{}, "")
	j := openJournal(t, filepath.Join(t.TempDir(), "journal"))
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.POSFraming = ascii4(t)
		c.Journal = j
	})
	j.Close()
	c := dialFramed(t, g.POSAddr().String())
	c.Write(frame(pack(t, purchaseFields(1, tid(1), "000000000100"))))
	reply, err := c.read(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f := unpack(t, reply); f[0] != "0210" || f[11] != stan(1) || f[39] != "909" {
		t.Fatalf("reply %v, want 0210 with 909", f)
	}
	if n := len(b.Host().Ledger().Transactions()); n != 0 {
		t.Fatalf("the bank saw %d transactions", n)
	}
	// A load balancer asking is told to go elsewhere.
	resp, err := http.Get("http://" + g.HTTPAddr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("healthz %d with the journal refusing", resp.StatusCode)
	}
}

// TestLinkDropsUnderLoad: a bank that closes the link after about one
// request in ten, without its reply, while 40 terminals send purchases
// at once. What the bank charged and the terminals were not told is
// reversed exactly once, what they were told is not, and the journal
// ends empty: the commits the writer hands to the link's loop (handoff)
// and the loop's own commits live through the link going away under
// them.
func TestLinkDropsUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name   string
		noSync bool
		loops  int
	}{
		{"journal synced", false, 1}, {"journal synced, 2 loops", false, 2}, {"journal os, 2 loops", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Calm after the load: the reversals would otherwise keep
			// losing a try in ten.
			faults := &calming{r: rand.New(rand.NewPCG(1, 2))}
			b := startHost(t, bank.HostConfig{Faults: bank.Faults{RealLife: true}, Rand: faults}, "")
			j := openJournal(t, filepath.Join(t.TempDir(), "journal"), journal.Options{NoSync: tc.noSync})
			g := startGateway(t, b.Addr().String(), func(c *Config) {
				c.QueueTimeout = time.Second
				c.Journal = j
				c.Loops = tc.loops
			})
			var (
				mu     sync.Mutex
				told   = map[string]bool{} // STANs answered approved
				next   atomic.Int64
				wg     sync.WaitGroup
				linkUp = func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					g.WaitLink(ctx, true)
					cancel()
				}
			)
			for range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for reached := 0; reached < 5; {
						i := int(next.Add(1))
						f := purchaseFields(i, tid(i), "000000000100")
						msg, err := sv.Pack(f)
						if err != nil {
							t.Error(err)
							return
						}
						reply, _ := bareExchange(g.POSAddr().String(), msg)
						got, err := sv.Unpack(reply)
						switch {
						case err == nil && got[39] == "907": // refused, the link down: not sent
							linkUp()
							continue
						case err == nil && got[39] == "000":
							mu.Lock()
							told[got[11]] = true
							mu.Unlock()
						}
						reached++
					}
				}()
			}
			wg.Wait()
			faults.calm.Store(true)
			charged := func() int64 { tot := b.Host().Ledger().Totals(); return tot.ApprovedAmount - tot.ReversedAmount }
			deadline := time.Now().Add(20 * time.Second)
			for !(g.Reversals().Len() == 0 && charged() == 100*int64(len(told))) {
				if time.Now().After(deadline) {
					for _, tx := range b.Host().Ledger().Transactions() {
						t.Logf("tx %s told %v reversals %d muted %v", tx.STAN, told[string(tx.STAN[:])], tx.Reversals, tx.Muted)
					}
					t.Fatalf("charged %d, told %d; reversals %d pending %+v; ledger %+v", charged(), len(told), g.Reversals().Len(), g.Reversals().Counts(), b.Host().Ledger().Totals())
				}
				time.Sleep(5 * time.Millisecond)
			}
			reversed := 0
			for _, tx := range b.Host().Ledger().Transactions() {
				stan := string(tx.STAN[:])
				switch {
				case told[stan] && tx.Reversals != 0:
					t.Errorf("purchase %s answered and reversed", stan)
				case !told[stan] && tx.Reversals == 0: // more: repeats (0401) of one whose answer was lost
					t.Errorf("purchase %s charged, not answered, not reversed", stan)
				}
				reversed += tx.Reversals
			}
			eventually(t, "journal empty", func() bool { j.Flush(); return j.Stats().Open == 0 })
			if reversed == 0 {
				t.Fatal("no link dropped with a purchase on it: the test tested nothing")
			}
			t.Logf("%d purchases charged, %d answered, %d reversed; %+v", len(b.Host().Ledger().Transactions()), len(told), reversed, g.Reversals().Counts())
		})
	}
}

// calming is the emulator's random source for its faults until calm,
// and then one that never draws a fault (never 0).
type calming struct {
	r    *rand.Rand
	calm atomic.Bool
}

func (c *calming) IntN(n int) int {
	if c.calm.Load() {
		return n - 1
	}
	return c.r.IntN(n)
}
