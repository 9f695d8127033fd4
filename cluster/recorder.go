package cluster

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/journal"
	"github.com/socketqueue/socketqueue-go/reversal"
)

// RecorderConfig makes a Recorder.
type RecorderConfig struct {
	Store *Store
	// TID reads a message's terminal (field 41), the key of its record.
	TID func(msg []byte) string
	// Wait bounds a purchase's wait for its terminal held by another
	// instance (the queue timeout).
	Wait time.Duration
	// Taken is told of a purchase taken over from a lapsed instance: it
	// is to be reversed, under id. From the recorder's goroutine.
	Taken func(id uint64, msg []byte)
	Log   zerolog.Logger
	// Linger is how long a settled record waits for its terminal's next
	// purchase (lingerFor when 0).
	Linger time.Duration
	// Workers hold terminals at once (64 when 0).
	Workers int
}

// Recorder is the cluster's journal of purchases as one instance writes
// it: Begin holds the purchase's terminal across instances by writing its
// record, Settle releases it, Reversing and GiveUp update it. It offers
// what the relay asks of the local journal, and the reversal Store.
//
// Concurrency: every method is safe from any goroutine and none blocks
// on the network; the writes happen on the recorder's goroutines, and
// Notify's callback is called from them.
type Recorder struct {
	cfg     RecorderConfig
	figures Figures
	notify  func([]journal.Begun, error)
	onState func(error)
	jobs    chan func() // holds, which may wait for a terminal
	writes  chan func() // settles and updates, which never wait behind a hold
	next    atomic.Uint64
	writers sync.WaitGroup

	mu   sync.Mutex
	held map[uint64]*ref // by id: the records this instance holds (and those being released)
	// holding counts, by terminal, the holds under way: a record written
	// whose acknowledgement has not come back is not an orphan.
	holding map[string]int
	// releasing is, by terminal, the record whose delete is under way:
	// the terminal's next hold waits for it here rather than finding the
	// record still there and watching the cluster for its delete.
	releasing map[string]*ref
	err       error     // the cluster cannot be written
	closed    bool      // Close has begun: deletes start at once
	beat      time.Time // the last lease renewal
	lapsed    bool      // the lease lapsed: what was held may be another's
	epoch     int       // lease lapses so far: a ref of an older epoch is not trusted
	// recovered is closed when a lapse ends (nil while none): holds
	// wait for it. confirming: a renewal after a lapse is proving, by
	// compare-and-set, which records are still this instance's.
	recovered  chan struct{}
	confirming bool
}

// Figures are the recorder's running totals (atomics).
type Figures struct {
	// Holds counts terminals held; Waits those first held elsewhere;
	// HoldNanos adds the time from Begin to the quorum's acknowledgement.
	Holds, Waits, HoldNanos atomic.Int64
	// TakenOver counts records taken from lapsed instances; Lapses, the
	// times this instance's own lease lapsed.
	TakenOver, Lapses atomic.Int64
	// Replaced counts holds made by replacing the terminal's settled
	// record (one write, not two).
	Replaced atomic.Int64
}

// Figures are the recorder's totals.
func (r *Recorder) Figures() *Figures { return &r.figures }

// Connected reports whether the recorder's connection to the cluster is
// up.
func (r *Recorder) Connected() bool { return r.cfg.Store.nc.IsConnected() }

// LeaseAge is the time since this instance last renewed its lease.
func (r *Recorder) LeaseAge() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Since(r.beat)
}

