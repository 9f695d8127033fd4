package reversal

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// MaxTries is how often a reversal is sent before it is given up.
const MaxTries = 10

// Delay is the wait before try n (1-based): at once, 2 s, then 10 s up to
// the 8th try, then 300 s. Hosts count a burst of repeats as abuse; the
// long tail gives an outage time to end.
func Delay(try int) time.Duration {
	switch {
	case try <= 1:
		return 0
	case try == 2:
		return 2 * time.Second
	case try <= 8:
		return 10 * time.Second
	}
	return 300 * time.Second
}

// Reversal is one purchase to undo: the original 0200, why, and how far
// its tries have got.
type Reversal struct {
	// ID is the purchase's record in the Store (0: none).
	ID uint64
	// Original is the 0200 as it was sent.
	Original []byte
	// Amount is the original's field 4 as on the wire (nil when absent):
	// a late answer must carry it too.
	Amount []byte
	Reason string
	// Tries made so far, and when the next is due.
	Tries int
	Next  time.Time
	// LastCode is the response code of the last answer, if any.
	LastCode string
	// Key is the match key of the last try written, under which a late
	// answer to it is recognised (set by the sender while it holds the
	// try).
	Key isocodec.Key

	sending bool
	// waited: it has waited for its owner to be sure (logged once).
	waited  bool
	at      int          // index in the schedule's heap; -1 when not in it
	keyed   bool         // in byKey: a written try may still be answered
	keyedAs isocodec.Key // under this key
}

// Repeat reports whether the try being sent is a repeat: an earlier one
// was written to the bank and may have reached it.
func (rv *Reversal) Repeat() bool { return rv.Tries > 1 }

// Counts are the reversal figures since start.
type Counts struct {
	Decided   int64 // purchases found to need a reversal
	Recovered int64 // of those, found open in the Store at start
	Sent      int64 // tries written, repeats included
	Approved  int64
	Retried   int64
	Rejected  int64 // a final answer other than approved (e.g. not found)
	GivenUp   int64
	// Late: answers that came after their try had timed out and settled
	// the reversal instead of a retry.
	Late int64
}

// Outcome is what became of one try.
type Outcome uint8

const (
	// Done: approved; the purchase is undone.
	Done Outcome = iota + 1
	// Retry: scheduled again (Next).
	Retry
	// Rejected: a final answer that is not an approval.
	Rejected
	// GiveUp: no tries left.
	GiveUp
)

// Schedule holds the pending reversals in the order they fall due. It is
// safe for concurrent use.
type Schedule struct {
	mu      sync.Mutex
	pending map[*Reversal]struct{}
	queue   dueQueue // those waiting for their next try
	// byKey: the reversals between a try that was written and the next,
	// by the key of the try, so that its answer still settles them when
	// it comes late.
	byKey  map[isocodec.Key][]*Reversal
	counts struct {
		decided, recovered, sent, approved, retried, rejected, givenUp, late atomic.Int64
	}
}

// NewSchedule makes an empty schedule.
func NewSchedule() *Schedule {
	return &Schedule{pending: make(map[*Reversal]struct{}), byKey: make(map[isocodec.Key][]*Reversal)}
}

// Add schedules rv's next try; recovered marks one found at start.
func (s *Schedule) Add(rv *Reversal, recovered bool) {
	if rv.Tries == 0 {
		s.counts.decided.Add(1)
	}
	if recovered {
		s.counts.recovered.Add(1)
	}
	s.mu.Lock()
	s.pending[rv] = struct{}{}
	heap.Push(&s.queue, rv)
	s.mu.Unlock()
}

// Due returns the reversals whose next try is due by now and marks them
// as being sent; each comes back through Answered, Failed or Unsent.
func (s *Schedule) Due(now time.Time, out []*Reversal) []*Reversal {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 && !s.queue[0].Next.After(now) {
		rv := heap.Pop(&s.queue).(*Reversal)
		rv.sending = true
		rv.Tries++
		s.counts.sent.Add(1)
		out = append(out, rv)
	}
	return out
}

// Unsent puts back a reversal Due handed out that could not be written
// (no link, or it waited past its bound): the try does not count.
func (s *Schedule) Unsent(rv *Reversal) { s.Postpone(rv, rv.Next) }

// Postpone puts back a reversal Due handed out, unsent, to be due again
// at next: the try does not count.
func (s *Schedule) Postpone(rv *Reversal, next time.Time) {
	s.mu.Lock()
	rv.sending = false
	rv.Tries--
	rv.Next = next
	heap.Push(&s.queue, rv)
	s.mu.Unlock()
	s.counts.sent.Add(-1)
}

