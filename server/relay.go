package server

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/cluster"
	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/journal"
	"github.com/socketqueue/socketqueue-go/metrics"
	"github.com/socketqueue/socketqueue-go/reversal"
)

// purchaseJournal is where a purchase is recorded before it goes to the
// bank: the local journal (journal.Journal) or the cluster's record
// (cluster.Recorder), which also holds its terminal across instances.
// Begin is answered through Notify's callback; none of them blocks.
type purchaseJournal interface {
	Begin(msg []byte, tag any) (uint64, error)
	Notify(fn func(batch []journal.Begun, err error))
	OnState(fn func(err error))
	Err() error
	Flush() error
	Stats() journal.Stats
}

// batchingJournal is a purchaseJournal an event loop can fill before
// it wakes its writer: BeginLater queues, Wake (after the loop's
// callback) commits all that was queued as one.
type batchingJournal interface {
	BeginLater(msg []byte, tag any) (uint64, error)
	// Wake reports whether it made the commit itself, having called
	// NotifyHere's callback, not Notify's.
	Wake() bool
	// Unwoken reports whether BeginLater queued what Wake has not
	// taken; CommitsOnWake whether Wake commits itself (else it wakes
	// the writer).
	Unwoken() bool
	CommitsOnWake() bool
	NotifyHere(fn func(batch []journal.Begun, err error))
}

// terminalLock holds a request's terminal across instances without a
// reversal to record; answered through the journal's Notify like Begin.
type terminalLock interface {
	Lock(msg []byte, tag any) (uint64, error)
}

// bankLinks is where the relay writes requests: the links to the bank
// and the policy sharing requests among them. pick chooses a ready link
// (want, when not -1: that one, if connected); send queues msg framed on
// a link (own: the gateway's own message, not a client's), and el is the
// caller's event loop (nil: none): on the link's
// own loop it is flushed before the callback returns, otherwise the loop
// is woken. All are safe from any goroutine and never block on the
// network.
type bankLinks interface {
	Ready() bool
	pick(want int32) (int32, bool)
	send(link int32, msg []byte, el gnet.EventLoop, own bool) error
	// sendHeld queues a client's msg on link without waking its loop,
	// and wakeHeld wakes the loops of every link with sends held: a
	// batch from off the loops goes in one write per link.
	sendHeld(link int32, msg []byte) error
	wakeHeld()
	// wakeHeldOff is wakeHeld for the links that are not on el, whose
	// caller writes its own links' held sends before it returns.
	wakeHeldOff(el gnet.EventLoop)
	// wake has a link up on el (nil: any) run its callback, after its
	// loop's other ready connections, and reports false if there is
	// none.
	wake(el gnet.EventLoop) bool
	// roundTrip records a reply's round trip on link, on its loop,
	// whose tally m counts it.
	roundTrip(link int32, d time.Duration, m *metrics.Tally)
}

// relay carries each request through its life: admitted (checked,
// journaled when a purchase, submitted to the table), sent, then
// delivered, failed, or found unanswered and reversed. The fronts and
// the gateway's own messages all go through admit; the bank's replies
// through reply. See doc.go for which goroutine calls what.
type relay struct {
	cfg           *Config
	log           zerolog.Logger
	table         *dispatch.Table
	bank          bankLinks
	journal       purchaseJournal // nil: purchases are not recorded
	commitsOnWake bool            // batching commits on Wake's caller (NoSync)
	handed        handoff         // commits made off the loops, for a link's loop
	// batching is journal when it can be filled by a callback before it
	// commits (nil: every Begin commits).
	batching batchingJournal
	// lock, in a cluster, holds the terminal of a client's request that
	// is not journaled across instances, as the journal's record does a
	// purchase's (nil: the local table's lock is the only one).
	lock terminalLock
	// owner, in a cluster, says whether a purchase's record is still this
	// instance's (nil: always).
	owner reversal.Owner
	rev   *reversal.Reverser
	// tallies are where each goroutine counts its messages.
	tallies loopTallies

	// tick is the ticker's scratch.
	tick tickScratch
	drop dropScratch

	stopping atomic.Bool
	// crossLink counts replies that came on another link than their
	// request's.
	crossLink atomic.Int64
	// journalFailed: the journal's failure has been logged (once; the
	// purchases it refuses after are counted, not logged each).
	journalFailed atomic.Bool
}

// records names where purchases are recorded, for the log.
func (rl *relay) records() string {
	if rl.cfg.Cluster != nil {
		return "the cluster"
	}
	return "the journal"
}

