package reversal

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Config shapes a Reverser.
type Config struct {
	Dialect *isocodec.Dialect
	// RepeatMTI is the MTI of a try after one that was written (0401
	// unless the host wants 0420 or 0421).
	RepeatMTI isocodec.MTI
	// Disabled: never reverse (noAutoReversal); purchases left open at
	// start are logged and kept.
	Disabled bool
	// Store records every step; nil records nothing.
	Store Store
	Log   zerolog.Logger
}

// Reverser decides, schedules and records reversals. It is safe for
// concurrent use: Decide is called from the bank link's loop and the
// ticker, Due from the ticker only, Answered from the link's loop, Failed
// and Unsent from wherever a try ends. None blocks on I/O.
type Reverser struct {
	cfg   Config
	sched *Schedule
	due   []*Reversal // Due's scratch: the ticker's
}

// New makes a Reverser with an empty schedule.
func New(cfg Config) *Reverser {
	if cfg.Store == nil {
		cfg.Store = Journal(nil)
	}
	return &Reverser{cfg: cfg, sched: NewSchedule()}
}

// Schedule is the pending reversals and their figures.
func (x *Reverser) Schedule() *Schedule { return x.sched }

// Settle forgets purchase id in the store (0: never recorded).
func (x *Reverser) Settle(id uint64) { x.cfg.Store.Settle(id) }

// Decide schedules the reversal of original (purchase id in the store),
// sent to the bank and not answered to its client; original is copied.
func (x *Reverser) Decide(id uint64, original []byte, reason string, now time.Time) {
	if x.cfg.Disabled {
		x.cfg.Store.Settle(id)
		return
	}
	rv := x.reversal(id, append([]byte(nil), original...), reason)
	rv.Next = now
	x.cfg.Store.Reversing(rv)
	x.logged(x.cfg.Log.Warn(), rv).Msg("purchase to be reversed") // before Add hands rv to the ticker
	x.sched.Add(rv, false)
}

func (x *Reverser) reversal(id uint64, original []byte, reason string) *Reversal {
	rv := &Reversal{ID: id, Original: original, Reason: reason, at: -1}
	var s isocodec.Scan
	if x.cfg.Dialect.Layout.Scan(original, &s) == nil && s.Has(4) {
		rv.Amount = append([]byte(nil), s.Raw(original, 4)...)
	}
	return rv
}

// Recover schedules the reversal of every purchase an earlier run left
// open in the store, and resumes the reversals it had pending.
func (x *Reverser) Recover(now time.Time) error {
	pending, err := x.cfg.Store.Pending()
	if err != nil {
		return err
	}
	for _, p := range pending {
		rv := x.reversal(p.ID, p.Original, p.Reason)
		rv.Tries, rv.Next = p.Tries, p.Next
		if rv.Next.IsZero() || rv.Next.Before(now) {
			rv.Next = now
		}
		if x.cfg.Disabled {
			x.logged(x.cfg.Log.Error(), rv).Msg("purchase left open by an earlier run; noAutoReversal is set, not reversed")
			continue
		}
		x.cfg.Store.Reversing(rv)
		x.logged(x.cfg.Log.Warn(), rv).Msg("purchase recovered from the journal, to be reversed")
		x.sched.Add(rv, true)
	}
	return nil
}

// unsureWait is how long a reversal this instance is unsure of waits
// before it asks again: about a lease renewal.
const unsureWait = time.Second

// Due returns the reversals to try now, each with its message; a
// reversal whose message cannot be built is given up at once (it cannot
// happen for a 0200 that went out). Each comes back through Answered,
// Failed or Unsent.
func (x *Reverser) Due(now time.Time, out []Try) []Try {
	x.due = x.sched.Due(now, x.due[:0])
	defer clear(x.due)
	owner, shared := x.cfg.Store.(Owner)
	for _, rv := range x.due {
		if shared {
			switch owner.Owns(rv.ID) {
			case Lost:
				x.logged(x.cfg.Log.Warn(), rv).Msg("reversal no longer this instance's (its lease lapsed; another takes it over): not sent")
				x.sched.Drop(rv)
				continue
			case Unsure:
				if !rv.waited {
					rv.waited = true
					x.logged(x.cfg.Log.Warn(), rv).Msg("reversal waits: this instance's lease lapsed, and until it is renewed the reversal may be another's")
				}
				x.sched.Postpone(rv, now.Add(unsureWait))
				continue
			}
		}
		msg, err := Message(x.cfg.Dialect, rv.Original, rv.Repeat(), x.cfg.RepeatMTI, now)
		var s isocodec.Scan
		if err == nil {
			err = x.cfg.Dialect.Layout.Scan(msg, &s)
		}
		if err != nil {
			x.logged(x.cfg.Log.Error(), rv).Err(err).Msg("cannot build the reversal")
			x.outcome(x.sched.Answered(rv, "", false, false, now))
			continue
		}
		out = append(out, Try{Reversal: rv, Msg: msg, Scan: s})
	}
	return out
}

