package bank

import (
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

func stan(i int) string {
	s := strconv.Itoa(i)
	return "000000"[len(s):] + s
}

// TestMuteEvery: every 5th purchase is approved and never answered.
func TestMuteEvery(t *testing.T) {
	srv := startBank(t, isocodec.SmartVista, Faults{MuteEvery: 5}, 1)
	c := dial(t, srv)
	for i := 1; i <= 20; i++ {
		c.send(purchase(stan(i), "00992468", testTrack2, "000000000100"))
	}
	c.send(echo("999999", "00992468"))
	var answered []string
	for {
		got := c.recv()
		if got[0] == "0810" {
			break
		}
		answered = append(answered, got[11])
	}
	if len(answered) != 16 {
		t.Fatalf("%d answered, want 16: %v", len(answered), answered)
	}
	for _, s := range answered {
		if n, _ := strconv.Atoi(s); n%5 == 0 {
			t.Fatalf("purchase %s was answered", s)
		}
	}
	tot := srv.Host().Ledger().Totals()
	if tot.Approved != 20 || tot.Muted != 4 {
		t.Fatalf("approved %d muted %d, want 20 and 4", tot.Approved, tot.Muted)
	}
	muted := 0
	for _, tx := range srv.Host().Ledger().Transactions() {
		if tx.Muted {
			muted++
			if n, _ := strconv.Atoi(string(tx.STAN[:])); n%5 != 0 {
				t.Fatalf("transaction %s marked muted", tx.STAN)
			}
		}
	}
	if muted != 4 {
		t.Fatalf("%d muted transactions", muted)
	}
}

// TestForcedCode: the first two reversals get 912, the third is approved
// and the money comes back once.
func TestForcedCode(t *testing.T) {
	srv := startBank(t, isocodec.SmartVista, Faults{Code: "912", CodeMTI: isocodec.MTIReversal, CodeCount: 2}, 1)
	c := dial(t, srv)
	buy := purchase("000001", "00992468", testTrack2, "000000001000")
	if got := c.exchange(buy); got[39] != "000" {
		t.Fatalf("purchase: %v", got)
	}
	for i, want := range []string{"912", "912", "000", "000"} {
		if got := c.exchange(reversalOf(buy)); got[0] != "0410" || got[39] != want {
			t.Fatalf("reversal %d: %s/%s, want 0410/%s", i, got[0], got[39], want)
		}
	}
	if b, _ := srv.Host().Ledger().Balance(testPAN); b != DefaultBalance {
		t.Fatalf("balance %d", b)
	}
	if tot := srv.Host().Ledger().Totals(); tot.Forced != 2 || tot.Reversals != 1 || tot.RepeatedReversals != 1 {
		t.Fatalf("totals %+v", tot)
	}
}

func TestDelay(t *testing.T) {
	const d = 100 * time.Millisecond
	srv := startBank(t, isocodec.SmartVista, Faults{Delay: d}, 1)
	c := dial(t, srv)
	start := time.Now()
	if got := c.exchange(echo("000001", "00992468")); got[0] != "0810" {
		t.Fatalf("got %v", got)
	}
	if el := time.Since(start); el < d {
		t.Fatalf("reply after %v, delay is %v", el, d)
	}
}

// TestRealLife replays the seeded draws: the requests the generator
// picks are the ones closed or answered twice, and no others.
func TestRealLife(t *testing.T) {
	const seed = 7
	srv := startBank(t, isocodec.SmartVista, Faults{RealLife: true}, seed)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := dial(t, srv)
	var closes, twice int
	for i := 1; i <= 40; i++ {
		wantClose, wantTwice := r.IntN(10) == 0, r.IntN(5) == 0
		c.send(echo(stan(i), "00992468"))
		msg, err := c.recvRaw(5 * time.Second)
		if wantClose {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("request %d: want close, got %v %x", i, err, msg)
			}
			closes++
			c = dial(t, srv)
			continue
		}
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		f, _ := c.d.Unpack(msg)
		if f[11] != stan(i) {
			t.Fatalf("request %d: reply for %s", i, f[11])
		}
		if wantTwice {
			again, err := c.recvRaw(5 * time.Second)
			if err != nil || string(again) != string(msg) {
				t.Fatalf("request %d: no duplicate: %v", i, err)
			}
			twice++
		}
	}
	if closes == 0 || twice == 0 {
		t.Fatalf("seed gave %d closes and %d duplicates; pick another", closes, twice)
	}
	t.Logf("%d closes, %d duplicates in 40", closes, twice)
}
