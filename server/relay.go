package server

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/journal"
	"github.com/socketqueue/socketqueue-go/metrics"
	"github.com/socketqueue/socketqueue-go/reversal"
)

// bankLink is where the relay writes requests. send queues msg framed
// for the bank; onLoop says the caller runs on the link's event loop and
// will have it flushed before returning, otherwise the loop is woken.
// Both are safe from any goroutine and never block on the network.
type bankLink interface {
	Up() bool
	send(msg []byte, onLoop bool) error
}

// relay carries each request through its life: admitted (checked,
// journaled when a purchase, submitted to the table), sent, then
// delivered, failed, or found unanswered and reversed. The fronts and
// the gateway's own messages all go through admit; the bank's replies
// through reply. See doc.go for which goroutine calls what.
type relay struct {
	cfg     *Config
	log     zerolog.Logger
	table   *dispatch.Table
	bank    bankLink
	journal *journal.Journal
	rev     *reversal.Reverser

	// loop belongs to the bank link's event loop.
	loop loopState
	// tick is the ticker's scratch.
	tick tickScratch

	stopping atomic.Bool
	// journalFailed: the journal's failure has been logged (once; the
	// purchases it refuses after are counted, not logged each).
	journalFailed atomic.Bool
}

// loopState is what the bank link's loop keeps between its callbacks.
type loopState struct {
	// now is the time read once at the start of each callback (Unix ns),
	// for everything the loop does in it: reading the clock costs about
	// 45 ns here, a few times per request.
	now int64
	// dirty: POS connections on this loop with replies to write.
	dirty []*posConn
}

// tickScratch is reused by every tick.
type tickScratch struct {
	expired, next []*dispatch.Request
	due           []reversal.Try
}

func newRelay(cfg *Config, bank bankLink) *relay {
	rl := &relay{cfg: cfg, log: cfg.Log, bank: bank, journal: cfg.Journal}
	rl.table = dispatch.New(dispatch.Config{
		Layout: cfg.Dialect.Layout, KeyFields: cfg.KeyFields, MaxQueue: cfg.MaxQueue,
		LockTerminal: cfg.LockTerminal, Start: cfg.Clock.Now(),
	})
	rl.rev = reversal.New(reversal.Config{Dialect: cfg.Dialect, RepeatMTI: cfg.ReversalRepeatMTI,
		Disabled: cfg.NoAutoReversal, Store: reversal.Journal(cfg.Journal), Log: cfg.Log})
	if rl.journal != nil {
		rl.journal.Notify(rl.journaledBatch)
		rl.journal.OnState(rl.journalState)
	}
	return rl
}

func (rl *relay) now() time.Time { return rl.cfg.Clock.Now() }

// admission is one message offered to the bank.
type admission struct {
	msg    []byte
	scan   *isocodec.Scan // of msg, which has been checked
	client dispatch.Client
	// own: the gateway's own message (echo, reversal): not counted as a
	// client's, sent while stopping.
	own bool
	now time.Time
	// wait bounds the time to its answer (a reversal: to its turn).
	wait time.Duration
	// tryTimeout, when set, times the request from when it is written.
	tryTimeout time.Duration
	// onLoop: the caller runs on the bank link's loop.
	onLoop bool
}

// admit takes a checked message in: refused while stopping or without a
// link (a client's), queued behind its terminal or sent. An error means
// it was not taken and the client has not been called.
func (rl *relay) admit(a admission) error {
	if !a.own {
		if rl.stopping.Load() {
			return ErrStopping
		}
		if !rl.bank.Up() {
			return ErrLinkDown
		}
		rl.countRequest(a.scan, a.msg)
	}
	r := rl.table.Get()
	r.Fill(rl.cfg.Dialect, a.msg, a.scan, rl.cfg.KeyFields)
	r.Client, r.Own, r.Arrived, r.TryTimeout = a.client, a.own, a.now.UnixNano(), a.tryTimeout
	switch rl.table.Submit(r, a.now.Add(a.wait)) {
	case dispatch.Full:
		rl.table.Put(r)
		return ErrFull
	case dispatch.Send:
		rl.send(r, a.onLoop)
	}
	return nil
}

// sendOnLoop and sendOffLoop write r to the bank once the table says it
// may go: from the bank link's loop, which flushes, or from elsewhere,
// which wakes it.
func (rl *relay) sendOnLoop(r *dispatch.Request)  { rl.send(r, true) }
func (rl *relay) sendOffLoop(r *dispatch.Request) { rl.send(r, false) }