// ref is a record this instance holds; rev moves with each write. Its
// writes are made in order under mu.
type ref struct {
	mu    sync.Mutex
	tid   string
	rev   uint64
	msg   []byte
	epoch int // the recorder's epoch when it was held or last confirmed
	// settled: being released; still known (its record is there until
	// the delete is acknowledged) but no longer this instance's to act on.
	settled bool
	// released is closed once the delete is done (or given up), or the
	// terminal's next purchase here has taken the record over.
	released chan struct{}
	id       uint64
	// linger delays the delete (lingerFor) for the terminal's next
	// purchase to replace the record instead: one write, not two.
	// releasing: the delete has started; handed: the next hold took it.
	linger            *time.Timer
	releasing, handed bool
	// chain counts the records this one replaced in a row.
	chain int
	// lock: held for a request that is not reversed (Record.Lock).
	lock bool
	// rec is the record as last written (rewritten as it is to prove
	// the record still this instance's after a lapse).
	rec Record
}

// maxChain bounds the replacements in a row: a terminal busy here is
// deleted now and then, or another instance waiting for it (watching for
// its delete) would wait until its queue timeout.
const maxChain = 8

// lingerFor is how long a settled record waits for its terminal's next
// purchase here before it is deleted. A terminal sends its next purchase
// once it has the answer to the last, so under load the next one comes
// within it, and its hold is one write (the record replaced at its
// revision) where it would be two (a delete, then a create); the cost is
// that another instance waits up to this much longer for the terminal.
const lingerFor = 20 * time.Millisecond

var (
	_ reversal.Store = (*Recorder)(nil)
	_ reversal.Owner = (*Recorder)(nil)
)

// NewRecorder starts the recorder's goroutines; Close stops them.
func NewRecorder(cfg RecorderConfig) *Recorder {
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.Linger <= 0 {
		cfg.Linger = lingerFor
	}
	r := &Recorder{cfg: cfg, jobs: make(chan func(), 4096), writes: make(chan func(), 4096), held: map[uint64]*ref{}, holding: map[string]int{}, releasing: map[string]*ref{},
		notify: func([]journal.Begun, error) {}, onState: func(error) {}}
	r.next.Store(uint64(time.Now().UnixNano()))
	r.beat = time.Now()
	r.writers.Add(cfg.Workers + max(8, cfg.Workers/4))
	for range cfg.Workers {
		go func() {
			defer r.writers.Done()
			for job := range r.jobs {
				job()
			}
		}()
	}
	// A hold may wait for its terminal's settle: settles have writers of
	// their own, or every holder could be waiting on a settle queued
	// behind it.
	for range max(8, cfg.Workers/4) {
		go func() {
			defer r.writers.Done()
			for job := range r.writes {
				job()
			}
		}()
	}
	return r
}

// Close starts the deletes still lingering, stops the goroutines once
// the writes queued are done and waits for them, up to wait: a settle
// left unwritten would be reversed by the next start.
func (r *Recorder) Close(wait time.Duration) error {
	r.mu.Lock()
	r.closed = true
	var lingering []*ref
	for _, ref := range r.held {
		if ref.settled && !ref.releasing && !ref.handed {
			ref.linger.Stop()
			ref.releasing = true
			lingering = append(lingering, ref)
		}
	}
	r.mu.Unlock()
	for _, ref := range lingering {
		r.writes <- r.releaseJob(ref)
	}
	close(r.jobs)
	close(r.writes)
	done := make(chan struct{})
	go func() { r.writers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(wait):
		return errors.New("cluster: writes still under way when the gateway stopped")
	}
}

// Notify sets what is told which Begins are held (err nil) or failed.
func (r *Recorder) Notify(fn func(batch []journal.Begun, err error)) { r.notify = fn }

// OnState sets what is told when the cluster fails or writes again.
func (r *Recorder) OnState(fn func(err error)) { r.onState = fn }

// Begin holds msg's terminal with its record, in the background; tag
// comes back through Notify once the record is acknowledged by a quorum
// (or failed). A terminal held by another instance is waited for, up to
// the queue timeout.
func (r *Recorder) Begin(msg []byte, tag any) (uint64, error) { return r.begin(msg, tag, false) }

