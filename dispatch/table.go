package dispatch

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/socketqueue/socketqueue-go/dispatch/wheel"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Config shapes a Table.
type Config struct {
	// Layout reads reply fields when two requests share a key.
	Layout *isocodec.Layout
	// KeyFields are the match key's fields; the table shards by terminal
	// only when they include 41.
	KeyFields []int
	// MaxQueue bounds requests held, waiting and in flight (0: no bound).
	MaxQueue int
	// LockTerminal keeps one request per terminal in flight.
	LockTerminal bool
	// Shards is rounded up to a power of two; 0 picks 64.
	Shards int
	// Tick is the wheel's resolution (10 ms when 0).
	Tick  time.Duration
	Start time.Time
}

// Outcome is what Submit did with a request.
type Outcome uint8

const (
	// Send: the request is in flight; write it to the bank now.
	Send Outcome = iota + 1
	// Wait: its terminal is busy; it is queued and comes back from Match,
	// Expire or Abort as the next one to send.
	Wait
	// Full: MaxQueue requests are held; the request was not taken.
	Full
)

// Table holds the requests. All methods are safe for concurrent use.
type Table struct {
	layout *isocodec.Layout
	shards []shard
	mask   uint64
	byTID  bool
	lock   bool
	max    int64
	held   atomic.Int64
	seed   maphash.Seed
	pool   sync.Pool
	// oneHash gives every key the same hash (tests: two keys that hash
	// alike are told apart).
	oneHash bool
}

// New makes a table.
func New(cfg Config) *Table {
	n := cfg.Shards
	if n <= 0 {
		n = 64
	}
	byTID := false
	for _, f := range cfg.KeyFields {
		if f == 41 {
			byTID = true
		}
	}
	if !byTID {
		n = 1
	}
	size := 1
	for size < n {
		size <<= 1
	}
	start := cfg.Start
	if start.IsZero() {
		start = time.Now()
	}
	t := &Table{layout: cfg.Layout, shards: make([]shard, size), mask: uint64(size - 1), byTID: byTID,
		lock: cfg.LockTerminal, max: int64(cfg.MaxQueue), seed: maphash.MakeSeed()}
	for i := range t.shards {
		s := &t.shards[i]
		s.inflight = make(map[uint64]*Request)
		s.tids = make(map[uint64]*terminal)
		s.wheel = wheel.New(cfg.Tick, 4096, start)
	}
	t.pool.New = func() any {
		r := &Request{}
		r.timer.Value = r
		return r
	}
	return t
}

// Get returns an empty request.
func (t *Table) Get() *Request { return t.pool.Get().(*Request) }

// Put recycles a request the table no longer holds.
func (t *Table) Put(r *Request) {
	if r.state != Free {
		panic("dispatch: Put of a request still in the table") // a gateway bug, not input
	}
	r.reset()
	t.pool.Put(r)
}

// Held is the number of requests waiting or in flight.
func (t *Table) Held() int { return int(t.held.Load()) }

// hash is a key's 64-bit map key: fixed-size keys hash and compare
// cheaply in the maps; what is found under one is checked against the
// whole key, so two keys that hash alike are still told apart.
func (t *Table) hash(k *isocodec.Key) uint64 {
	if t.oneHash {
		return 1
	}
	return maphash.Bytes(t.seed, k.Bytes())
}

// shardOf is the shard of a terminal id's hash.
func (t *Table) shardOf(tidHash uint64) *shard {
	if !t.byTID {
		return &t.shards[0]
	}
	return &t.shards[tidHash&t.mask]
}

// Submit takes a filled request with its deadline. On Send the caller
// writes r.Msg upstream; on Wait the table will hand r back as ready to
// send; on Full the caller still owns r.
func (t *Table) Submit(r *Request, deadline time.Time) Outcome {
	if n := t.held.Add(1); t.max > 0 && n > t.max {
		t.held.Add(-1)
		return Full
	}
	r.tidHash = t.hash(&r.TID)
	slotted := t.slotted(r)
	if !slotted {
		r.keyHash = t.hash(&r.Key)
	}
	s := t.shardOf(r.tidHash)
	r.shard = s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wheel.Schedule(&r.timer, deadline)
	if t.locked(r) {
		term := s.terminal(&r.TID, r.tidHash)
		if term.busy {
			r.state = Waiting
			if term.tail == nil {
				term.head = r
			} else {
				term.tail.queued = r
			}
			term.tail = r
			s.waiting++
			return Wait
		}
		term.busy = true
		if slotted {
			s.flyOn(term, r)
			return Send
		}
	}
	s.fly(r)
	return Send
}

// locked: r goes one at a time behind its terminal.
func (t *Table) locked(r *Request) bool { return t.lock && r.TID.Len() > 0 && !r.Unlocked }

