package journal

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/socketqueue/socketqueue-go/clock"
)

// Begun is a purchase Begin recorded: its id and the caller's tag.
type Begun struct {
	ID  uint64
	Tag any
}

// Options tune a journal.
type Options struct {
	// NoSync leaves each commit in the operating system's cache instead
	// of syncing it to the disk: it survives a crash or kill -9 of the
	// process, not a crash of the machine or a power cut.
	NoSync bool
	// SegmentSize is the size past which a segment is replaced
	// (DefaultSegmentSize when 0).
	SegmentSize int64
	// RetryEvery is how often a failed journal tries to write again
	// (time.Second when 0).
	RetryEvery time.Duration
	// SkipDamage opens a damaged journal anyway (after a person looked):
	// the intact records before and after each damage are replayed, the
	// damage is reported by Skipped, and the damaged files are kept
	// aside (".damaged"). Without it, Open refuses a damaged journal
	// with a *Damage naming the file and offset.
	SkipDamage bool
	// LazyCommit bounds how long an operation queued without a wake-up
	// (a settle, or a BeginLater that no Wake covered) waits for its
	// commit (settleDelay when 0). A test that must see its Wakes commit
	// sets it long.
	LazyCommit time.Duration
	// Clock times the writes (clock.System when nil).
	Clock clock.Clock
}

// DefaultSegmentSize holds about 100 000 purchases.
const DefaultSegmentSize = 32 << 20

// ErrClosed is returned for operations after Close.
var ErrClosed = errors.New("journal: closed")

// loc is where a live entry is in the current segment.
type loc struct {
	at    int64
	n     uint32
	state State
}

// Journal is an open journal. Its methods are safe for concurrent use.
type Journal struct {
	dir  string
	opts Options

	mu      sync.Mutex
	rec     []byte  // the next commit's record: header space, then operations
	waiting []Begun // the Begins in rec
	// The writer's record and list while it commits; back in the spares
	// after, so the two pairs alternate without allocating.
	spareRec     []byte
	spareWaiting []Begun
	queued       uint64 // operations queued since Open
	durable      uint64 // of those, how many the finished commits carried
	kicked       bool   // the writer has been told to commit what is queued
	// unwoken: a BeginLater is queued that no wake-up has covered yet.
	unwoken   atomic.Bool
	lazyArmed bool          // lazy is set to kick the writer within lazyDelay
	lazyDelay time.Duration // Options.LazyCommit
	// lazy kicks the writer for what is queued without waking it
	// (settles, BeginLater): a timer set where the operation is queued,
	// rather than a message to the writer, whose wake-up to set a timer
	// of its own cost as much as a commit.
	lazy    *time.Timer
	closed  bool
	err     error      // the failed write, sync or rotation, until the writer recovers
	flushed *sync.Cond // on mu, after every commit
	notify  func([]Begun, error)
	// notifyHere, for commits made by Wake's caller; nil: notify.
	notifyHere func([]Begun, error)
	onState    func(error)

	kick chan struct{}
	// failedHere: a commit off the writer failed; the writer is to retry.
	failedHere chan struct{}
	done       chan struct{}
	next       atomic.Uint64 // the last id handed out

	// cmu is held by whoever commits: the writer, or with NoSync the
	// goroutine that calls Wake (commitHere). What follows up to liveMu,
	// and held below, are its.
	cmu sync.Mutex
	// The current segment and where the next record goes.
	f        *os.File
	path     string // f's name as a segment
	seg      uint64
	off      int64
	rotateAt int64

	liveMu sync.Mutex // live and f, for readers outside the writer
	// indexed is the highest id the index has seen put: Begin hands out
	// ids in order, so a put above it is a new purchase, with no entry
	// to look up first (under liveMu).
	indexed uint64
	live    map[uint64]loc

	open          atomic.Int64 // live entries not given up
	commits, nops atomic.Int64
	writes        atomic.Int64 // records written (and synced), and the
	writeNanos    atomic.Int64 // time that took, added up

	skipped []*Damage // what Open passed over (SkipDamage)

	// After a failure (under cmu): the operations that could not be
	// written, and how many puts were let go to bound them.
	held        []byte
	heldDropped int
	closeErr    error // what Close reports of what was held
}

