package dispatch

import (
	"testing"
	"time"
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
