package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/journal"
	"github.com/socketqueue/socketqueue-go/metrics"
)

// A purchase is what the gateway reverses when its answer may be lost:
// a client's 0200 without an RRN (field 37). An 0200 that carries 37
// refers to a transaction the bank already knows; it is never reversed.
func (g *Gateway) isPurchase(r *dispatch.Request) bool {
	return !r.Own && !r.HasRRN && r.MTI == (isocodec.MTI{'0', '2', '0', '0'})
}

// needsJournal: only reversible purchases are journaled.
func (g *Gateway) needsJournal(r *dispatch.Request) bool {
	return g.journal != nil && !g.cfg.NoAutoReversal && g.isPurchase(r)
}

// journaledBatch continues sendReq for the purchases of a group commit;
// it runs on the journal's goroutine, and their writes to the bank share
// one wake-up of the link's loop.
func (g *Gateway) journaledBatch(batch []journal.Begun, err error) {
	now := g.now().UnixNano()
	for _, b := range batch {
		r := b.Tag.(*dispatch.Request)
		g.cfg.Metrics.JournalWait(time.Duration(now - r.Begun))
		g.journaled(r, b.ID, err, now)
	}
}

// journaled continues sendReq once r's record is on disk (at now, Unix
// nanoseconds), or failed to get there.
func (g *Gateway) journaled(r *dispatch.Request, id uint64, err error, now int64) {
	if err != nil {
		if g.journalFailed.CompareAndSwap(false, true) {
			g.log.Error().Err(err).Msg("the journal cannot write: purchases are refused; answers to those at the bank are held and written once it can")
		} else if e := g.log.Debug(); e.Enabled() {
			e.Err(err).Msg("purchase refused: journal failed")
		}
		g.cfg.Metrics.Refused(refusedJournal)
		next, ok := g.table.Abort(r)
		if ok {
			g.fail(r, fmt.Errorf("%w: %w", ErrJournal, err))
		}
		g.sendReq(next, false)
		return
	}
	if !g.table.MarkSent(r, id, now) {
		// It timed out or failed while the record was written: it never
		// went, so there is nothing to reverse.
		g.journal.Settle(id)
		return
	}
	if e := g.log.Debug(); e.Enabled() {
		g.dump(e, "to bank", r.Msg) // before: once sent, the reply may recycle r
	}
	g.cfg.Metrics.Message(r.MTI, metrics.ToBank) // journaled: a client's purchase, never Own
	if err := g.link.send(r.Msg, false); err != nil {
		g.journal.Settle(id)
		next, ok := g.table.Abort(r)
		if ok {
			g.fail(r, err)
		}
		g.sendReq(next, false)
	}
}

// settle forgets a purchase whose answer reached its client (or that
// never went).
func (g *Gateway) settle(r *dispatch.Request) {
	if g.journal != nil && r.Journal != 0 {
		g.journal.Settle(r.Journal)
		if g.journalFailed.Load() {
			// Held in memory until the journal writes again: a crash
			// before then reverses this purchase, so say which it is.
			var s isocodec.Scan
			if g.cfg.Dialect.Layout.Scan(r.Msg, &s) == nil {
				var buf [64]byte
				g.log.Warn().Uint64("journal", r.Journal).Bytes("tid", g.cfg.Dialect.Layout.AppendText(buf[:0], &s, r.Msg, 41)).
					Bytes("stan", g.cfg.Dialect.Layout.AppendText(buf[:0], &s, r.Msg, 11)).
					Msg("purchase settled while the journal cannot write: held in memory; if the gateway crashes before the journal writes again, it is reversed at the next start")
			}
		}
	}
}

// journalState hears, from the journal's goroutine, that it failed or
// writes again.
func (g *Gateway) journalState(err error) {
	if err != nil {
		if g.journalFailed.CompareAndSwap(false, true) {
			g.log.Error().Err(err).Msg("the journal cannot write: purchases are refused; answers to those at the bank are held and written once it can")
		}
		return
	}
	if g.journalFailed.CompareAndSwap(true, false) {
		g.log.Warn().Msg("the journal writes again: the answers it held are recorded, purchases are taken again")
	}
}

// reverse decides that r, a purchase sent to the bank whose answer did
// not reach its client, is to be reversed.
func (g *Gateway) reverse(r *dispatch.Request, reason string) {
	if g.cfg.NoAutoReversal || !g.isPurchase(r) {
		g.settle(r)
		return
	}
	rv := &dispatch.Reversal{ID: r.Journal, Original: append([]byte(nil), r.Msg...), Reason: reason, Next: g.now()}
	if g.journal != nil && rv.ID != 0 {
		g.journal.Reversing(entryOf(rv))
	}
	g.logReversal(g.log.Warn(), rv).Msg("purchase to be reversed") // before Add hands rv to the ticker
	g.reversals.Add(rv, false)
}