// Lock holds msg's terminal as Begin does, for a request that is never
// reversed (a balance inquiry, a refund): its record only keeps the
// other instances' requests for the terminal off the bank meanwhile. A
// lapsed instance's Lock record is released, not reversed.
func (r *Recorder) Lock(msg []byte, tag any) (uint64, error) { return r.begin(msg, tag, true) }

func (r *Recorder) begin(msg []byte, tag any, lock bool) (uint64, error) {
	id := r.next.Add(1)
	ref := &ref{tid: r.cfg.TID(msg), msg: append([]byte(nil), msg...), lock: lock}
	// Claimed now, not when a worker takes the hold: behind many holds
	// that could be after the linger.
	prev := r.handOver(ref.tid)
	select {
	case r.jobs <- func() { r.hold(id, ref, tag, prev) }:
		return id, nil
	default:
		r.releaseClaimed(prev)
		return 0, ErrBusy
	}
}

// holdWait is how long a hold may wait for its write (or for its
// terminal) within the request's own timeout, wait: it gives up a little
// before, so that a record that could not be written (no quorum) is
// answered as that, the purchase not sent, rather than as the bank's
// timeout.
func holdWait(wait time.Duration) time.Duration { return wait - min(wait/5, time.Second) }

// writeFor bounds the retries of a settle or a reversal's update: long
// enough to outlast the election of a new leader after a node is lost (a
// settle given up leaves its terminal held until the lease ends).
const writeFor = 2 * time.Minute

// ErrLapsed: this instance's lease stayed lapsed for the whole wait; the
// purchase was not sent.
var ErrLapsed = errors.New("cluster: this instance's lease lapsed and was not renewed in time")

// ErrBusy: more purchases wait for the cluster than it has room for.
var ErrBusy = errors.New("cluster: too many purchases waiting for their records")

// later queues a write, or runs it on a goroutine of its own when the
// queue is full: the callers (a link's loop) must not wait.
func (r *Recorder) later(job func()) {
	select {
	case r.writes <- job:
	default:
		go job()
	}
}

