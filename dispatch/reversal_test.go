package dispatch

import (
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

func TestReversalDelays(t *testing.T) {
	want := []time.Duration{0, 2, 10, 10, 10, 10, 10, 10, 300, 300}
	for i, w := range want {
		if got := ReversalDelay(i + 1); got != w*time.Second {
			t.Errorf("try %d: %v, want %v", i+1, got, w*time.Second)
		}
	}
}

// TestReversalSchedule walks one reversal through system errors on the
// SPEC 5 schedule with a moving clock, then gives up after 10 tries.
func TestReversalSchedule(t *testing.T) {
	rs := NewReversals()
	now := t0
	rv := &Reversal{Next: now}
	rs.Add(rv, false)
	at := now
	for try := 1; try <= MaxReversalTries; try++ {
		if due := rs.Due(at.Add(-time.Millisecond), nil); len(due) != 0 {
			t.Fatalf("try %d due early", try)
		}
		due := rs.Due(at, nil)
		if len(due) != 1 || due[0] != rv || rv.Tries != try {
			t.Fatalf("try %d not due at %v", try, at.Sub(t0))
		}
		if again := rs.Due(at.Add(time.Hour), nil); len(again) != 0 {
			t.Fatal("handed out twice while being sent")
		}
		out, _ := rs.Answered(rv, "912", false, true, at)
		if try < MaxReversalTries {
			if out != Retry {
				t.Fatalf("try %d: %v", try, out)
			}
			at = at.Add(ReversalDelay(try + 1))
			if !rv.Next.Equal(at) {
				t.Fatalf("try %d: next at %v, want %v", try, rv.Next.Sub(t0), at.Sub(t0))
			}
		} else if out != GiveUp || rs.Len() != 0 {
			t.Fatalf("last try: %v, %d pending", out, rs.Len())
		}
	}
	c := rs.Counts()
	if c.Decided != 1 || c.Sent != 10 || c.Retried != 9 || c.GivenUp != 1 || c.Approved != 0 {
		t.Fatalf("counts %+v", c)
	}
}

func TestReversalOutcomes(t *testing.T) {
	rs := NewReversals()
	a, b, c := &Reversal{Next: t0}, &Reversal{Next: t0}, &Reversal{Next: t0}
	rs.Add(a, false)
	rs.Add(b, true)
	rs.Add(c, false)
	due := rs.Due(t0, nil)
	if len(due) != 3 {
		t.Fatalf("%d due", len(due))
	}
	if out, _ := rs.Answered(a, "000", true, false, t0); out != Done {
		t.Fatal("approved")
	}
	if out, snap := rs.Answered(b, "914", false, false, t0); out != Rejected || snap.LastCode != "914" {
		t.Fatal("final answers")
	}
	rs.Unsent(c)
	if c.Tries != 0 || len(rs.Due(t0, nil)) != 1 {
		t.Fatal("an unsent try counted")
	}
	if cnt := rs.Counts(); cnt.Approved != 1 || cnt.Rejected != 1 || cnt.Recovered != 1 || cnt.Decided != 3 {
		t.Fatalf("counts %+v", cnt)
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
	if !g.tab.MarkSent(rev, 0, sent.UnixNano()) {
		t.Fatal("not in flight")
	}
	if exp, _ := g.tab.Expire(sent.Add(490*time.Millisecond), nil, nil); len(exp) != 0 {
		t.Fatalf("expired %v after it was written, before its try timeout", 490*time.Millisecond)
	}
	if exp, _ := g.tab.Expire(sent.Add(500*time.Millisecond), nil, nil); len(exp) != 1 || exp[0] != rev {
		t.Fatalf("not expired at its try timeout: %v", exp)
	}
}

// TestLateAnswer: only a reversal whose written try got no answer, and
// that is not being sent again, is found by a late answer, once.
func TestLateAnswer(t *testing.T) {
	k := func(s string) isocodec.Key {
		stanN := map[string]int{"a": 1, "b": 2}[s]
		m := purchase(t, stanN, "00000001", "100")
		return isocodec.Key{}.Append(&m.s, m.b, isocodec.DefaultKeyFields)
	}
	amountOf := func(rv *Reversal) []byte { return []byte(rv.Reason) } // the test keeps the amount there
	rs := NewReversals()
	rv := &Reversal{Next: t0, Reason: "000000000100"}
	rs.Add(rv, false)
	if rs.Late(k("a"), nil, amountOf) != nil {
		t.Fatal("found before any try")
	}
	due := rs.Due(t0, nil)
	rv.Key = k("a")
	if len(due) != 1 || rs.Late(k("a"), nil, amountOf) != nil {
		t.Fatal("found while its try is in flight (the table answers that one)")
	}
	rs.Failed(rv, t0) // timed out; retry in 2 s
	for _, tc := range []struct {
		name   string
		key    string
		amount string
		found  bool
	}{
		{"other key", "b", "", false},
		{"other amount", "a", "000000000200", false},
		{"its key and amount", "a", "000000000100", true},
		{"a second answer", "a", "", false},
	} {
		var amount []byte
		if tc.amount != "" {
			amount = []byte(tc.amount)
		}
		got := rs.Late(k(tc.key), amount, amountOf)
		if (got == rv) != tc.found {
			t.Fatalf("%s: found %v", tc.name, got)
		}
	}
	if out, _ := rs.Answered(rv, "000", true, false, t0); out != Done || rs.Len() != 0 {
		t.Fatalf("late approval: %v, %d pending", out, rs.Len())
	}
	if len(rs.Due(t0.Add(time.Hour), nil)) != 0 {
		t.Fatal("its retry is still due")
	}
}
