// Package wheel is a hashed timing wheel: timers are kept in slots by the
// tick they fall due in, so adding, stopping and expiring cost O(1) and
// allocate nothing. It is not safe for concurrent use; its owner locks.
//
// Invariants: a Timer is in at most one slot; Advance fires a timer only
// once its deadline has passed, and fires every such timer; a timer
// further away than one turn of the wheel stays in its slot and is passed
// over until its turn comes.
package wheel

import "time"

// Timer is one scheduled deadline. Embed it in, or keep it beside, the
// thing it times; Value says which thing that is.
type Timer struct {
	Value      any
	at         int64 // deadline, Unix nanoseconds
	next, prev *Timer
	on         bool
}

// Deadline is when the timer falls due.
func (t *Timer) Deadline() time.Time { return time.Unix(0, t.at) }

// Scheduled reports whether the timer is in the wheel.
func (t *Timer) Scheduled() bool { return t.on }

// Wheel holds timers in slots of one tick each.
type Wheel struct {
	tick  int64
	slots []Timer // list heads; slot i holds ticks ≡ i (mod len)
	mask  int64
	now   int64 // the last tick advanced to
	n     int
	due   []*Timer
}

// New makes a wheel of tick resolution with at least slots slots (rounded
// up to a power of two), starting at start.
func New(tick time.Duration, slots int, start time.Time) *Wheel {
	if tick <= 0 {
		tick = 10 * time.Millisecond
	}
	n := 1
	for n < slots {
		n <<= 1
	}
	w := &Wheel{tick: int64(tick), slots: make([]Timer, n), mask: int64(n - 1), now: start.UnixNano() / int64(tick)}
	for i := range w.slots {
		w.slots[i].next, w.slots[i].prev = &w.slots[i], &w.slots[i]
	}
	return w
}

// Len is the number of scheduled timers.
func (w *Wheel) Len() int { return w.n }

// Schedule sets t to fall due at at, moving it if it was scheduled. A
// deadline already past fires at the next Advance.
func (w *Wheel) Schedule(t *Timer, at time.Time) {
	if t.on {
		w.Stop(t)
	}
	t.at = at.UnixNano()
	// The first tick at or after the deadline: by the time Advance
	// reaches it, the deadline has passed and the timer fires.
	tk := (t.at + w.tick - 1) / w.tick
	if tk <= w.now {
		tk = w.now + 1
	}
	head := &w.slots[tk&w.mask]
	t.prev, t.next = head.prev, head
	head.prev.next = t
	head.prev = t
	t.on = true
	w.n++
}

// Stop takes t out of the wheel; it reports whether t was scheduled.
func (w *Wheel) Stop(t *Timer) bool {
	if !t.on {
		return false
	}
	t.prev.next, t.next.prev = t.next, t.prev
	t.next, t.prev, t.on = nil, nil, false
	w.n--
	return true
}

// Advance moves the wheel to now and calls fire for every timer due by
// then, after taking it out of the wheel (fire may schedule it again).
func (w *Wheel) Advance(now time.Time, fire func(*Timer)) {
	nowNs := now.UnixNano()
	target := nowNs / w.tick
	if target < w.now {
		return
	}
	from := w.now + 1
	if target-from >= int64(len(w.slots)) {
		from = target - int64(len(w.slots)) + 1 // one full turn visits every slot
	}
	due := w.due[:0]
	// The slot after target holds deadlines up to one tick ahead; those
	// already passed (now between two ticks) are due too, though the
	// slot itself is not passed yet.
	for tk := from; tk <= target+1; tk++ {
		head := &w.slots[tk&w.mask]
		for t := head.next; t != head; {
			next := t.next
			if t.at <= nowNs {
				w.Stop(t)
				due = append(due, t)
			}
			t = next
		}
	}
	w.now = target
	for i, t := range due {
		due[i] = nil
		fire(t)
	}
	w.due = due[:0]
}