// hold writes ref's record: replacing prev's, the terminal's settled
// record claimed for it, when there is one.
func (r *Recorder) hold(id uint64, ref *ref, tag any, prev *ref) {
	ctx, cancel := context.WithTimeout(context.Background(), holdWait(r.cfg.Wait))
	defer cancel()
	begun := time.Now()
	rec := Record{Instance: r.cfg.Store.cfg.Instance, Msg: ref.msg, Lock: ref.lock}
	ref.rec = rec
	waited := false
	if ch := r.lapse(); ch != nil {
		// A purchase sent now would have its answer withheld (and be
		// reversed) until the lapse ends: it waits for that instead.
		select {
		case <-ch:
		case <-ctx.Done():
			r.releaseClaimed(prev)
			r.notify([]journal.Begun{{ID: id, Tag: tag}}, ErrLapsed)
			return
		}
	}
	r.mu.Lock()
	r.holding[ref.tid]++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		if r.holding[ref.tid]--; r.holding[ref.tid] == 0 {
			delete(r.holding, ref.tid)
		}
		r.mu.Unlock()
	}()
	if prev == nil {
		prev = r.handOver(ref.tid)
	}
	if prev != nil {
		// The terminal's last purchase here is settled and its record
		// not yet deleted: replace it, one write.
		rev, err := r.cfg.Store.Update(ctx, ref.tid, prev.rev, rec)
		r.forget(prev)
		if err == nil {
			r.figures.Holds.Add(1)
			r.figures.Replaced.Add(1)
			ref.chain = prev.chain + 1
			r.figures.HoldNanos.Add(int64(time.Since(begun)))
			r.held1(id, ref, rev, tag)
			return
		}
		// Changed meanwhile (taken over), or not known to be written:
		// from the start. A replacement made whose answer was lost is
		// then a record this instance does not know: an orphan.
	}
	r.mu.Lock()
	prev = r.releasing[ref.tid]
	r.mu.Unlock()
	if prev != nil {
		// The terminal's last purchase here is being settled: one write
		// once its delete is in, instead of a refused write, a read and
		// a watch of the cluster (half of all holds under load).
		select {
		case <-prev.released:
		case <-ctx.Done():
			r.cfg.Log.Warn().Str("tid", ref.tid).Msg("cluster: terminal's last record still being released at the end of the wait")
			r.notify([]journal.Begun{{ID: id, Tag: tag}}, ErrHeld)
			return
		}
	}
	for {
		rev, held, err := r.cfg.Store.Hold(ctx, ref.tid, rec)
		if err == nil {
			r.figures.Holds.Add(1)
			r.figures.HoldNanos.Add(int64(time.Since(begun)))
			r.held1(id, ref, rev, tag)
			return
		}
		if errors.Is(err, ErrHeld) || errors.Is(err, ErrConflicts) {
			if !waited {
				waited = true
				r.figures.Waits.Add(1)
			}
			if werr := r.cfg.Store.WaitFree(ctx, ref.tid); werr == nil {
				continue
			}
			if errors.Is(err, ErrConflicts) {
				// No holder to wait for: the cluster would not take the
				// write (seen when a node has lost its quorum).
				r.cfg.Log.Warn().Err(err).Str("tid", ref.tid).Msg("cluster: purchase not recorded")
				r.state(err)
				r.notify([]journal.Begun{{ID: id, Tag: tag}}, err)
				return
			}
			// Held elsewhere past the wait: not a failure of the cluster.
			r.cfg.Log.Warn().Str("tid", ref.tid).Str("holder", heldBy(held)).Msg("cluster: terminal still held at the end of the wait")
			r.notify([]journal.Begun{{ID: id, Tag: tag}}, err)
			return
		}
		r.cfg.Log.Warn().Err(err).Str("tid", ref.tid).Msg("cluster: purchase not recorded")
		r.state(err)
		r.notify([]journal.Begun{{ID: id, Tag: tag}}, err)
		return
	}
}

// held1 records ref, its record written at rev, and says so.
func (r *Recorder) held1(id uint64, ref *ref, rev uint64, tag any) {
	ref.rev = rev
	r.mu.Lock()
	ref.epoch = r.epoch
	r.held[id] = ref
	r.mu.Unlock()
	r.state(nil)
	r.notify([]journal.Begun{{ID: id, Tag: tag}}, nil)
}

func heldBy(h *Held) string {
	if h == nil {
		return ""
	}
	return h.Instance
}

// state records whether the cluster can be written and tells of a change.
func (r *Recorder) state(err error) {
	r.mu.Lock()
	changed := (r.err == nil) != (err == nil)
	r.err = err
	r.mu.Unlock()
	if changed {
		r.onState(err)
	}
}

// Err is why the cluster cannot be written, or nil.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Flush is a no-op: every write is acknowledged before it is reported.
func (r *Recorder) Flush() error { return nil }

// Stats counts the records this instance holds.
func (r *Recorder) Stats() journal.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ref := range r.held {
		if !ref.settled {
			n++
		}
	}
	return journal.Stats{Open: n}
}

// settling marks id's ref settled and returns it; nil when it is not
// held or already settling.
func (r *Recorder) settling(id uint64) *ref {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref := r.held[id]
	if ref == nil || ref.settled {
		return nil
	}
	ref.settled = true
	ref.id = id
	ref.released = make(chan struct{})
	r.releasing[ref.tid] = ref
	return ref
}

func (r *Recorder) get(id uint64) *ref {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref := r.held[id]; ref != nil && !ref.settled {
		return ref
	}
	return nil
}

