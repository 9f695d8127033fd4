package reversal

import "github.com/socketqueue/socketqueue-go/journal"

// Store records purchases sent and the reversals they need, so that a
// restart finds them. Its methods queue the write and return; the store
// orders them. A second store (a replicated one) is a new implementation
// of this interface.
type Store interface {
	// Settle forgets purchase id: answered, never sent, or reversed.
	Settle(id uint64)
	// Reversing records that rv is due, with its tries and next time.
	Reversing(rv *Reversal)
	// GiveUp keeps rv for an operator: its tries ran out.
	GiveUp(rv *Reversal)
	// Pending lists, at start, the purchases an earlier run left open
	// and the reversals it had pending.
	Pending() ([]*Reversal, error)
}

// Owner is a Store shared with other instances: a reversal it no longer
// owns (taken over by another) is not sent, and one it is unsure of (its
// lease lapsed and is not renewed yet) waits. Owns is cheap and never
// blocks: it runs before every try, and before a purchase's answer is
// given to its client.
type Owner interface {
	Owns(id uint64) Ownership
}

// Ownership is whether a purchase's record is this instance's to act on.
type Ownership uint8

const (
	// Owned: this instance's; its reversal is sent, its answer given.
	Owned Ownership = iota
	// Unsure: this instance's lease lapsed, so the others may have taken
	// it; known once the lease is renewed.
	Unsure
	// Lost: not this instance's (taken over, or settled).
	Lost
)

// Journal is the Store on the local journal; nil j records nothing, and
// id 0 is a purchase that was never recorded.
func Journal(j *journal.Journal) Store { return journalStore{j} }

type journalStore struct{ j *journal.Journal }

func (s journalStore) Settle(id uint64) {
	if s.j != nil && id != 0 {
		s.j.Settle(id)
	}
}

func (s journalStore) Reversing(rv *Reversal) {
	if s.j != nil && rv.ID != 0 {
		s.j.Reversing(entryOf(rv))
	}
}

func (s journalStore) GiveUp(rv *Reversal) {
	if s.j != nil && rv.ID != 0 {
		s.j.GiveUp(entryOf(rv))
	}
}

func (s journalStore) Pending() ([]*Reversal, error) {
	if s.j == nil {
		return nil, nil
	}
	es, err := s.j.Pending()
	if err != nil {
		return nil, err
	}
	out := make([]*Reversal, 0, len(es))
	for _, e := range es {
		rv := &Reversal{ID: e.ID, Original: e.Msg, Tries: e.Tries, Next: e.Next, Reason: e.Reason}
		if e.State == journal.Sent {
			rv.Reason = "unanswered when the gateway stopped"
		}
		out = append(out, rv)
	}
	return out, nil
}

func entryOf(rv *Reversal) journal.Entry {
	return journal.Entry{ID: rv.ID, Tries: rv.Tries, Next: rv.Next, Reason: rv.Reason, Msg: rv.Original}
}