// send writes r to the bank, and on failure the requests its terminal's
// turn passes to. A purchase is journaled first; it goes on from the
// journal's goroutine once its record is on disk.
func (rl *relay) send(r *dispatch.Request, onLoop bool) {
	for r != nil {
		if r.Client.Gone() {
			// Its client left while it waited its turn: never sent,
			// nothing to undo.
			next, ok := rl.table.Abort(r)
			if ok {
				rl.table.Put(r)
			}
			r = next
			continue
		}
		var now int64
		if onLoop {
			now = rl.loop.now // loop state: read on the loop only
		} else {
			now = rl.now().UnixNano()
		}
		if rl.needsJournal(r) {
			// The journal commits in the background, grouping whatever
			// arrives meanwhile; the loop never waits on the disk (a
			// commit per loop batch, tried, stalled every client for
			// each sync).
			r.Begun = now
			if _, err := rl.journal.Begin(r.Msg, r); err != nil {
				rl.journaled(r, 0, err, 0)
			}
			return
		}
		if !rl.table.MarkSent(r, 0, now) {
			return // timed out or failed meanwhile; whoever took it out owns it
		}
		if e := rl.log.Debug(); e.Enabled() {
			rl.dump(e, "to bank", r.Msg) // before: once sent, the reply may recycle r
		}
		if !r.Own {
			rl.cfg.Metrics.Message(r.MTI, metrics.ToBank) // own messages count when made
		}
		err := rl.bank.send(r.Msg, onLoop)
		if err == nil {
			return
		}
		next, ok := rl.table.Abort(r)
		if ok {
			rl.fail(r, err)
		}
		r = next
	}
}

// journaledBatch continues send for the purchases of a group commit; it
// runs on the journal's goroutine, and their writes to the bank share
// one wake-up of the link's loop.
func (rl *relay) journaledBatch(batch []journal.Begun, err error) {
	now := rl.now().UnixNano()
	for _, b := range batch {
		r := b.Tag.(*dispatch.Request)
		rl.cfg.Metrics.JournalWait(time.Duration(now - r.Begun))
		rl.journaled(r, b.ID, err, now)
	}
}

// journaled continues send once r's record is on disk (at now, Unix
// nanoseconds), or failed to get there.
func (rl *relay) journaled(r *dispatch.Request, id uint64, err error, now int64) {
	if err != nil {
		if rl.journalFailed.CompareAndSwap(false, true) {
			rl.log.Error().Err(err).Msg("the journal cannot write: purchases are refused; answers to those at the bank are held and written once it can")
		} else if e := rl.log.Debug(); e.Enabled() {
			e.Err(err).Msg("purchase refused: journal failed")
		}
		rl.cfg.Metrics.Refused(refusedJournal)
		next, ok := rl.table.Abort(r)
		if ok {
			rl.fail(r, fmt.Errorf("%w: %w", ErrJournal, err))
		}
		rl.sendOffLoop(next)
		return
	}
	if !rl.table.MarkSent(r, id, now) {
		// It timed out or failed while the record was written: it never
		// went, so there is nothing to reverse.
		rl.rev.Settle(id)
		return
	}
	if e := rl.log.Debug(); e.Enabled() {
		rl.dump(e, "to bank", r.Msg) // before: once sent, the reply may recycle r
	}
	rl.cfg.Metrics.Message(r.MTI, metrics.ToBank) // journaled: a client's purchase, never Own
	if err := rl.bank.send(r.Msg, false); err != nil {
		rl.rev.Settle(id)
		next, ok := rl.table.Abort(r)
		if ok {
			rl.fail(r, err)
		}
		rl.sendOffLoop(next)
	}
}

// journalState hears, from the journal's goroutine, that it failed or
// writes again.
func (rl *relay) journalState(err error) {
	if err != nil {
		if rl.journalFailed.CompareAndSwap(false, true) {
			rl.log.Error().Err(err).Msg("the journal cannot write: purchases are refused; answers to those at the bank are held and written once it can")
		}
		return
	}
	if rl.journalFailed.CompareAndSwap(true, false) {
		rl.log.Warn().Msg("the journal writes again: the answers it held are recorded, purchases are taken again")
	}
}

// reply matches a response from the bank to its request and delivers
// it, then sends the next request for that terminal. It runs on the bank
// link's loop. It reports false for a reply nothing waited for, which it
// logs and drops: it never reaches another client.
func (rl *relay) reply(s *isocodec.Scan, msg []byte) bool {
	key, tid := dispatch.KeyOf(s, msg, rl.cfg.KeyFields)
	r, next := rl.table.Match(key, tid, s, msg)
	if r == nil {
		if rl.rev.Late(key, s, msg, time.Unix(0, rl.loop.now)) {
			return true
		}
		rl.log.Warn().Str("mti", s.MTI.String()).Str("key", key.String()).
			Msg("reply matches no waiting request (late, duplicate or unknown); dropped")
		return false
	}
	rl.deliver(r, s, msg)
	if next != nil {
		rl.sendOnLoop(next)
	}
	return true
}