// Try is one reversal's try, ready to send.
type Try struct {
	Reversal *Reversal
	Msg      []byte
	Scan     isocodec.Scan // of Msg
}

// Sent logs a try as it goes. Call it before the try is written: once
// sent, its answer may settle the reversal on another goroutine.
func (x *Reverser) Sent(t *Try) {
	x.logged(x.cfg.Log.Info(), t.Reversal).Str("mti", t.Scan.MTI.String()).Msg("reversal sent")
}

// Unsent takes back a try that never reached the bank (no link, no room,
// or it waited behind its terminal past its bound): it does not count.
func (x *Reverser) Unsent(rv *Reversal) { x.sched.Unsent(rv) }

// Answered handles the bank's answer to a try.
func (x *Reverser) Answered(rv *Reversal, s *isocodec.Scan, msg []byte, now time.Time) {
	d := x.cfg.Dialect
	var buf [8]byte
	code := d.Layout.AppendText(buf[:0], s, msg, 39)
	x.outcome(x.sched.Answered(rv, string(code), Approved(d, code), d.IsSystemError(code), now))
}

// Failed handles a try written to the bank that got no answer.
func (x *Reverser) Failed(rv *Reversal, now time.Time) {
	x.outcome(x.sched.Failed(rv, now))
}

// Late takes a reversal answer that matched no request in flight: if it
// answers a try that timed out and waits for its retry, the reversal is
// settled by it and the retry is not sent. It reports whether it did.
func (x *Reverser) Late(key isocodec.Key, s *isocodec.Scan, msg []byte, now time.Time) bool {
	if s.MTI.Class() != '4' || x.sched.Len() == 0 {
		return false
	}
	var amount []byte
	if s.Has(4) {
		amount = s.Raw(msg, 4)
	}
	rv := x.sched.Late(key, amount)
	if rv == nil {
		return false
	}
	x.logged(x.cfg.Log.Info(), rv).Msg("reversal answered after its try timed out; its retry is not sent")
	x.Answered(rv, s, msg, now)
	return true
}

// outcome records and logs a try's outcome from snap, a copy taken when
// it was decided.
func (x *Reverser) outcome(out Outcome, snap Reversal) {
	rv := &snap
	log := x.cfg.Log
	switch out {
	case Done:
		x.cfg.Store.Settle(rv.ID)
		x.logged(log.Info(), rv).Msg("reversal approved")
	case Rejected:
		x.cfg.Store.Settle(rv.ID)
		x.logged(log.Warn(), rv).Msg("reversal refused by the bank; nothing more to do")
	case Retry:
		x.cfg.Store.Reversing(rv)
		x.logged(log.Warn(), rv).Time("next", rv.Next).Msg("reversal not done; will retry")
	case GiveUp:
		x.cfg.Store.GiveUp(rv)
		x.logged(log.Error(), rv).Msg("reversal given up after the last try; needs an operator")
	}
}

// logged adds what identifies a reversal without card data: terminal,
// trace number, amount, tries, reason, last code.
func (x *Reverser) logged(ev *zerolog.Event, rv *Reversal) *zerolog.Event {
	d := x.cfg.Dialect
	var s isocodec.Scan
	if d.Layout.Scan(rv.Original, &s) == nil {
		var buf [64]byte
		ev = ev.Bytes("tid", d.Layout.AppendText(buf[:0], &s, rv.Original, 41)).
			Bytes("stan", d.Layout.AppendText(buf[:0], &s, rv.Original, 11)).
			Bytes("amount", d.Layout.AppendText(buf[:0], &s, rv.Original, 4))
	}
	return ev.Uint64("journal", rv.ID).Str("reason", rv.Reason).Int("tries", rv.Tries).Str("code", rv.LastCode)
}