// Settle releases id's terminal: answered, never sent, or reversed. The
// ref stays known until the delete is acknowledged, so that the record,
// still there meanwhile, is not taken for an orphan. The delete lingers
// first, for the terminal's next purchase to replace the record.
func (r *Recorder) Settle(id uint64) {
	ref := r.settling(id)
	if ref == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		ref.releasing = true
		r.later(r.releaseJob(ref))
		return
	}
	ref.linger = time.AfterFunc(r.cfg.Linger, func() {
		r.mu.Lock()
		if ref.handed || ref.releasing || r.closed {
			r.mu.Unlock()
			return // taken by the next hold, or started by Close
		}
		ref.releasing = true
		r.mu.Unlock()
		r.later(r.releaseJob(ref))
	})
}

// releaseClaimed deletes now a settled record claimed by handOver for a
// hold that will not use it (nil: none).
func (r *Recorder) releaseClaimed(prev *ref) {
	if prev == nil {
		return
	}
	r.mu.Lock()
	prev.releasing = true
	r.mu.Unlock()
	r.later(r.releaseJob(prev))
}

// releaseJob deletes ref's record, then forgets it.
func (r *Recorder) releaseJob(ref *ref) func() {
	return func() {
		ref.mu.Lock()
		defer ref.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), writeFor)
		defer cancel()
		if err := r.cfg.Store.Release(ctx, ref.tid, ref.rev); err != nil {
			r.cfg.Log.Warn().Err(err).Str("tid", ref.tid).Msg("cluster: settle not written")
		}
		r.forget(ref)
	}
}

// forget drops a settled ref: its record is deleted, or replaced by the
// terminal's next purchase.
func (r *Recorder) forget(ref *ref) {
	r.mu.Lock()
	delete(r.held, ref.id)
	if r.releasing[ref.tid] == ref {
		delete(r.releasing, ref.tid)
	}
	r.mu.Unlock()
	close(ref.released)
}

// handOver gives the terminal's lingering settled record, if there is
// one, to the hold of its next purchase: it is no longer deleted.
func (r *Recorder) handOver(tid string) *ref {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.releasing[tid]
	if prev == nil || prev.releasing || prev.handed {
		return nil
	}
	if prev.chain >= maxChain {
		prev.linger.Stop()
		prev.releasing = true
		r.later(r.releaseJob(prev)) // now: the next hold waits for it
		return nil
	}
	prev.handed = true
	prev.linger.Stop()
	return prev
}

// Reversing marks id's record as being reversed, with its tries.
func (r *Recorder) Reversing(rv *reversal.Reversal) {
	r.update(rv, true)
}

// GiveUp keeps the record for an operator, marked with its tries.
func (r *Recorder) GiveUp(rv *reversal.Reversal) {
	r.update(rv, true)
	r.cfg.Log.Error().Uint64("id", rv.ID).Msg("cluster: a reversal given up keeps its terminal's record for an operator")
}

func (r *Recorder) update(rv *reversal.Reversal, reversing bool) {
	ref := r.get(rv.ID)
	if ref == nil {
		return
	}
	rec := Record{Instance: r.cfg.Store.cfg.Instance, Msg: ref.msg, Reversing: reversing, Try: rv.Tries}
	r.later(func() {
		ref.mu.Lock()
		defer ref.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), writeFor)
		defer cancel()
		rev, err := r.cfg.Store.Update(ctx, ref.tid, ref.rev, rec)
		if err != nil {
			r.cfg.Log.Warn().Err(err).Str("tid", ref.tid).Msg("cluster: reversal state not written")
			return
		}
		ref.rev, ref.rec = rev, rec
	})
}

// Pending lists, at start, the records this instance left: each is a
// purchase that may be at the bank, to be reversed.
func (r *Recorder) Pending() ([]*reversal.Reversal, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mine, err := r.cfg.Store.Mine(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*reversal.Reversal, 0, len(mine))
	for _, h := range mine {
		id, ok := r.adoptUnknown(h)
		if !ok {
			continue // held by this run already (its fronts opened first)
		}
		if h.Lock {
			r.Settle(id) // nothing to reverse: only its turn was held
			continue
		}
		reason := "unanswered when the gateway stopped"
		if h.Reversing {
			reason = "its reversal was pending when the gateway stopped"
		}
		out = append(out, &reversal.Reversal{ID: id, Original: h.Msg, Tries: h.Try, Reason: reason})
	}
	return out, nil
}