func entryOf(rv *dispatch.Reversal) journal.Entry {
	return journal.Entry{ID: rv.ID, Tries: rv.Tries, Next: rv.Next, Reason: rv.Reason, Msg: rv.Original}
}

// recover schedules the reversal of every purchase left open in the
// journal by an earlier run, and resumes the reversals it had pending.
func (g *Gateway) recover() error {
	if g.journal == nil {
		return nil
	}
	pending, err := g.journal.Pending()
	if err != nil {
		return err
	}
	now := g.now()
	for _, e := range pending {
		rv := &dispatch.Reversal{ID: e.ID, Original: e.Msg, Tries: e.Tries, Next: e.Next, Reason: e.Reason}
		if e.State == journal.Sent {
			rv.Reason = "unanswered when the gateway stopped"
		}
		if rv.Next.IsZero() || rv.Next.Before(now) {
			rv.Next = now
		}
		if g.cfg.NoAutoReversal {
			g.logReversal(g.log.Error(), rv).Msg("purchase left open by an earlier run; noAutoReversal is set, not reversed")
			continue
		}
		g.journal.Reversing(entryOf(rv))
		g.logReversal(g.log.Warn(), rv).Msg("purchase recovered from the journal, to be reversed")
		g.reversals.Add(rv, true)
	}
	return nil
}

// sendDueReversals sends the reversals whose time has come; it runs on
// the ticker, and only while the link is up (a try the link cannot carry
// is not a try).
func (g *Gateway) sendDueReversals(now time.Time) {
	if !g.link.Up() || g.reversals.Len() == 0 {
		return
	}
	g.due = g.reversals.Due(now, g.due[:0])
	for i, rv := range g.due {
		g.due[i] = nil
		msg, err := g.reversalOf(rv, now)
		var s isocodec.Scan
		if err == nil {
			err = g.cfg.Dialect.Layout.Scan(msg, &s)
		}
		if err != nil {
			// Cannot happen for a 0200 that went out; give up loudly.
			g.logReversal(g.log.Error(), rv).Err(err).Msg("cannot build the reversal")
			g.reversalOutcome(g.reversals.Answered(rv, "", false, false, now))
			continue
		}
		// Logged before it goes: once sent, the answer may settle rv on
		// the link's loop.
		g.logReversal(g.log.Info(), rv).Str("mti", s.MTI.String()).Msg("reversal sent")
		g.countOwn(s.MTI)
		r := g.table.Get()
		r.Fill(g.cfg.Dialect, msg, &s, g.cfg.KeyFields)
		r.Client, r.Own, r.Reversal = ownClient{}, true, rv
		rv.Key = r.Key
		// The try is timed from when it is written; behind a busy
		// terminal it may wait for the requests ahead of it, each bound
		// by the queue timeout (a wait past that is not a try: Unsent).
		r.TryTimeout = g.cfg.ShortTimeout
		switch g.table.Submit(r, now.Add(g.cfg.QueueTimeout+g.cfg.ShortTimeout)) {
		case dispatch.Full:
			g.table.Put(r)
			g.reversals.Unsent(rv)
		case dispatch.Send:
			g.sendReq(r, false)
		}
	}
}

// reversalOf makes the 0400 for rv: the original's fields, MTI 0400,
// field 7 now; field 24 = the dialect's reversal function code where it
// has one (smartVista: 400); where the dialect asks for it (ISO
// 8583:1987 hosts such as openWay), field 90, the original data elements.
// The PIN block is not repeated. A try after one that was written is a
// repeat, sent as RepeatMTI (0401 unless configured), so that the bank
// can tell it from a second reversal.
func (g *Gateway) reversalOf(rv *dispatch.Reversal, now time.Time) ([]byte, error) {
	mti := isocodec.MTI{'0', '4', '0', '0'}
	if rv.Repeat() {
		mti = g.cfg.ReversalRepeatMTI
	}
	d := g.cfg.Dialect
	var s isocodec.Scan
	if err := d.Layout.Scan(rv.Original, &s); err != nil {
		return nil, err
	}
	var clock [10]byte
	edits := []isocodec.Edit{isocodec.Set(7, isocodec.AppendMMDDhhmmss(clock[:0], now.UTC())), isocodec.Remove(52)}
	if code := d.Rules.ReversalFunctionCode; code != "" && s.Has(24) {
		edits = append(edits, isocodec.Set(24, []byte(code)))
	}
	if f, ok := d.Field(90); ok && d.Rules.ReversalOriginalData && f.Charset == isocodec.CharsetN && f.Length == 42 {
		var ode []byte
		ode = append(ode, s.MTI[:]...)
		ode = d.Layout.AppendText(ode, &s, rv.Original, 11)
		ode = d.Layout.AppendText(ode, &s, rv.Original, 7)
		for len(ode) < 42 {
			ode = append(ode, '0')
		}
		if len(ode) == 42 {
			edits = append(edits, isocodec.Set(90, ode))
		}
	}
	return d.Layout.AppendEdited(nil, mti, rv.Original, &s, edits...)
}

