package wheel

import (
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func TestWheelFiresOnTime(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration // deadline from t0
		steps []time.Duration
		fires int // index of the step that fires it, -1 never
	}{
		{"next tick", 10 * time.Millisecond, []time.Duration{5 * time.Millisecond, 10 * time.Millisecond}, 1},
		{"past deadline fires at next advance", -time.Second, []time.Duration{10 * time.Millisecond}, 0},
		{"beyond one turn waits for its turn", 3 * time.Second, []time.Duration{time.Second, 2 * time.Second, 2990 * time.Millisecond, 3 * time.Second}, 3},
		{"big jump fires", 35 * time.Second, []time.Duration{time.Hour}, 0},
		{"not yet", time.Minute, []time.Duration{59 * time.Second}, -1},
		{"between ticks", 15 * time.Millisecond, []time.Duration{12 * time.Millisecond, 19 * time.Millisecond, 20 * time.Millisecond}, 1},
		{"between ticks, advanced mid-tick", 301 * time.Millisecond, []time.Duration{300 * time.Millisecond, 305 * time.Millisecond, 311 * time.Millisecond}, 1},
		{"exactly at an unaligned deadline", 1234567 * time.Microsecond, []time.Duration{1234566 * time.Microsecond, 1234567 * time.Microsecond}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := New(10*time.Millisecond, 64, t0)
			var tm Timer
			tm.Value = tc.name
			w.Schedule(&tm, t0.Add(tc.after))
			fired := -1
			for i, s := range tc.steps {
				w.Advance(t0.Add(s), func(got *Timer) {
					if got != &tm || got.Value != tc.name {
						t.Fatalf("fired %v", got.Value)
					}
					if fired >= 0 {
						t.Fatal("fired twice")
					}
					fired = i
				})
			}
			if fired != tc.fires {
				t.Fatalf("fired at step %d, want %d", fired, tc.fires)
			}
			if want := tc.fires < 0; tm.Scheduled() != want || (w.Len() == 1) != want {
				t.Fatalf("scheduled %v, len %d", tm.Scheduled(), w.Len())
			}
		})
	}
}

func TestWheelStopAndReschedule(t *testing.T) {
	w := New(10*time.Millisecond, 8, t0)
	var a, b, c Timer
	w.Schedule(&a, t0.Add(20*time.Millisecond))
	w.Schedule(&b, t0.Add(20*time.Millisecond))
	w.Schedule(&c, t0.Add(20*time.Millisecond))
	if !w.Stop(&b) || w.Stop(&b) {
		t.Fatal("stop")
	}
	w.Schedule(&c, t0.Add(time.Second)) // moved
	var fired []*Timer
	w.Advance(t0.Add(30*time.Millisecond), func(t *Timer) { fired = append(fired, t) })
	if len(fired) != 1 || fired[0] != &a || w.Len() != 1 {
		t.Fatalf("fired %d timers, len %d", len(fired), w.Len())
	}
	// fire may reschedule the timer it is given.
	w.Advance(t0.Add(time.Second), func(t *Timer) { w.Schedule(t, t0.Add(2*time.Second)) })
	if !c.Scheduled() || c.Deadline() != t0.Add(2*time.Second) {
		t.Fatal("rescheduled in fire")
	}
}

func TestWheelAllocatesNothing(t *testing.T) {
	w := New(10*time.Millisecond, 512, t0)
	timers := make([]Timer, 64)
	now := t0
	n := testing.AllocsPerRun(100, func() {
		for i := range timers {
			w.Schedule(&timers[i], now.Add(time.Duration(i)*time.Millisecond))
		}
		now = now.Add(100 * time.Millisecond)
		w.Advance(now, func(*Timer) {})
	})
	if n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func BenchmarkScheduleAdvance(b *testing.B) {
	w := New(10*time.Millisecond, 4096, t0)
	timers := make([]Timer, 1024)
	now := t0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tm := &timers[i%len(timers)]
		w.Schedule(tm, now.Add(35*time.Second))
		if i%len(timers) == len(timers)-1 {
			now = now.Add(10 * time.Millisecond)
			w.Advance(now, func(*Timer) {})
		}
		i++
	}
}