// Late finds the reversal a reply answers that matched no request in
// flight: one whose try timed out (or whose link dropped) before its
// answer came, now waiting for its retry. That reversal is taken as being
// sent again (it comes back through Answered), so that its retry is not
// sent; nil when none waits under key. amount is the reply's field 4 (nil
// when absent) and must be the original's where both have one.
func (s *Schedule) Late(key isocodec.Key, amount []byte) *Reversal {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rv := range s.byKey[key] {
		if rv.sending {
			continue // its next try is under way; the table has it
		}
		if amount != nil && rv.Amount != nil && string(rv.Amount) != string(amount) {
			continue
		}
		s.unkey(rv)
		s.dequeue(rv)
		rv.sending = true
		s.counts.late.Add(1)
		return rv
	}
	return nil
}

// key files rv under the key of its last try written.
func (s *Schedule) key(rv *Reversal) {
	s.unkey(rv)
	rv.keyed, rv.keyedAs = true, rv.Key
	s.byKey[rv.Key] = append(s.byKey[rv.Key], rv)
}

func (s *Schedule) unkey(rv *Reversal) {
	if !rv.keyed {
		return
	}
	rv.keyed = false
	list := s.byKey[rv.keyedAs]
	for i, x := range list {
		if x == rv {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.byKey, rv.keyedAs)
	} else {
		s.byKey[rv.keyedAs] = list
	}
}

// Drop takes rv out without an outcome: it is no longer this
// instance's to reverse (another took it over).
func (s *Schedule) Drop(rv *Reversal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(rv)
}

// forget takes rv out for good. Callers hold mu.
func (s *Schedule) forget(rv *Reversal) {
	s.unkey(rv)
	s.dequeue(rv)
	delete(s.pending, rv)
}

// dequeue takes rv off the heap if it is there. Callers hold mu.
func (s *Schedule) dequeue(rv *Reversal) {
	if rv.at >= 0 && rv.at < len(s.queue) && s.queue[rv.at] == rv {
		heap.Remove(&s.queue, rv.at)
	}
}

// Answered records the bank's answer to a try: approved ends it, a system
// error retries it, anything else is final. It returns the outcome and a
// copy of rv as it then stands: once rv is scheduled again another
// goroutine may take it, so the caller reads the copy.
func (s *Schedule) Answered(rv *Reversal, code string, approved, systemError bool, now time.Time) (Outcome, Reversal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rv.LastCode = code
	switch {
	case approved:
		s.forget(rv)
		s.counts.approved.Add(1)
		return Done, *rv
	case systemError:
		return s.failed(rv, now, false)
	}
	s.forget(rv)
	s.counts.rejected.Add(1)
	return Rejected, *rv
}

// Failed records a try that got no answer (timeout, link dropped) and
// schedules the next one, or gives up after the last; see Answered for
// the copy.
func (s *Schedule) Failed(rv *Reversal, now time.Time) (Outcome, Reversal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rv.LastCode = ""
	return s.failed(rv, now, true)
}

// failed schedules rv again; unanswered: its try got no answer, which
// may yet come.
func (s *Schedule) failed(rv *Reversal, now time.Time, unanswered bool) (Outcome, Reversal) {
	if rv.Tries >= MaxTries {
		s.forget(rv)
		s.counts.givenUp.Add(1)
		return GiveUp, *rv
	}
	rv.sending = false
	if unanswered {
		s.key(rv)
	}
	rv.Next = now.Add(Delay(rv.Tries + 1))
	heap.Push(&s.queue, rv)
	s.counts.retried.Add(1)
	return Retry, *rv
}

// DueBy reports whether a reversal is due by now or being sent.
func (s *Schedule) DueBy(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) > len(s.queue) {
		return true // some are being sent
	}
	return len(s.queue) > 0 && !s.queue[0].Next.After(now)
}

// Len is the number of pending reversals.
func (s *Schedule) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Counts returns the figures.
func (s *Schedule) Counts() Counts {
	c := &s.counts
	return Counts{c.decided.Load(), c.recovered.Load(), c.sent.Load(), c.approved.Load(),
		c.retried.Load(), c.rejected.Load(), c.givenUp.Load(), c.late.Load()}
}

// dueQueue is a min-heap of reversals by Next.
type dueQueue []*Reversal

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].Next.Before(q[j].Next) }
func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].at, q[j].at = i, j
}
func (q *dueQueue) Push(x any) {
	rv := x.(*Reversal)
	rv.at = len(*q)
	*q = append(*q, rv)
}
func (q *dueQueue) Pop() any {
	old := *q
	rv := old[len(old)-1]
	old[len(old)-1] = nil
	rv.at = -1
	*q = old[:len(old)-1]
	return rv
}