// reversalAnswered handles the bank's answer to a reversal.
func (g *Gateway) reversalAnswered(rv *dispatch.Reversal, s *isocodec.Scan, msg []byte) {
	d := g.cfg.Dialect
	var buf [8]byte
	code := d.Layout.AppendText(buf[:0], s, msg, 39)
	approved := d.IsApproved(code) || len(code) == 3 && string(code) == "400"
	g.reversalOutcome(g.reversals.Answered(rv, string(code), approved, d.IsSystemError(code), g.now()))
}

// reversalFailed handles a try with no answer.
func (g *Gateway) reversalFailed(r *dispatch.Request, err error) {
	if errors.Is(err, ErrLinkDown) || r.Sent == 0 {
		// Never went out (no link, or it waited behind its terminal
		// past its bound): not a try.
		g.reversals.Unsent(r.Reversal)
		return
	}
	g.reversalOutcome(g.reversals.Failed(r.Reversal, g.now()))
}

// lateReversalAnswer takes a reversal answer that matched nothing in
// flight: if it answers a try that timed out and waits for its retry,
// the reversal is settled by it and the retry is not sent. It reports
// whether it did.
func (g *Gateway) lateReversalAnswer(key isocodec.Key, s *isocodec.Scan, msg []byte) bool {
	if s.MTI.Class() != '4' || g.reversals.Len() == 0 {
		return false
	}
	d := g.cfg.Dialect
	rv := g.reversals.Late(key, s.Raw(msg, 4), func(rv *dispatch.Reversal) []byte {
		var o isocodec.Scan
		if d.Layout.Scan(rv.Original, &o) != nil {
			return nil
		}
		return o.Raw(rv.Original, 4)
	})
	if rv == nil {
		return false
	}
	g.logReversal(g.log.Info(), rv).Msg("reversal answered after its try timed out; its retry is not sent")
	g.reversalAnswered(rv, s, msg)
	return true
}

// reversalOutcome journals and logs a try's outcome from snap, a copy
// taken when it was decided.
func (g *Gateway) reversalOutcome(out dispatch.TryOutcome, snap dispatch.Reversal) {
	rv := &snap
	switch out {
	case dispatch.Done:
		if g.journal != nil && rv.ID != 0 {
			g.journal.Settle(rv.ID)
		}
		g.logReversal(g.log.Info(), rv).Msg("reversal approved")
	case dispatch.Rejected:
		if g.journal != nil && rv.ID != 0 {
			g.journal.Settle(rv.ID)
		}
		g.logReversal(g.log.Warn(), rv).Msg("reversal refused by the bank; nothing more to do")
	case dispatch.Retry:
		if g.journal != nil && rv.ID != 0 {
			g.journal.Reversing(entryOf(rv))
		}
		g.logReversal(g.log.Warn(), rv).Time("next", rv.Next).Msg("reversal not done; will retry")
	case dispatch.GiveUp:
		if g.journal != nil && rv.ID != 0 {
			g.journal.GiveUp(entryOf(rv))
		}
		g.logReversal(g.log.Error(), rv).Msg("reversal given up after the last try; needs an operator")
	}
}

// logReversal adds what identifies a reversal without card data:
// terminal, trace number, amount, tries, reason, last code.
func (g *Gateway) logReversal(ev *zerologEvent, rv *dispatch.Reversal) *zerologEvent {
	d := g.cfg.Dialect
	var s isocodec.Scan
	if d.Layout.Scan(rv.Original, &s) == nil {
		var buf [64]byte
		ev = ev.Bytes("tid", d.Layout.AppendText(buf[:0], &s, rv.Original, 41)).
			Bytes("stan", d.Layout.AppendText(buf[:0], &s, rv.Original, 11)).
			Bytes("amount", d.Layout.AppendText(buf[:0], &s, rv.Original, 4))
	}
	return ev.Uint64("journal", rv.ID).Str("reason", rv.Reason).Int("tries", rv.Tries).Str("code", rv.LastCode)
}

type zerologEvent = zerolog.Event
