package dispatch

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// MaxReversalTries is how often a reversal is sent before the gateway
// gives up on it (SPEC 5).
const MaxReversalTries = 10

// ReversalDelay is the wait before try n (1-based): at once, 2 s, then
// 10 s up to the 8th try, then 300 s (SPEC 5).
func ReversalDelay(try int) time.Duration {
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

// Reversal is one purchase the gateway must undo: the original 0200, why,
// and how far its tries have got.
type Reversal struct {
	// ID is the journal record of the original (0 without a journal).
	ID uint64
	// Original is the 0200 as it was sent.
	Original []byte
	Reason   string
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
	keyed   bool         // in Reversals.byKey: a written try may still be answered
	keyedAs isocodec.Key // under this key
}

// Repeat reports whether the try being sent is a repeat: an earlier
// one was written to the bank and may have reached it.
func (rv *Reversal) Repeat() bool { return rv.Tries > 1 }

// ReversalCounts are the reversal figures since start.
type ReversalCounts struct {
	Decided   int64 // purchases found to need a reversal
	Recovered int64 // of those, found open in the journal at start
	Sent      int64 // 0400s written, tries included
	Approved  int64
	Retried   int64
	Rejected  int64 // a final answer other than approved (e.g. not found)
	GivenUp   int64
	// Late: answers that came after their try had timed out and settled
	// the reversal instead of a retry.
	Late int64
}

// Reversals holds the pending reversals and their schedule. It is safe
// for concurrent use.
type Reversals struct {
	mu      sync.Mutex
	pending map[*Reversal]struct{}
	// byKey: the reversals between a try that was written and the next,
	// by the key of the try, so that its answer still settles them when
	// it comes late.
	byKey  map[isocodec.Key][]*Reversal
	counts struct {
		decided, recovered, sent, approved, retried, rejected, givenUp, late atomic.Int64
	}
}

// NewReversals makes an empty set.
func NewReversals() *Reversals {
	return &Reversals{pending: make(map[*Reversal]struct{}), byKey: make(map[isocodec.Key][]*Reversal)}
}

// Add schedules rv's next try; recovered marks one found at start.
func (rs *Reversals) Add(rv *Reversal, recovered bool) {
	if rv.Tries == 0 {
		rs.counts.decided.Add(1)
	}
	rs.mu.Lock()
	rs.pending[rv] = struct{}{}
	rs.mu.Unlock()
	if recovered {
		rs.counts.recovered.Add(1)
	}
}

// Due returns the reversals whose next try is due by now and marks them
// as being sent; each comes back through Answered or Failed.
func (rs *Reversals) Due(now time.Time, out []*Reversal) []*Reversal {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for rv := range rs.pending {
		if !rv.sending && !rv.Next.After(now) {
			rv.sending = true
			rv.Tries++
			rs.counts.sent.Add(1)
			out = append(out, rv)
		}
	}
	return out
}

// Unsent puts back a reversal Due handed out that could not be written
// (the link was down): the try does not count.
func (rs *Reversals) Unsent(rv *Reversal) {
	rs.mu.Lock()
	rv.sending = false
	rv.Tries--
	rs.mu.Unlock()
	rs.counts.sent.Add(-1)
}

// Late finds the reversal a reply answers that matched no request in
// flight: one whose try timed out (or whose link dropped) before its
// answer came, now waiting for its retry. That reversal is taken as
// being sent again (it comes back through Answered), so that its retry
// is not sent; nil when none waits under key. amount is the reply's
// field 4 (nil when absent) and must be the original's where both have
// one.
func (rs *Reversals) Late(key isocodec.Key, amount []byte, amountOf func(*Reversal) []byte) *Reversal {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, rv := range rs.byKey[key] {
		if rv.sending {
			continue // its next try is under way; the table has it
		}
		if a := amountOf(rv); amount != nil && a != nil && string(a) != string(amount) {
			continue
		}
		rs.unkey(rv)
		rv.sending = true
		rs.counts.late.Add(1)
		return rv
	}
	return nil
}

// key files rv under the key of its last try written.
func (rs *Reversals) key(rv *Reversal) {
	rs.unkey(rv)
	rv.keyed, rv.keyedAs = true, rv.Key
	rs.byKey[rv.Key] = append(rs.byKey[rv.Key], rv)
}

func (rs *Reversals) unkey(rv *Reversal) {
	if !rv.keyed {
		return
	}
	rv.keyed = false
	list := rs.byKey[rv.keyedAs]
	for i, x := range list {
		if x == rv {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(rs.byKey, rv.keyedAs)
	} else {
		rs.byKey[rv.keyedAs] = list
	}
}

// forget takes rv out for good. Callers hold mu.
func (rs *Reversals) forget(rv *Reversal) {
	rs.unkey(rv)
	delete(rs.pending, rv)
}

// TryOutcome is what became of one try.
type TryOutcome uint8

const (
	// Done: approved; the purchase is undone.
	Done TryOutcome = iota + 1
	// Retry: scheduled again (rv.Next).
	Retry
	// Rejected: a final answer that is not an approval.
	Rejected
	// GiveUp: no tries left.
	GiveUp
)

// Answered records the bank's answer to a try: approved ends it, a system
// error retries it, anything else is final. It returns the outcome and a
// copy of rv as it then stands: once rv is scheduled again another
// goroutine may take it, so the caller reads the copy.
func (rs *Reversals) Answered(rv *Reversal, code string, approved, systemError bool, now time.Time) (TryOutcome, Reversal) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rv.LastCode = code
	switch {
	case approved:
		rs.forget(rv)
		rs.counts.approved.Add(1)
		return Done, *rv
	case systemError:
		return rs.failed(rv, now, false)
	}
	rs.forget(rv)
	rs.counts.rejected.Add(1)
	return Rejected, *rv
}

// Failed records a try that got no answer (timeout, link dropped) and
// schedules the next one, or gives up after the last; see Answered for
// the copy.
func (rs *Reversals) Failed(rv *Reversal, now time.Time) (TryOutcome, Reversal) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rv.LastCode = ""
	return rs.failed(rv, now, true)
}

// failed schedules rv again; unanswered: its try got no answer, which
// may yet come.
func (rs *Reversals) failed(rv *Reversal, now time.Time, unanswered bool) (TryOutcome, Reversal) {
	if rv.Tries >= MaxReversalTries {
		rs.forget(rv)
		rs.counts.givenUp.Add(1)
		return GiveUp, *rv
	}
	rv.sending = false
	if unanswered {
		rs.key(rv)
	}
	rv.Next = now.Add(ReversalDelay(rv.Tries + 1))
	rs.counts.retried.Add(1)
	return Retry, *rv
}

// DueBy reports whether a reversal is due by now or being sent.
func (rs *Reversals) DueBy(now time.Time) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for rv := range rs.pending {
		if rv.sending || !rv.Next.After(now) {
			return true
		}
	}
	return false
}

// Len is the number of pending reversals.
func (rs *Reversals) Len() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return len(rs.pending)
}

// Counts returns the figures.
func (rs *Reversals) Counts() ReversalCounts {
	c := &rs.counts
	return ReversalCounts{c.decided.Load(), c.recovered.Load(), c.sent.Load(), c.approved.Load(),
		c.retried.Load(), c.rejected.Load(), c.givenUp.Load(), c.late.Load()}
}