// adopt makes a record this instance holds (one taken over) known under
// a new id.
func (r *Recorder) adopt(h Held) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.adoptLocked(h)
}

// adoptLocked is adopt for callers holding mu.
func (r *Recorder) adoptLocked(h Held) uint64 {
	id := r.next.Add(1)
	r.held[id] = &ref{tid: h.TID, rev: h.Rev, msg: h.Msg, epoch: r.epoch, lock: h.Lock, rec: h.Record}
	return id
}

// known reports whether a record of tid with msg is held here (or being
// released), or a hold of tid is under way (the record may be that
// hold's, its acknowledgement yet to come).
func (r *Recorder) known(tid string, msg []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.knownLocked(tid, msg)
}

// knownLocked is known for callers holding mu.
func (r *Recorder) knownLocked(tid string, msg []byte) bool {
	if r.holding[tid] > 0 {
		return true
	}
	for _, ref := range r.held {
		if ref.tid == tid && bytes.Equal(ref.msg, msg) {
			return true
		}
	}
	return false
}

// adoptUnknown adopts h, a record in this instance's name, unless it is
// known: in one step, since the renewals and a lapse's confirmation may
// both find it.
func (r *Recorder) adoptUnknown(h Held) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.knownLocked(h.TID, h.Msg) {
		return 0, false
	}
	return r.adoptLocked(h), true
}

// orphans deals with the records in this instance's name it does not
// know: a takeover or a hold whose acknowledgement was lost (the write
// was made, the caller was told it failed). Left there, a terminal
// would stay held by a live instance, for good. One marked reversing is
// a takeover: reversed, as it would have been. One that is not is a
// hold reported failed, whose purchase never went: released.
//
// mine was read a while ago: a record released since (its ref dropped
// once the delete was acknowledged) is in it. So each is first found
// unknown, then read again: still there at the same revision, it is an
// orphan; released meanwhile, it is gone.
func (r *Recorder) orphans(ctx context.Context, mine []Held) {
	for _, h := range mine {
		if r.known(h.TID, h.Msg) {
			continue
		}
		free, _, now, err := r.cfg.Store.last(ctx, h.TID)
		if err != nil || free || now.Rev != h.Rev || now.Instance != r.cfg.Store.cfg.Instance {
			continue
		}
		id, ok := r.adoptUnknown(*now)
		if !ok {
			continue
		}
		if now.Reversing {
			r.figures.TakenOver.Add(1)
			r.cfg.Log.Warn().Str("tid", h.TID).Msg("cluster: a reversal in this instance's name it did not know (its takeover's acknowledgement was lost); reversing it")
			r.cfg.Taken(id, now.Msg)
			continue
		}
		r.cfg.Log.Warn().Str("tid", h.TID).Msg("cluster: a terminal's record left by a hold reported failed (its acknowledgement was lost); its request never went: released")
		r.Settle(id)
	}
}

// Owns reports whether id is still this instance's: held, and its lease
// not so old that the others may have taken it over (two thirds of the
// lease: they act at its end). What was held before a lapse is Unsure
// until a renewal finds it still in this instance's name (Owned) or not
// (Lost: forgotten then).
func (r *Recorder) Owns(id uint64) reversal.Ownership {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkLapse()
	ref := r.held[id]
	switch {
	case ref == nil || ref.settled:
		return reversal.Lost
	case r.lapsed || ref.epoch != r.epoch:
		return reversal.Unsure
	}
	return reversal.Owned
}