// deliver hands a reply to r's client, on the link's loop. A purchase
// whose client has left is reversed if the bank approved it.
func (rl *relay) deliver(r *dispatch.Request, s *isocodec.Scan, msg []byte) {
	if !r.Own {
		var buf [8]byte
		if r.Client.Gone() && r.Sent != 0 && rl.cfg.Dialect.IsApproved(rl.cfg.Dialect.Layout.AppendText(buf[:0], s, msg, 39)) {
			rl.reverse(r, "approved after its client left")
		} else {
			rl.settle(r)
		}
		rl.countDelivered(r, s.MTI)
	}
	r.Client.Deliver(r, msg, s)
	rl.table.Put(r)
}

// fail tells r's client that r failed. Safe from any goroutine.
func (rl *relay) fail(r *dispatch.Request, err error) { r.Client.Fail(r, err) }

// failAll fails every request held: the link is gone.
func (rl *relay) failAll(err error) {
	reqs := rl.table.FailAll(nil)
	if len(reqs) > 0 {
		rl.log.Warn().Int("requests", len(reqs)).Msg("failing requests held for the dropped link")
	}
	for _, r := range reqs {
		rl.unanswered(r, "link dropped with the purchase in flight")
		rl.fail(r, err)
	}
}

// expire ends the requests whose time is up and sends those whose turn
// that frees; it runs on the ticker.
func (rl *relay) expire(now time.Time) {
	t := &rl.tick
	t.expired, t.next = rl.table.Expire(now, t.expired[:0], t.next[:0])
	for _, r := range t.expired {
		rl.log.Info().Str("mti", r.MTI.String()).Str("key", r.Key.String()).Msg("request timed out")
		rl.cfg.Metrics.Timeout()
		rl.unanswered(r, "no answer within the queue timeout")
		rl.fail(r, ErrTimeout)
	}
	for _, r := range t.next {
		rl.sendOffLoop(r)
	}
	clear(t.expired)
	clear(t.next)
}

// unanswered handles a request taken out of the table without its
// answer: a purchase that went to the bank is reversed; one that never
// went is forgotten.
func (rl *relay) unanswered(r *dispatch.Request, reason string) {
	if r.Sent != 0 {
		rl.reverse(r, reason)
		return
	}
	rl.settle(r)
}

// A purchase is what the gateway reverses when its answer may be lost:
// a client's 0200 without an RRN (field 37). An 0200 that carries 37
// refers to a transaction the bank already knows; it is never reversed.
func isPurchase(r *dispatch.Request) bool {
	return !r.Own && !r.HasRRN && r.MTI == isocodec.MTIPurchase
}

// needsJournal: only reversible purchases are journaled.
func (rl *relay) needsJournal(r *dispatch.Request) bool {
	return rl.journal != nil && !rl.cfg.NoAutoReversal && isPurchase(r)
}

// reverse decides that r, sent to the bank, whose answer did not reach
// its client, is to be reversed if it is a purchase.
func (rl *relay) reverse(r *dispatch.Request, reason string) {
	if !isPurchase(r) {
		rl.settle(r)
		return
	}
	rl.rev.Decide(r.JournalID, r.Msg, reason, rl.now())
}

// settle forgets a purchase whose answer reached its client (or that
// never went).
func (rl *relay) settle(r *dispatch.Request) {
	if r.JournalID == 0 {
		return
	}
	rl.rev.Settle(r.JournalID)
	if rl.journalFailed.Load() {
		// Held in memory until the journal writes again: a crash
		// before then reverses this purchase, so say which it is.
		var s isocodec.Scan
		if rl.cfg.Dialect.Layout.Scan(r.Msg, &s) == nil {
			var buf [64]byte
			rl.log.Warn().Uint64("journal", r.JournalID).Bytes("tid", rl.cfg.Dialect.Layout.AppendText(buf[:0], &s, r.Msg, 41)).
				Bytes("stan", rl.cfg.Dialect.Layout.AppendText(buf[:0], &s, r.Msg, 11)).
				Msg("purchase settled while the journal cannot write: held in memory; if the gateway crashes before the journal writes again, it is reversed at the next start")
		}
	}
}

func (rl *relay) dump(e *zerolog.Event, what string, msg []byte) {
	e.Msg(what + "\n" + rl.cfg.Dialect.Dump(msg, isocodec.DumpOptions{Dangerous: rl.cfg.Dangerous}))
}