// slotted: r, locked, flies in its terminal's slot, where a reply is
// found through its own field 41 with one map lookup; that needs the key
// to hold the TID (a reply under the key then carries it).
func (t *Table) slotted(r *Request) bool { return t.byTID && t.locked(r) }

// release ends r's hold on its terminal (term when the caller has it)
// and returns the next request for that terminal, now in flight, or nil.
func (t *Table) release(s *shard, r *Request, term *terminal) *Request {
	if !t.locked(r) {
		return nil
	}
	if term == nil {
		term = s.findTerminal(&r.TID, r.tidHash)
	}
	if term == nil {
		return nil
	}
	next := term.head
	if next == nil {
		s.dropTerminal(term, r.tidHash)
		return nil
	}
	term.head = next.queued
	if term.head == nil {
		term.tail = nil
	}
	next.queued = nil
	s.waiting--
	if t.slotted(next) {
		s.flyOn(term, next)
	} else {
		s.fly(next)
	}
	return next
}

// done takes r out of the table for good. Callers hold s.mu.
func (t *Table) done(s *shard, r *Request) {
	s.wheel.Stop(&r.timer)
	r.state = Free
	t.held.Add(-1)
}

// Match finds the request a reply answers: the one in flight under key
// (built from the reply with the table's key fields) in the shard of tid
// (the reply's field 41). When several wait under the key, the reply's
// MTI, amount and PAN choose (docs/design.md, "Matching"). It returns the request, now out of
// the table, and the next request for its terminal to send, if any; nil
// when nothing waits under the key (a late, duplicate or unknown reply).
func (t *Table) Match(key, tid isocodec.Key, reply *isocodec.Scan, msg []byte) (r, next *Request) {
	tidHash := t.hash(&tid)
	s := t.shardOf(tidHash)
	s.mu.Lock()
	defer s.mu.Unlock()
	// The candidates: the request in the slot of the reply's terminal,
	// and those in the chain under the key.
	var term *terminal
	var slot, head *Request
	n := 0
	if t.byTID && t.lock && tid.Len() > 0 {
		if term = s.findTerminal(&tid, tidHash); term != nil && term.flying != nil && term.flying.Key == key {
			slot, r, n = term.flying, term.flying, 1
		}
	}
	if len(s.inflight) > 0 {
		head = s.inflight[t.hash(&key)]
		for c := head; c != nil; c = c.sameKey {
			if c.Key == key {
				if r == nil {
					r = c
				}
				n++
			}
		}
	}
	if r == nil {
		return nil, nil
	}
	if n > 1 {
		r = t.best(slot, head, &key, reply, msg)
	}
	if r.MTI.Class() != reply.MTI.Class() {
		// A late 0210 under the key of the 0400 reversing it, say: it
		// answers nothing that waits.
		return nil, nil
	}
	if r != slot {
		term = nil // r's terminal, if any, is not the one in hand
	}
	s.unfly(r, term)
	t.done(s, r)
	return r, t.release(s, r, term)
}

// best scores the candidates under key, the slot's request (if any) and
// the chain from head: same MTI class +10; for class 2 the same amount
// +1; for an 0210 whose PAN starts the request's track 2, +5. The
// earliest put in flight of the best wins.
func (t *Table) best(slot, head *Request, key *isocodec.Key, reply *isocodec.Scan, msg []byte) *Request {
	var pan [19]byte
	panLen := 0
	if reply.Has(2) && reply.Units(2) <= len(pan) && t.layout != nil {
		panLen = len(t.layout.AppendText(pan[:0], reply, msg, 2))
	}
	amount := reply.Raw(msg, 4)
	score := func(c *Request) int {
		score := 0
		if c.MTI.Class() == reply.MTI.Class() {
			score += 10
			if c.MTI.Class() == '2' && amount != nil && string(c.amount[:c.amountLen]) == string(amount) {
				score++
			}
		}
		if reply.MTI == isocodec.MTIPurchaseResponse && panLen > 0 && c.cardLen > 0 &&
			int(c.cardLen) >= panLen && string(c.cardPAN[:panLen]) == string(pan[:panLen]) {
			score += 5
		}
		return score
	}
	var best *Request
	bestScore := -1
	if slot != nil {
		best, bestScore = slot, score(slot)
	}
	for c := head; c != nil; c = c.sameKey {
		if c.Key != *key {
			continue // another key that hashes alike
		}
		if sc := score(c); sc > bestScore || sc == bestScore && c.seq < best.seq {
			best, bestScore = c, sc
		}
	}
	return best
}

// MarkSent records that r is about to be written to the bank on link,
// with its journal record. It reports false when r is no longer in
// flight (it timed out or failed while its journal record was being
// written): then it must not be sent.
func (t *Table) MarkSent(r *Request, journal uint64, now int64, link int32) bool {
	s := r.shard
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.state != InFlight {
		return false
	}
	r.Sent, r.JournalID, r.Link = now, journal, link
	if r.TryTimeout > 0 {
		s.wheel.Schedule(&r.timer, time.Unix(0, now).Add(r.TryTimeout))
	}
	return true
}