// checkLapse notes that the lease is too old. Callers hold mu.
func (r *Recorder) checkLapse() {
	if r.lapsed || time.Since(r.beat) < r.cfg.Store.cfg.Lease*2/3 {
		return
	}
	r.lapsed = true
	r.epoch++
	r.recovered = make(chan struct{})
	r.figures.Lapses.Add(1)
	r.cfg.Log.Error().Int("records", len(r.held)).Msg("cluster: this instance's lease lapsed; what it held may be taken over by the others")
}

// lapse returns what closes when the current lapse ends, or nil when
// the lease is current.
func (r *Recorder) lapse() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkLapse()
	if !r.lapsed {
		return nil
	}
	return r.recovered
}

// renewed records a lease renewed as of sent. After a lapse it starts
// confirm, once.
func (r *Recorder) renewed(sent time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkLapse()
	r.beat = sent
	if !r.lapsed || r.confirming {
		return
	}
	r.confirming = true
	go r.confirm(r.epoch)
}

// confirm ends a lapse (of epoch). Reading that a record is still in
// this instance's name proves nothing: a survivor that saw the lease
// lapse may be about to take it over. So each record held is written
// again at its revision, as it is: the write that lands first wins, and
// the other's fails. A record whose rewrite is fenced was taken over
// (by another, which reverses it): it is forgotten, so that its
// reversal here is dropped and its late answer not given. A record in
// this instance's name it does not know (left by an earlier run) is
// taken back, to be reversed. The renewals go on meanwhile.
func (r *Recorder) confirm(epoch int) {
	ctx, cancel := context.WithTimeout(context.Background(), max(r.cfg.Store.cfg.Lease, 10*time.Second))
	defer cancel()
	ok := false
	defer func() {
		r.mu.Lock()
		r.confirming = false
		if ok && r.epoch == epoch {
			r.lapsed = false
			close(r.recovered)
			r.recovered = nil
		}
		r.mu.Unlock()
	}()
	mine, err := r.mine(ctx)
	if err != nil {
		r.cfg.Log.Warn().Err(err).Msg("cluster: cannot read what this instance still holds; the lapse goes on")
		return
	}
	confirmed, lost := 0, 0
	// A record written as the lapse began is not among the first
	// pass's: a few passes, until none is left unconfirmed.
	for pass := 0; pass < 3; pass++ {
		r.mu.Lock()
		todo := map[uint64]*ref{}
		for id, ref := range r.held {
			if !ref.settled && ref.epoch != epoch {
				todo[id] = ref
			}
		}
		r.mu.Unlock()
		if len(todo) == 0 {
			ok = true
			break
		}
		var mu sync.Mutex
		var failed error
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for id, ref := range todo {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				ref.mu.Lock()
				rev, err := r.cfg.Store.Update(ctx, ref.tid, ref.rev, ref.rec)
				if err == nil {
					ref.rev = rev
				}
				ref.mu.Unlock()
				r.mu.Lock()
				defer r.mu.Unlock()
				switch {
				case err == nil:
					ref.epoch = epoch
					confirmed++
				case errors.Is(err, ErrFenced):
					if !ref.settled {
						delete(r.held, id)
						lost++
					}
				default:
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if failed != nil {
			r.cfg.Log.Warn().Err(failed).Msg("cluster: cannot prove what this instance still holds; the lapse goes on")
			return
		}
	}
	if !ok {
		return
	}
	ev := r.cfg.Log.Warn().Int("kept", confirmed).Int("taken", lost)
	if lost > 0 {
		ev.Msg("cluster: lease renewed after a lapse; records held before it were taken over by the others")
	} else {
		ev.Msg("cluster: lease renewed after a lapse; every record held is still this instance's")
	}
	var unknown []Held
	for _, h := range mine {
		if !r.known(h.TID, h.Msg) {
			unknown = append(unknown, h)
		}
	}
	r.orphans(ctx, unknown)
}

// beatOnce renews the lease, then takes over what lapsed instances left.
func (r *Recorder) beatOnce(ctx context.Context) {
	r.renew(ctx)
	r.takeOver(ctx)
}

// renew renews the lease.
func (r *Recorder) renew(ctx context.Context) {
	sent := time.Now() // the lease runs from before the write
	if err := r.cfg.Store.Heartbeat(ctx); err != nil {
		r.cfg.Log.Warn().Err(err).Msg("cluster: lease not renewed")
		return
	}
	r.renewed(sent)
	if r.Err() != nil && r.cfg.Store.Writable(ctx) == nil {
		// A failed write is cleared by the next that lands; with no
		// purchase coming (a balancer keeps traffic off while /readyz
		// says the cluster failed) this is what finds the quorum back.
		r.state(nil)
	}
}

// takeOver takes over what lapsed instances left. From one goroutine.
func (r *Recorder) takeOver(ctx context.Context) {
	taken, mine, err := r.cfg.Store.TakeOver(ctx)
	if err != nil {
		r.cfg.Log.Warn().Err(err).Msg("cluster: takeover check failed")
		return
	}
	r.orphans(ctx, mine)
	r.figures.TakenOver.Add(int64(len(taken)))
	for _, h := range taken {
		if h.Lock {
			r.cfg.Log.Warn().Str("tid", h.TID).Str("from", h.From).Msg("cluster: released a terminal a lapsed instance held for a request that is not reversed")
			continue
		}
		r.cfg.Log.Warn().Str("tid", h.TID).Str("from", h.From).Msg("cluster: took over a purchase of a lapsed instance; reversing it")
		r.cfg.Taken(r.adopt(h), h.Msg)
	}
}

// mine reads the records in this instance's name in tries bounded as
// the takeover scan's, until ctx ends. A lapse most often comes with the
// loss of a stream's leader, and a read sent before the new one is
// elected gets no answer: a try bounded only by ctx would hold the lapse
// open for all of it (10 s) after the election (4 to 9 s) was over. A
// read may be repeated; the rewrites that follow it may not.
func (r *Recorder) mine(ctx context.Context) ([]Held, error) {
	bound := scanBound(r.cfg.Store.cfg.Lease)
	for {
		tctx, cancel := context.WithTimeout(ctx, bound)
		mine, err := r.cfg.Store.Mine(tctx)
		if err == nil {
			cancel()
			return mine, nil
		}
		<-tctx.Done() // a try refused at once (no responders) is not repeated at once
		cancel()
		if ctx.Err() != nil {
			return nil, err
		}
	}
}

// renewEvery is how often the lease is renewed: a sixth of it, at most
// a second. After the loss of the node leading the leases, no renewal
// lands until NATS elects a new leader (4 to 9 s, its election
// timeout); what counts is how old the lease then is, at most this plus
// the election, against the two thirds of the lease past which the
// instance takes it as lapsed.
func renewEvery(lease time.Duration) time.Duration { return min(lease/6, time.Second) }

// scanBound bounds one takeover scan: a third of the lease, so that a
// scan whose requests went unanswered is tried again well within it.
func scanBound(lease time.Duration) time.Duration { return max(renewEvery(lease), lease/3) }

// Run renews the lease and takes over what lapsed instances left, until
// ctx ends: two loops, so that a slow takeover scan never delays a
// renewal.
func (r *Recorder) Run(ctx context.Context) {
	every := renewEvery(r.cfg.Store.cfg.Lease)
	scanFor := scanBound(r.cfg.Store.cfg.Lease)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.loop(ctx, every, every, r.renew)
	}()
	r.loop(ctx, every, scanFor, r.takeOver)
	<-done
}

// loop runs step every so often, each bounded by bound, until ctx ends.
func (r *Recorder) loop(ctx context.Context, every, bound time.Duration, step func(context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, bound)
		step(sctx)
		cancel()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}
