package dispatch

import (
	"sync"

	"github.com/socketqueue/socketqueue-go/dispatch/wheel"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// shard is one part of the table, by terminal: its requests in flight
// (chained by key, or in their terminal's slot), its terminals with
// their queues, and its deadlines. Its methods are called with mu held.
type shard struct {
	mu sync.Mutex
	// inflight chains the requests in flight under one key hash (sameKey),
	// tids the terminals under one id hash (next).
	inflight map[uint64]*Request
	tids     map[uint64]*terminal
	nterm    int
	free     []*terminal
	wheel    *wheel.Wheel
	waiting  int
	seq      uint64      // requests put in flight: orders those under one key
	scratch  []*terminal // FailLink's, reused
	_        [64]byte    // keep shards' locks on separate cache lines
}

// terminal is one TID's lock and queue, and, when the key holds the
// TID, its request in flight under the lock (flying): that request is
// found through its terminal and is in no inflight chain.
type terminal struct {
	tid        isocodec.Key
	busy       bool
	flying     *Request
	head, tail *Request
	next       *terminal // another terminal whose id hashes alike
}

// terminal finds or makes tid's terminal; h is tid's hash.
func (s *shard) terminal(tid *isocodec.Key, h uint64) *terminal {
	if term := s.findTerminal(tid, h); term != nil {
		return term
	}
	var term *terminal
	if n := len(s.free); n > 0 {
		term, s.free = s.free[n-1], s.free[:n-1]
	} else {
		term = &terminal{}
	}
	term.tid, term.next = *tid, s.tids[h]
	s.tids[h] = term
	s.nterm++
	return term
}

func (s *shard) findTerminal(tid *isocodec.Key, h uint64) *terminal {
	for term := s.tids[h]; term != nil; term = term.next {
		if term.tid == *tid {
			return term
		}
	}
	return nil
}

// dropTerminal forgets term, which waits for nothing, and keeps it for
// reuse; h is its id's hash.
func (s *shard) dropTerminal(term *terminal, h uint64) {
	head := s.tids[h]
	switch {
	case head == term && term.next == nil:
		delete(s.tids, h)
	case head == term:
		s.tids[h] = term.next
	default:
		for p := head; p != nil; p = p.next {
			if p.next == term {
				p.next = term.next
				break
			}
		}
	}
	*term = terminal{}
	s.free = append(s.free, term)
	s.nterm--
}

// flyOn puts r, slotted, in flight in its terminal's slot.
func (s *shard) flyOn(term *terminal, r *Request) {
	r.state, r.onTerm = InFlight, true
	s.seq++
	r.seq = s.seq
	term.flying = r
}

// fly puts r in flight, after any others under its key.
func (s *shard) fly(r *Request) {
	r.state = InFlight
	r.sameKey = nil
	s.seq++
	r.seq = s.seq
	head := s.inflight[r.keyHash]
	if head == nil {
		s.inflight[r.keyHash] = r
		return
	}
	for head.sameKey != nil {
		head = head.sameKey
	}
	head.sameKey = r
}

// unfly takes r out of flight; term is its terminal when the caller
// has it (nil: looked up if needed).
func (s *shard) unfly(r *Request, term *terminal) {
	if r.onTerm {
		if term == nil {
			term = s.findTerminal(&r.TID, r.tidHash)
		}
		if term != nil && term.flying == r {
			term.flying = nil
		}
		r.onTerm = false
		return
	}
	head := s.inflight[r.keyHash]
	if head == r {
		if r.sameKey == nil {
			delete(s.inflight, r.keyHash)
		} else {
			s.inflight[r.keyHash] = r.sameKey
		}
	} else {
		for p := head; p != nil; p = p.sameKey {
			if p.sameKey == r {
				p.sameKey = r.sameKey
				break
			}
		}
	}
	r.sameKey = nil
}

func (s *shard) unqueue(r *Request) {
	term := s.findTerminal(&r.TID, r.tidHash)
	if term == nil {
		return
	}
	var prev *Request
	for p := term.head; p != nil; prev, p = p, p.queued {
		if p != r {
			continue
		}
		if prev == nil {
			term.head = r.queued
		} else {
			prev.queued = r.queued
		}
		if term.tail == r {
			term.tail = prev
		}
		break
	}
	r.queued = nil
	s.waiting--
}
