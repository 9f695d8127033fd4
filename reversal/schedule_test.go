package reversal

import (
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

func TestDelays(t *testing.T) {
	want := []time.Duration{0, 2, 10, 10, 10, 10, 10, 10, 300, 300}
	for i, w := range want {
		if got := Delay(i + 1); got != w*time.Second {
			t.Errorf("try %d: %v, want %v", i+1, got, w*time.Second)
		}
	}
}

// TestSchedule walks one reversal through system errors on the
// documented schedule with a moving clock, then gives up after 10 tries.
func TestSchedule(t *testing.T) {
	rs := NewSchedule()
	now := t0
	rv := newRev(now)
	rs.Add(rv, false)
	at := now
	for try := 1; try <= MaxTries; try++ {
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
		if try < MaxTries {
			if out != Retry {
				t.Fatalf("try %d: %v", try, out)
			}
			at = at.Add(Delay(try + 1))
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

func TestOutcomes(t *testing.T) {
	rs := NewSchedule()
	a, b, c := newRev(t0), newRev(t0), newRev(t0)
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

// TestLateAnswer: only a reversal whose written try got no answer, and
// that is not being sent again, is found by a late answer, once.
func TestLateAnswer(t *testing.T) {
	k := func(s string) isocodec.Key {
		stan := map[string]string{"a": "000001", "b": "000002"}[s]
		msg, err := isocodec.SmartVista.Pack(isocodec.Fields{0: "0400", 3: "000000", 4: "100", 11: stan, 41: "00000001"})
		if err != nil {
			t.Fatal(err)
		}
		var sc isocodec.Scan
		if err := isocodec.SmartVista.Layout.Scan(msg, &sc); err != nil {
			t.Fatal(err)
		}
		return isocodec.Key{}.Append(&sc, msg, isocodec.DefaultKeyFields)
	}
	rs := NewSchedule()
	rv := newRev(t0)
	rv.Amount = []byte("000000000100")
	rs.Add(rv, false)
	if rs.Late(k("a"), nil) != nil {
		t.Fatal("found before any try")
	}
	due := rs.Due(t0, nil)
	rv.Key = k("a")
	if len(due) != 1 || rs.Late(k("a"), nil) != nil {
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
		got := rs.Late(k(tc.key), amount)
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

var t0 = time.Unix(1_700_000_000, 0)

func newRev(next time.Time) *Reversal { return &Reversal{Next: next, at: -1} }