// loopState is what a bank link's loop keeps for it between callbacks.
type loopState struct {
	// now is the time read once at the start of each callback (Unix ns),
	// for everything the loop does in it: reading the clock costs about
	// 45 ns here, a few times per request.
	now int64
	// dirty: POS connections on this loop with replies to write.
	dirty []*posConn
}

// dropScratch is reused by every link drop.
type dropScratch struct {
	mu        sync.Mutex
	out, next []*dispatch.Request
}

// tickScratch is reused by every tick.
type tickScratch struct {
	expired, next []*dispatch.Request
	due           []reversal.Try
}

func newRelay(cfg *Config, bank bankLinks) *relay {
	rl := &relay{cfg: cfg, log: cfg.Log, bank: bank}
	rl.tallies.init(cfg.Metrics, cfg.Stats)
	store := reversal.Journal(cfg.Journal)
	switch {
	case cfg.Cluster != nil:
		rl.journal, store, rl.owner = cfg.Cluster, cfg.Cluster, cfg.Cluster
		if cfg.LockTerminal {
			rl.lock = cfg.Cluster
		}
	case cfg.Journal != nil:
		rl.journal = cfg.Journal
	}
	rl.table = dispatch.New(dispatch.Config{
		Layout: cfg.Dialect.Layout, KeyFields: cfg.KeyFields, MaxQueue: cfg.MaxQueue,
		LockTerminal: cfg.LockTerminal, Start: cfg.Clock.Now(),
	})
	rl.rev = reversal.New(reversal.Config{Dialect: cfg.Dialect, RepeatMTI: cfg.ReversalRepeatMTI,
		Disabled: cfg.NoAutoReversal, Store: store, Log: cfg.Log})
	if rl.journal != nil {
		rl.batching, _ = rl.journal.(batchingJournal)
		if rl.batching != nil {
			rl.commitsOnWake = rl.batching.CommitsOnWake()
			rl.batching.NotifyHere(rl.journaledHere)
		}
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
	// el is the caller's event loop (nil: none), and counts where it
	// counts (nil: looked up).
	el     gnet.EventLoop
	counts *counts
	// link, when pinned, is the link it must go on: a network message
	// of the gateway's own for that link, which waits for no terminal.
	link   int32
	pinned bool
	// unlocked: it goes beside its terminal's queue, not behind it (a
	// reversal in a cluster, whose record already holds the terminal).
	unlocked bool
}

// admit takes a checked message in: refused while stopping or without a
// link (a client's), queued behind its terminal or sent. An error means
// it was not taken and the client has not been called.
func (rl *relay) admit(a admission) error {
	if a.counts == nil {
		a.counts = rl.tallies.of(a.el)
	}
	if !a.own {
		if rl.stopping.Load() {
			return ErrStopping
		}
		if !rl.bank.Ready() {
			return ErrLinkDown
		}
		rl.countRequest(a.counts, a.scan, a.msg)
	}
	r := rl.table.Get()
	r.Fill(rl.cfg.Dialect, a.msg, a.scan, rl.cfg.KeyFields)
	r.Client, r.Own, r.Arrived, r.TryTimeout = a.client, a.own, a.now.UnixNano(), a.tryTimeout
	r.Link, r.Pinned, r.Unlocked = a.link, a.pinned, a.pinned || a.unlocked
	switch rl.table.Submit(r, a.now.Add(a.wait)) {
	case dispatch.Full:
		rl.table.Put(r)
		return ErrFull
	case dispatch.Send:
		if a.el == nil {
			// Off the loops the clock is read when it goes: a tick
			// sending a batch of reversals must not time the last one
			// from the tick's start.
			rl.sendOffLoop(r)
		} else {
			rl.send(r, a.el, a.counts, a.now.UnixNano())
		}
	}
	return nil
}

// sendOffLoop writes r to the bank once the table says it may go, from
// a goroutine that is no link's loop.
func (rl *relay) sendOffLoop(r *dispatch.Request) {
	rl.send(r, nil, rl.tallies.of(nil), rl.now().UnixNano())
}

// pickFor chooses r's link.
func (rl *relay) pickFor(r *dispatch.Request) (int32, bool) {
	want := int32(-1)
	if r.Pinned {
		want = r.Link
	}
	return rl.bank.pick(want)
}

// send writes r to the bank on a link the policy picks, and on failure
// the requests its terminal's turn passes to; el is the caller's event
// loop (nil: none), c where it counts, and now the time of its
// callback (Unix ns). A purchase is journaled first; it goes on once its
// record is on disk (journaledBatch).
func (rl *relay) send(r *dispatch.Request, el gnet.EventLoop, c *counts, now int64) {
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
		if rl.needsJournal(r) {
			// The journal commits in the background, grouping whatever
			// arrives meanwhile; the loop never waits on the disk (a
			// commit per loop batch, tried, stalled every client for
			// each sync).
			r.Begun = now
			var err error
			if el != nil && rl.batching != nil {
				_, err = rl.batching.BeginLater(r.Msg, r) // woken by endCallback
			} else {
				_, err = rl.journal.Begin(r.Msg, r)
			}
			if err != nil {
				rl.journaled(r, 0, err, 0)
			}
			return
		}
		if rl.needsLock(r) {
			r.Begun = now
			if _, err := rl.lock.Lock(r.Msg, r); err != nil {
				rl.journaled(r, 0, err, 0)
			}
			return
		}
		link, ok := rl.pickFor(r)
		if !ok {
			next, ok := rl.table.Abort(r)
			if ok {
				rl.fail(r, ErrLinkDown)
			}
			r = next
			continue
		}
		if !rl.table.MarkSent(r, 0, now, link) {
			return // timed out or failed meanwhile; whoever took it out owns it
		}
		if e := rl.log.Debug(); e.Enabled() {
			rl.dump(e, "to bank", r.Msg) // before: once sent, the reply may recycle r
		}
		if !r.Own {
			c.m.Message(r.MTI, metrics.ToBank) // own messages count when made
		}
		err := rl.bank.send(link, r.Msg, el, r.Own)
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

// endCallback ends el's callback, before its links are flushed: the
// purchases it began go to the journal as one commit. Made here, their
// sends wait on el's links for the caller's flush; other loops' links
// are woken.
func (rl *relay) endCallback(el gnet.EventLoop) bool {
	if rl.batching != nil && rl.batching.Wake() {
		rl.bank.wakeHeldOff(el)
		return true
	}
	return false
}

// endPOSCallback ends a POS client's callback on el. The purchases of a
// small read (a terminal's one request) wait, as its sends do
// (soonBelow), for el's other ready connections: a link on el is woken,
// and its callback commits them all at once (upstreamTraffic), so that
// 64 terminals' round costs one write to the journal, not 64. A larger
// read, or a loop with no link, commits now; so does a synced journal,
// whose writer is only woken: it takes all that is queued when its
// sync ends, and a wake-up left to the round's end could only start its
// next commit later.
func (rl *relay) endPOSCallback(el gnet.EventLoop, small bool) {
	if small && rl.commitsOnWake && rl.batching.Unwoken() && rl.bank.wake(el) {
		return
	}
	rl.endCallback(el)
}

// journaledBatch continues send for the purchases of a group commit the
// journal's writer made: handed to a link's loop in one step (handoff),
// or, when the commit failed, refused here.
func (rl *relay) journaledBatch(batch []journal.Begun, err error) {
	if err == nil {
		rl.handOff(batch)
		return
	}
	rl.journaledHere(batch, err)
	rl.bank.wakeHeld()
}

// journaledHere is journaledBatch with the sends left held on their
// links: for the commit a loop made itself (endCallback wakes them).
func (rl *relay) journaledHere(batch []journal.Begun, err error) {
	now := rl.now().UnixNano()
	rl.waited(batch, now)
	rl.continueJournaled(batch, err, now)
}

// waited counts the purchases' waits for their records, told at now.
func (rl *relay) waited(batch []journal.Begun, now int64) {
	m := rl.tallies.of(nil).m
	for _, b := range batch {
		m.JournalWait(time.Duration(now - b.Tag.(*dispatch.Request).Begun))
	}
}

// continueJournaled is journaledHeld for each of batch.
func (rl *relay) continueJournaled(batch []journal.Begun, err error, now int64) {
	for _, b := range batch {
		rl.journaledHeld(b.Tag.(*dispatch.Request), b.ID, err, now)
	}
}

// journaled continues send once r's record is on disk (at now, Unix
// nanoseconds), or failed to get there.
func (rl *relay) journaled(r *dispatch.Request, id uint64, err error, now int64) {
	rl.journaledHeld(r, id, err, now)
	rl.bank.wakeHeld()
}

// journaledHeld is journaled with r's send held for the caller's
// wakeHeld.
func (rl *relay) journaledHeld(r *dispatch.Request, id uint64, err error, now int64) {
	if errors.Is(err, cluster.ErrHeld) || errors.Is(err, cluster.ErrBusy) || errors.Is(err, cluster.ErrLapsed) {
		// Never sent, and the journal is fine: its terminal stayed held
		// by another instance past the queue timeout (answered as a
		// local terminal's queue is), too many waited, or this
		// instance's lease stayed lapsed (not recorded: refused).
		why := ErrTimeout
		switch {
		case errors.Is(err, cluster.ErrBusy):
			why = ErrFull
		case errors.Is(err, cluster.ErrLapsed):
			why = fmt.Errorf("%w: %w", ErrJournal, err)
		}
		next, ok := rl.table.Abort(r)
		if ok {
			rl.fail(r, why)
		}
		rl.sendOffLoop(next)
		return
	}
	if err != nil {
		if rl.journalFailed.CompareAndSwap(false, true) {
			rl.log.Error().Err(err).Msg(rl.records() + " cannot write: purchases are refused; answers to those at the bank are held and written once it can")
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
	link, ok := rl.pickFor(r)
	if !ok {
		rl.rev.Settle(id)
		next, ok := rl.table.Abort(r)
		if ok {
			rl.fail(r, ErrLinkDown)
		}
		rl.sendOffLoop(next)
		return
	}
	if !rl.table.MarkSent(r, id, now, link) {
		// It timed out or failed while the record was written: it never
		// went, so there is nothing to reverse.
		rl.rev.Settle(id)
		return
	}
	if e := rl.log.Debug(); e.Enabled() {
		rl.dump(e, "to bank", r.Msg) // before: once sent, the reply may recycle r
	}
	rl.cfg.Metrics.Message(r.MTI, metrics.ToBank) // a client's request, never Own
	if err := rl.bank.sendHeld(link, r.Msg); err != nil {
		rl.rev.Settle(id)
		next, ok := rl.table.Abort(r)
		if ok {
			rl.fail(r, err)
		}
		rl.sendOffLoop(next)
	}
}

// journalState hears, from where a commit was made, that it failed or
// writes again.
func (rl *relay) journalState(err error) {
	if err != nil {
		if rl.journalFailed.CompareAndSwap(false, true) {
			rl.log.Error().Err(err).Msg(rl.records() + " cannot write: purchases are refused; answers to those at the bank are held and written once it can")
		}
		return
	}
	if rl.journalFailed.CompareAndSwap(true, false) {
		rl.log.Warn().Msg(rl.records() + " writes again: the answers it held are recorded, purchases are taken again")
	}
}

// reply matches a response from the bank, read on link from (whose
// loop el runs it, at now, counting in c), to its request and delivers
// it, then sends the next request for that terminal. It reports false
// for a reply nothing waited for, which it logs and drops: it never
// reaches another client. A reply on another link than its request's is taken (some
// hosts answer on any link) and counted.
func (rl *relay) reply(s *isocodec.Scan, msg []byte, from int32, el gnet.EventLoop, c *counts, now int64) bool {
	key, tid := dispatch.KeyOf(s, msg, rl.cfg.KeyFields)
	r, next := rl.table.Match(key, tid, s, msg)
	if r == nil {
		if rl.rev.Late(key, s, msg, time.Unix(0, now)) {
			return true
		}
		rl.log.Warn().Str("mti", s.MTI.String()).Str("key", key.String()).
			Msg("reply matches no waiting request (late, duplicate or unknown); dropped")
		return false
	}
	if r.Link != from {
		rl.crossLink.Add(1)
		r.Link = from // Deliver runs on from's loop
	}
	if r.Sent != 0 {
		rl.bank.roundTrip(from, time.Duration(now-r.Sent), c.m)
	}
	rl.deliver(r, s, msg, now, c)
	if next != nil {
		rl.send(next, el, c, now)
	}
	return true
}

// deliver hands a reply to r's client, on the loop of r.Link, the link
// it came on, at now, counting it in that loop's c. A purchase whose client has left is reversed if
// the bank approved it.
func (rl *relay) deliver(r *dispatch.Request, s *isocodec.Scan, msg []byte, now int64, c *counts) {
	if rl.owner != nil && r.JournalID != 0 && isPurchase(r) && rl.owner.Owns(r.JournalID) != reversal.Owned {
		// This instance's lease lapsed (paused, cut off) while the
		// purchase was at the bank: another instance may have reversed
		// it, so its approval must not reach the client. Failed, and
		// reversed here if the record proves to be still this one's.
		rl.log.Warn().Str("mti", r.MTI.String()).Str("key", r.Key.String()).
			Msg("answer withheld: the purchase may have been taken over while this instance's lease had lapsed")
		rl.reverse(r, "answered while this instance's lease had lapsed")
		rl.fail(r, ErrTimeout)
		return
	}
	if !r.Own {
		var buf [8]byte
		if r.Client.Gone() && r.Sent != 0 && rl.cfg.Dialect.IsApproved(rl.cfg.Dialect.Layout.AppendText(buf[:0], s, msg, 39)) {
			rl.reverse(r, "approved after its client left")
		} else {
			rl.settle(r)
		}
		rl.countDelivered(c, r, s.MTI, now)
	}
	r.Client.Deliver(r, msg, s)
	rl.table.Put(r)
}

// fail tells r's client that r failed. Safe from any goroutine.
func (rl *relay) fail(r *dispatch.Request, err error) { r.Client.Fail(r, err) }

// failLink fails the requests written on link, which dropped; the
// requests their terminals' turn passes to go on another link.
func (rl *relay) failLink(link int32, err error) {
	t := &rl.drop
	t.mu.Lock()
	defer t.mu.Unlock()
	t.out, t.next = rl.table.FailLink(link, t.out[:0], t.next[:0])
	if len(t.out) > 0 {
		rl.log.Warn().Int("requests", len(t.out)).Msg("failing the requests in flight on the dropped link")
	}
	rl.endUnanswered(t.out, t.next, "link dropped with the purchase in flight", err)
}

// failAll fails every request held: the gateway stops.
func (rl *relay) failAll(err error) {
	reqs := rl.table.FailAll(nil)
	if len(reqs) > 0 {
		rl.log.Warn().Int("requests", len(reqs)).Msg("failing the requests still held: the gateway stops")
	}
	rl.endUnanswered(reqs, nil, "the gateway stopped with the purchase in flight", err)
}

// expire ends the requests whose time is up and sends those whose turn
// that frees; it runs on the ticker.
func (rl *relay) expire(now time.Time) {
	t := &rl.tick
	t.expired, t.next = rl.table.Expire(now, t.expired[:0], t.next[:0])
	for _, r := range t.expired {
		rl.log.Info().Str("mti", r.MTI.String()).Str("key", r.Key.String()).Msg("request timed out")
		rl.cfg.Metrics.Timeout()
	}
	rl.endUnanswered(t.expired, t.next, "no answer within the queue timeout", ErrTimeout)
}

// endUnanswered fails each of ended, taken out of the table without its
// answer, to its client with err (a purchase that went is reversed for
// reason), then sends next, the requests their terminals' turn passed
// to; both are cleared for reuse.
func (rl *relay) endUnanswered(ended, next []*dispatch.Request, reason string, err error) {
	for _, r := range ended {
		rl.unanswered(r, reason)
		rl.fail(r, err)
	}
	for _, r := range next {
		rl.sendOffLoop(r)
	}
	clear(ended)
	clear(next)
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

// needsLock: in a cluster, a client's request for a terminal that is
// not journaled holds the terminal across instances too, so that no two
// requests of one terminal are at the bank at once whichever instances
// took them.
func (rl *relay) needsLock(r *dispatch.Request) bool {
	return rl.lock != nil && !r.Own && !r.Unlocked && r.TID.Len() > 0
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

// dump logs msg at --vv: one line, the message's name in the text and
// each field a JSON field of "iso" (masked as a dump is, unless
// --dangerous), so that a JSON log or LogStash can query them. A message
// that does not unpack is logged as the masked hex a dump shows.
func (rl *relay) dump(e *zerolog.Event, what string, msg []byte) {
	d := rl.cfg.Dialect
	f, err := d.Unpack(msg)
	if err != nil {
		e.Err(err).Str("raw", d.LogHex(msg, false, rl.cfg.Dangerous)).Msg(what + ": [<faulty>]")
		return
	}
	if !rl.cfg.Dangerous {
		d.MaskFields(f)
	}
	iso := zerolog.Dict()
	for _, id := range f.IDs() {
		iso.Str(strconv.Itoa(id), f[id])
	}
	e.Dict("iso", iso).Msg(what + ": " + d.Title(f))
}