// Abort takes r out of the table (it could not be written, or its client
// left before it was sent) and returns the next request for its terminal.
// ok is false when r was no longer in the table (it expired or failed in
// the meantime, and whoever took it out owns it now).
func (t *Table) Abort(r *Request) (next *Request, ok bool) {
	s := r.shard
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.state {
	case InFlight:
		s.unfly(r, nil)
		t.done(s, r)
		return t.release(s, r, nil), true
	case Waiting:
		s.unqueue(r)
		t.done(s, r)
		return nil, true
	}
	return nil, false
}

// Expire takes out every request whose deadline has passed by now and
// appends them to expired, and the requests that their terminals' turn
// now passes to (in flight, to send) to ready.
func (t *Table) Expire(now time.Time, expired, ready []*Request) ([]*Request, []*Request) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		s.wheel.Advance(now, func(tm *wheel.Timer) {
			r := tm.Value.(*Request)
			switch r.state {
			case InFlight:
				s.unfly(r, nil)
				r.state = Free
				t.held.Add(-1)
				if next := t.release(s, r, nil); next != nil {
					ready = append(ready, next)
				}
			case Waiting:
				s.unqueue(r)
				r.state = Free
				t.held.Add(-1)
			}
			expired = append(expired, r)
		})
		s.mu.Unlock()
	}
	return expired, ready
}

// FailAll takes every request out, in flight and waiting, and appends
// them to out: the link they were to travel on is gone.
func (t *Table) FailAll(out []*Request) []*Request {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, head := range s.inflight {
			for r := head; r != nil; {
				next := r.sameKey
				r.sameKey = nil
				t.done(s, r)
				out = append(out, r)
				r = next
			}
			delete(s.inflight, k)
		}
		for k, chain := range s.tids {
			for term := chain; term != nil; {
				if r := term.flying; r != nil {
					r.onTerm = false
					t.done(s, r)
					out = append(out, r)
				}
				for r := term.head; r != nil; {
					next := r.queued
					r.queued = nil
					t.done(s, r)
					out = append(out, r)
					r = next
				}
				next := term.next
				*term = terminal{}
				s.free = append(s.free, term)
				term = next
			}
			delete(s.tids, k)
		}
		s.nterm = 0
		s.waiting = 0
		s.mu.Unlock()
	}
	return out
}

// FailLink takes out the requests written on link, which is gone, and
// appends them to out; the requests their terminals' turn passes to (in
// flight, not yet sent) go to ready, to be sent on another link. Requests
// not yet written, and those on other links, stay.
func (t *Table) FailLink(link int32, out, ready []*Request) ([]*Request, []*Request) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for _, head := range s.inflight {
			for r := head; r != nil; {
				next := r.sameKey
				if r.Sent != 0 && r.Link == link {
					s.unfly(r, nil)
					t.done(s, r)
					out = append(out, r)
					if n := t.release(s, r, nil); n != nil {
						ready = append(ready, n)
					}
				}
				r = next
			}
		}
		// Terminals are gathered first: a release may drop one from the map.
		s.scratch = s.scratch[:0]
		for _, chain := range s.tids {
			for term := chain; term != nil; term = term.next {
				if r := term.flying; r != nil && r.Sent != 0 && r.Link == link {
					s.scratch = append(s.scratch, term)
				}
			}
		}
		for _, term := range s.scratch {
			r := term.flying
			s.unfly(r, term)
			t.done(s, r)
			out = append(out, r)
			if n := t.release(s, r, term); n != nil {
				ready = append(ready, n)
			}
		}
		clear(s.scratch)
		s.mu.Unlock()
	}
	return out, ready
}

// SentByLink adds, for each request written and awaiting its reply, one
// to counts[its link] (links beyond counts are not counted). It locks
// each shard in turn: for figures read now and then, not per message.
func (t *Table) SentByLink(counts []int) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		count := func(r *Request) {
			if r.Sent != 0 && int(r.Link) < len(counts) && r.Link >= 0 {
				counts[r.Link]++
			}
		}
		for _, head := range s.inflight {
			for r := head; r != nil; r = r.sameKey {
				count(r)
			}
		}
		for _, chain := range s.tids {
			for term := chain; term != nil; term = term.next {
				if term.flying != nil {
					count(term.flying)
				}
			}
		}
		s.mu.Unlock()
	}
}

// Counts are the table's occupancy.
type Counts struct {
	InFlight, Waiting, Terminals int
}

// Counts adds up the shards.
func (t *Table) Counts() Counts {
	var c Counts
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		c.Waiting += s.waiting
		c.Terminals += s.nterm
		c.InFlight += s.wheel.Len() - s.waiting
		s.mu.Unlock()
	}
	return c
}
