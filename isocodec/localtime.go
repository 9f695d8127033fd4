package isocodec

import "time"

// LocalDays turns a terminal's local date and clock into Unix time
// through the first second of the day last asked for, so that a request's
// local time costs arithmetic instead of a time.Date (a zone lookup)
// each time: the requests of a connection carry one day, or two around
// midnight. A day is held only if the zone in effect at its start lasts
// through it and the next: on a day with a change of offset (whose
// repeated hour time.Date reads its own way) or just before one, and on
// a day that starts in a gap, every call is time.Date's.
//
// Not safe for concurrent use: one per goroutine (a POS connection's).
type LocalDays struct {
	loc   *time.Location
	key   int   // y*10000 + mo*100 + dd of the day last asked for; 0: none
	held  bool  // key's day is held: start is its first second
	start int64 // the day's first second (Unix)
}

// Unix is time.Date(y, mo, dd, hh, mi, ss, 0, loc).Unix(). A nil c
// computes it each time.
func (c *LocalDays) Unix(y, mo, dd, hh, mi, ss int, loc *time.Location) int64 {
	secs := int64(hh*3600 + mi*60 + ss)
	key := y*10000 + mo*100 + dd
	if c != nil && c.key == key && c.loc == loc {
		if c.held {
			return c.start + secs
		}
	} else if c != nil {
		c.hold(y, mo, dd, key, loc) // once a day, held or not
	}
	return time.Date(y, time.Month(mo), dd, hh, mi, ss, 0, loc).Unix()
}

// hold makes the day y-mo-dd the one held, if its midnight exists as
// such: not a date time.Date normalizes (31 April), nor in a gap.
func (c *LocalDays) hold(y, mo, dd, key int, loc *time.Location) {
	c.loc, c.key, c.held = loc, key, false
	m := time.Date(y, time.Month(mo), dd, 0, 0, 0, 0, loc)
	if m.Year() != y || int(m.Month()) != mo || m.Day() != dd || m.Hour() != 0 || m.Minute() != 0 || m.Second() != 0 {
		return
	}
	// time.Date looks the zone up near the clock read as UTC, up to 14
	// hours off the instant: two days clear of a change cover it.
	if _, end := m.ZoneBounds(); !end.IsZero() && end.Unix()-m.Unix() < 2*24*3600 {
		return
	}
	c.held, c.start = true, m.Unix()
}
