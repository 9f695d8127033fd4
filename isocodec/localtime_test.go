package isocodec

import (
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // the zones below whatever the machine has
)

// TestLocalDays: a held day gives what time.Date gives, for every
// second asked in zones with changes of offset (an hour, half an hour,
// at midnight, at 00:00 into a gap), on the days of those changes, on
// dates time.Date normalizes, and for days asked in turn as a
// connection's requests cross midnight.
func TestLocalDays(t *testing.T) {
	zones := []string{"UTC", "Europe/Moscow", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo",
		"Asia/Tehran", "America/Havana", "Pacific/Apia", "Europe/London"}
	type day struct{ y, mo, dd int }
	days := []day{
		{2016, 6, 7}, {2024, 3, 10}, {2024, 11, 3}, {2024, 3, 31}, {2024, 10, 27}, {2018, 11, 4}, {2018, 2, 17},
		{2011, 12, 30}, {2011, 12, 29}, {2024, 4, 7}, {2024, 10, 6}, {2022, 3, 22}, {2022, 9, 22}, {2024, 2, 29},
		{2023, 2, 29}, {2024, 4, 31}, {2014, 10, 26}, {2011, 3, 27},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range zones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		var c LocalDays
		for _, d := range days {
			for _, step := range []int{1, 7, 61, 599} { // each second of the day, then coarser
				for s := 0; s < 24*3600; s += step * (1 + rng.IntN(3)) {
					hh, mi, ss := s/3600, s/60%60, s%60
					want := time.Date(d.y, time.Month(d.mo), d.dd, hh, mi, ss, 0, loc).Unix()
					if got := c.Unix(d.y, d.mo, d.dd, hh, mi, ss, loc); got != want {
						t.Fatalf("%s %04d-%02d-%02d %02d:%02d:%02d: %d, time.Date %d", name, d.y, d.mo, d.dd, hh, mi, ss, got, want)
					}
				}
				// Midnight crossed: the day before and this one in turn.
				prev := time.Date(d.y, time.Month(d.mo), d.dd-1, 0, 0, 0, 0, time.UTC)
				for range 3 {
					for _, x := range []day{{prev.Year(), int(prev.Month()), prev.Day()}, d} {
						want := time.Date(x.y, time.Month(x.mo), x.dd, 23, 59, 59, 0, loc).Unix()
						if got := c.Unix(x.y, x.mo, x.dd, 23, 59, 59, loc); got != want {
							t.Fatalf("%s %v 23:59:59 in turn: %d, time.Date %d", name, x, got, want)
						}
					}
				}
			}
		}
	}
	// Held where it can be, not where it cannot.
	moscow, _ := time.LoadLocation("Europe/Moscow")
	for _, tc := range []struct {
		d    day
		held bool
	}{{day{2016, 6, 7}, true}, {day{2014, 10, 26}, false}, {day{2014, 10, 25}, false}, {day{2024, 4, 31}, false}} {
		var c LocalDays
		c.Unix(tc.d.y, tc.d.mo, tc.d.dd, 12, 0, 0, moscow)
		if c.held != tc.held {
			t.Errorf("Moscow %v held %v, want %v", tc.d, c.held, tc.held)
		}
	}
	var none *LocalDays
	if got, want := none.Unix(2016, 6, 7, 17, 38, 0, time.UTC), time.Date(2016, 6, 7, 17, 38, 0, 0, time.UTC).Unix(); got != want {
		t.Fatalf("nil: %d, want %d", got, want)
	}
}

// TestLocalDaysAllocs: a held day allocates nothing.
func TestLocalDaysAllocs(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	var c LocalDays
	c.Unix(2016, 6, 7, 0, 0, 0, loc)
	if n := testing.AllocsPerRun(100, func() { c.Unix(2016, 6, 7, 17, 38, 0, loc) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