// Open opens the journal in dir, creating it if needed. What a crash
// left is replayed; the live entries go into a new segment.
func Open(dir string, opts ...Options) (*Journal, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	current, err := readCurrent(dir)
	var skipped []*Damage
	if d := (*Damage)(nil); errors.As(err, &d) && o.SkipDamage {
		skipped, err = append(skipped, d), nil
	}
	if err != nil {
		return nil, err
	}
	if err := removePrepared(dir); err != nil {
		return nil, err
	}
	if len(segs) == 0 && current == 0 {
		// Numbering starts again at 1, and a spare from an earlier life
		// may hold records sealed for segment 1: they would read as ours.
		if err := os.Remove(filepath.Join(dir, spareName)); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	rp, err := replay(dir, segs, current, o.SkipDamage)
	if err != nil {
		return nil, err
	}
	entries, next := rp.entries, rp.next
	settled, err := readUnrecorded(dir)
	var d *Damage
	if errors.As(err, &d) && o.SkipDamage {
		rp.skipped, err = append(rp.skipped, d), nil
	}
	if err != nil {
		return nil, err
	}
	if len(settled) > 0 {
		entries = slices.DeleteFunc(entries, func(e liveEntry) bool { return slices.Contains(settled, e.id) })
	}
	j := &Journal{
		dir:          dir,
		opts:         o,
		rec:          make([]byte, recordHeader, 64<<10),
		spareRec:     make([]byte, recordHeader, 64<<10),
		kick:         make(chan struct{}, 1),
		failedHere:   make(chan struct{}, 1),
		done:         make(chan struct{}),
		live:         map[uint64]loc{},
		lazyDelay:    cmp.Or(o.LazyCommit, settleDelay),
		waiting:      make([]Begun, 0, 256),
		spareWaiting: make([]Begun, 0, 256),
	}
	j.flushed = sync.NewCond(&j.mu)
	j.lazy = time.AfterFunc(time.Hour, j.kickWriter)
	j.lazy.Stop()
	j.next.Store(next)
	j.indexed = next // every id recovered is at most next
	j.skipped = append(skipped, rp.skipped...)
	last := current // never a number used before: a spare may hold its records
	if len(segs) > 0 {
		last = max(last, segs[len(segs)-1])
	}
	if err := j.startSegment(last+1, entries); err != nil {
		return nil, err
	}
	// The new segment's checkpoint holds what "unrecorded" settled.
	if err := os.Remove(filepath.Join(dir, unrecordedName)); err != nil && !os.IsNotExist(err) {
		j.f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	prepareReserve(dir)
	for _, n := range segs {
		path := filepath.Join(dir, segmentName(n))
		var err error
		if slices.Contains(rp.damaged, path) {
			err = os.Rename(path, path+damagedSuffix) // for whoever looks into it
		} else {
			err = retire(dir, path, nil)
		}
		if err != nil {
			j.f.Close()
			return nil, fmt.Errorf("journal: retiring segment %d: %w", n, err)
		}
	}
	go j.writer()
	return j, nil
}

// damagedSuffix marks a damaged segment kept aside by SkipDamage.
const damagedSuffix = ".damaged"

// removePrepared removes segments a crash left half prepared (under
// their temporary name): nothing in them was acknowledged.
func removePrepared(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, de := range des {
		if name, ok := strings.CutSuffix(de.Name(), newSuffix); ok {
			if _, isSeg := segmentNumber(name); isSeg || name == currentName || name == reserveName || name == unrecordedName {
				if err := os.Remove(filepath.Join(dir, de.Name())); err != nil {
					return fmt.Errorf("journal: %w", err)
				}
			}
		}
	}
	return nil
}

// Skipped is the damage Open passed over (SkipDamage), for the log.
func (j *Journal) Skipped() []*Damage { return j.skipped }

// Notify sets what is told, once per group commit, which Begins are on
// disk (err nil) or were kept off it: from the journal's goroutine, or,
// without NotifyHere, from Wake's caller when it commits (NoSync). It
// must not block, nor call Wake. Set it before the first Begin.
func (j *Journal) Notify(fn func(batch []Begun, err error)) {
	j.mu.Lock()
	j.notify = fn
	j.mu.Unlock()
}

// NotifyHere sets what is told instead of Notify's callback of a commit
// Wake made on its caller's goroutine, so that the caller can finish
// what the commit's purchases need (their writes on its own loop) once
// Wake returns. Set it before the first Begin.
func (j *Journal) NotifyHere(fn func(batch []Begun, err error)) {
	j.mu.Lock()
	j.notifyHere = fn
	j.mu.Unlock()
}

// OnState sets what is told, from the goroutine that committed (as for
// Notify), when the journal fails (err: why; Begin refuses from then
// on) and when it writes again (nil). It must not block. Set it before the first Begin.
func (j *Journal) OnState(fn func(err error)) {
	j.mu.Lock()
	j.onState = fn
	j.mu.Unlock()
}

// Begin records a purchase about to be sent and returns its id; the
// purchase comes back with tag through Notify once the record is on
// disk. msg is copied. An error means the journal takes nothing (closed,
// or failed before).
func (j *Journal) Begin(msg []byte, tag any) (uint64, error) { return j.begin(msg, tag, false) }

// BeginLater is Begin without waking the writer: a caller that begins
// several purchases in one go (an event loop, a read's worth of
// requests) calls Wake once after the last, so that they share a commit
// instead of the first going alone while the rest queue behind its
// write. Should Wake not come, they are committed within
// Options.LazyCommit.
func (j *Journal) BeginLater(msg []byte, tag any) (uint64, error) { return j.begin(msg, tag, true) }

func (j *Journal) begin(msg []byte, tag any, later bool) (uint64, error) {
	j.mu.Lock()
	if err := j.refusal(); err != nil {
		j.mu.Unlock()
		return 0, err
	}
	id := j.next.Add(1)
	j.rec = appendPutEntry(j.rec, id, Sent, 0, time.Time{}, "", msg)
	j.waiting = append(j.waiting, Begun{id, tag})
	kick := j.queuedLocked(!later)
	if later && !j.kicked {
		j.armLazyLocked()
		j.unwoken.Store(true)
	}
	j.mu.Unlock()
	if kick {
		j.wake()
	}
	return id, nil
}

// Wake commits what BeginLater queued. Cheap when there is nothing to
// commit, so that a loop may call it after each callback. With NoSync
// the commit is a write to the operating system's cache, made here
// rather than handed to the writer and back (two wake-ups of other
// threads per commit, and the purchases' requests carried between
// cores); NotifyHere's callback (else Notify's) then runs on the
// caller's goroutine, before Wake returns. Otherwise, or while another
// commit is under way, the writer is woken. It reports whether it made
// the commit.
func (j *Journal) Wake() bool {
	if !j.unwoken.Load() || !j.unwoken.Swap(false) {
		return false
	}
	if j.opts.NoSync && j.commitHere() {
		return true
	}
	j.kickWriter()
	return false
}

// CommitsOnWake reports whether Wake commits on its caller's goroutine
// (NoSync) rather than waking the writer.
func (j *Journal) CommitsOnWake() bool { return j.opts.NoSync }

// Unwoken reports whether BeginLater queued purchases that no Wake (nor
// commit) has taken yet. It is an atomic load: a loop may ask it after
// each callback.
func (j *Journal) Unwoken() bool { return j.unwoken.Load() }

// kickWriter wakes the writer for what is queued, unless it has been.
func (j *Journal) kickWriter() {
	j.mu.Lock()
	kick := !j.kicked
	j.kicked = true
	j.mu.Unlock()
	if kick {
		j.wake()
	}
}

// Settle forgets a purchase that was answered or reversed. It rides
// with the next commit, or is committed within settleDelay: a sync of its
// own would hold up the purchases that arrive meanwhile, and what a crash
// can lose is the same either way (a reply delivered before its settle is
// on disk).
func (j *Journal) Settle(id uint64) {
	j.queue(false, func(rec []byte) []byte { return appendSettle(rec, id) })
}

const settleDelay = 2 * time.Millisecond

// Reversing records that the purchase is to be reversed, with the tries
// made and when the next is due.
func (j *Journal) Reversing(e Entry) {
	j.queue(true, func(rec []byte) []byte {
		return appendPutEntry(rec, e.ID, Reversing, e.Tries, e.Next, e.Reason, e.Msg)
	})
}

// GiveUp records a reversal that ran out of tries, for an operator.
func (j *Journal) GiveUp(e Entry) {
	j.queue(true, func(rec []byte) []byte {
		return appendPutEntry(rec, e.ID, GaveUp, e.Tries, e.Next, e.Reason, e.Msg)
	})
}

func appendPutEntry(dst []byte, id uint64, state State, tries int, next time.Time, reason string, msg []byte) []byte {
	dst = appendPut(dst, id, nil)
	start := len(dst)
	dst = appendEntry(dst, state, tries, next, reason, msg)
	binary.BigEndian.PutUint32(dst[start-4:], uint32(len(dst)-start))
	return dst
}

// queue adds an operation; after Close it is dropped (what it would have
// recorded is recovered from the journal as it stands).
func (j *Journal) queue(urgent bool, add func([]byte) []byte) {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	// After a failure too: the writer holds what it cannot write yet.
	j.rec = add(j.rec)
	kick := j.queuedLocked(urgent)
	if !urgent && !j.kicked {
		j.armLazyLocked()
	}
	j.mu.Unlock()
	if kick {
		j.wake()
	}
}

// armLazyLocked has the writer kicked within lazyDelay, unless it is to
// be already.
func (j *Journal) armLazyLocked() {
	if !j.lazyArmed {
		j.lazyArmed = true
		j.lazy.Reset(j.lazyDelay)
	}
}

func (j *Journal) refusal() error {
	if j.closed {
		return ErrClosed
	}
	return j.err
}

// queuedLocked counts an operation and reports whether the writer is to
// be woken for it now.
func (j *Journal) queuedLocked(urgent bool) bool {
	j.queued++
	if j.kicked || !urgent {
		return false
	}
	j.kicked = true
	return true
}

func (j *Journal) wake() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// Flush returns once everything queued before it is on disk.
func (j *Journal) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	target := j.queued
	if j.durable < target && !j.kicked {
		j.kicked = true
		j.wake()
	}
	for j.durable < target && j.err == nil {
		j.flushed.Wait()
	}
	return j.err
}

// Pending returns every purchase sent and not settled, and every
// reversal due, oldest first.
func (j *Journal) Pending() ([]Entry, error) {
	return j.list(func(s State) bool { return s != GaveUp })
}

// GaveUp returns the reversals given up on.
func (j *Journal) GaveUp() ([]Entry, error) {
	return j.list(func(s State) bool { return s == GaveUp })
}

func (j *Journal) list(want func(State) bool) ([]Entry, error) {
	j.liveMu.Lock()
	defer j.liveMu.Unlock()
	var out []Entry
	for id, l := range j.live {
		if !want(l.state) {
			continue
		}
		buf := make([]byte, l.n)
		if _, err := j.f.ReadAt(buf, l.at); err != nil {
			return nil, fmt.Errorf("journal: reading entry %d: %w", id, err)
		}
		e, err := decodeEntry(id, buf)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmpID(a.ID, b.ID) })
	return out, nil
}

// Err is why the journal refuses purchases (closed, or a failure), if it
// does.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.refusal()
}

// Stats are the journal's figures.
type Stats struct {
	Commits, Ops int64
	Open         int // purchases and reversals not settled
	// Writes is the records written, and WriteTime what their writes
	// and syncs took, added up: over Writes, the latency a purchase
	// waits at least once.
	Writes    int64
	WriteTime time.Duration
}

// Stats reads the figures (atomics; cheap).
func (j *Journal) Stats() Stats {
	return Stats{Commits: j.commits.Load(), Ops: j.nops.Load(), Open: int(j.open.Load()),
		Writes: j.writes.Load(), WriteTime: time.Duration(j.writeNanos.Load())}
}

// Close commits what is queued and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.kicked = true
	j.mu.Unlock()
	j.wake()
	<-j.done
	j.liveMu.Lock()
	err := j.f.Close()
	j.liveMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.closeErr != nil:
		return j.closeErr
	case j.err != nil:
		return j.err
	case err != nil:
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}
