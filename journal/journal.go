package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
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
	lazyArmed    bool   // the writer has been told to commit it within settleDelay
	closed       bool
	err          error      // sticky: the first failed write, sync or rotation
	flushed      *sync.Cond // on mu, after every commit
	notify       func([]Begun, error)

	kick chan struct{}
	lazy chan struct{}
	done chan struct{}
	next atomic.Uint64 // the last id handed out

	// The writer's own: the current segment and where the next record goes.
	f        *os.File
	seg      uint64
	off      int64
	rotateAt int64

	liveMu sync.Mutex // live and f, for readers outside the writer
	live   map[uint64]loc

	open          atomic.Int64 // live entries not given up
	commits, nops atomic.Int64
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
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		// Numbering starts again at 1, and a spare from an earlier life
		// may hold records sealed for segment 1: they would read as ours.
		if err := os.Remove(filepath.Join(dir, spareName)); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	entries, next, err := replay(dir, segs)
	if err != nil {
		return nil, err
	}
	j := &Journal{
		dir:          dir,
		opts:         o,
		rec:          make([]byte, recordHeader, 64<<10),
		spareRec:     make([]byte, recordHeader, 64<<10),
		kick:         make(chan struct{}, 1),
		lazy:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		live:         map[uint64]loc{},
		waiting:      make([]Begun, 0, 256),
		spareWaiting: make([]Begun, 0, 256),
	}
	j.flushed = sync.NewCond(&j.mu)
	j.next.Store(next)
	var last uint64
	if len(segs) > 0 {
		last = segs[len(segs)-1]
	}
	if err := j.startSegment(last+1, entries); err != nil {
		return nil, err
	}
	for _, n := range segs {
		f, err := os.Open(filepath.Join(dir, segmentName(n)))
		if err == nil {
			err = retire(dir, f)
		}
		if err != nil {
			j.f.Close()
			return nil, fmt.Errorf("journal: retiring segment %d: %w", n, err)
		}
	}
	go j.writer()
	return j, nil
}

func listSegments(dir string) ([]uint64, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var segs []uint64
	for _, de := range des {
		if n, ok := segmentNumber(de.Name()); ok && de.Type().IsRegular() {
			segs = append(segs, n)
		}
	}
	slices.Sort(segs)
	return segs, nil
}

type liveEntry struct {
	id    uint64
	entry []byte
}

// replay reads the segments in order and returns the live entries, by
// id, and the highest id seen.
func replay(dir string, segs []uint64) ([]liveEntry, uint64, error) {
	entries := map[uint64][]byte{}
	var next uint64
	for _, n := range segs {
		path := filepath.Join(dir, segmentName(n))
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, fmt.Errorf("journal: %w", err)
		}
		rr := newRecordReader(f, n)
		if p, _, ok := rr.next(); ok && len(p) == len(magic)+8 && bytes.Equal(p[:len(magic)], magic) {
			next = max(next, binary.BigEndian.Uint64(p[len(magic):]))
			for {
				p, at, ok := rr.next()
				if !ok {
					break
				}
				var bad error
				err := eachOp(p, func(kind byte, id uint64, entry []byte, _ int) {
					next = max(next, id)
					switch {
					case kind == opSettle:
						delete(entries, id)
					case len(entry) < entryFixed || entry[0] != entryVersion:
						bad = fmt.Errorf("entry %d: unknown format", id)
					default:
						entries[id] = bytes.Clone(entry)
					}
				})
				if err == nil {
					err = bad
				}
				if err != nil {
					f.Close()
					return nil, 0, fmt.Errorf("journal: %s, record at %d: %w", path, at, err)
				}
			}
		}
		// else: the header never reached the disk, so nothing after it
		// was acknowledged.
		f.Close()
	}
	out := make([]liveEntry, 0, len(entries))
	for id, e := range entries {
		out = append(out, liveEntry{id, e})
	}
	slices.SortFunc(out, func(a, b liveEntry) int { return cmpID(a.id, b.id) })
	return out, next, nil
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// startSegment makes segment n current: its header and a checkpoint of
// entries, synced, before anything else goes into it. The segment it
// replaces is retired only after.
func (j *Journal) startSegment(n uint64, entries []liveEntry) error {
	f, err := createSegment(j.dir, n, j.opts.SegmentSize, !j.opts.NoSync)
	if err != nil {
		return err
	}
	buf := appendHeader(nil, j.next.Load())
	sealRecord(buf, n)
	head := len(buf)
	live := make(map[uint64]loc, max(2*len(entries), 1024))
	var open int64
	if len(entries) > 0 {
		buf = append(buf, make([]byte, recordHeader)...)
		for _, e := range entries {
			buf = appendPut(buf, e.id, e.entry)
			st := State(e.entry[1])
			live[e.id] = loc{at: int64(len(buf) - len(e.entry)), n: uint32(len(e.entry)), state: st}
			if st != GaveUp {
				open++
			}
		}
		sealRecord(buf[head:], n)
	}
	fail := func(err error) error {
		f.Close()
		return fmt.Errorf("journal: starting segment %s: %w", f.Name(), err)
	}
	if _, err := f.WriteAt(buf, 0); err != nil {
		return fail(err)
	}
	if !j.opts.NoSync {
		if err := datasync(f); err != nil {
			return fail(err)
		}
		if err := syncDir(j.dir); err != nil {
			return fail(err)
		}
	}
	j.liveMu.Lock()
	old := j.f
	j.f, j.live = f, live
	j.liveMu.Unlock()
	j.seg, j.off = n, int64(len(buf))
	// A checkpoint bigger than a segment would otherwise rotate at every
	// commit.
	j.rotateAt = max(j.opts.SegmentSize, 2*int64(len(buf)))
	j.open.Store(open)
	if old != nil {
		if err := retire(j.dir, old); err != nil {
			return fmt.Errorf("journal: retiring %s: %w", old.Name(), err)
		}
	}
	return nil
}

// rotate replaces the full current segment.
func (j *Journal) rotate() error {
	j.liveMu.Lock()
	entries := make([]liveEntry, 0, len(j.live))
	var err error
	for id, l := range j.live {
		e := make([]byte, l.n)
		if _, err = j.f.ReadAt(e, l.at); err != nil {
			break
		}
		entries = append(entries, liveEntry{id, e})
	}
	j.liveMu.Unlock()
	if err != nil {
		return fmt.Errorf("journal: reading %s for its checkpoint: %w", j.f.Name(), err)
	}
	slices.SortFunc(entries, func(a, b liveEntry) int { return cmpID(a.id, b.id) })
	return j.startSegment(j.seg+1, entries)
}

// Notify sets what is told, from the journal's goroutine once per group
// commit, which Begins are on disk (err nil) or were kept off it. Set it
// before the first Begin.
func (j *Journal) Notify(fn func(batch []Begun, err error)) {
	j.mu.Lock()
	j.notify = fn
	j.mu.Unlock()
}

// Begin records a purchase about to be sent and returns its id; the
// purchase comes back with tag through Notify once the record is on
// disk. msg is copied. An error means the journal takes nothing (closed,
// or failed before).
func (j *Journal) Begin(msg []byte, tag any) (uint64, error) {
	j.mu.Lock()
	if err := j.refusal(); err != nil {
		j.mu.Unlock()
		return 0, err
	}
	id := j.next.Add(1)
	j.rec = appendPutEntry(j.rec, id, Sent, 0, time.Time{}, "", msg)
	j.waiting = append(j.waiting, Begun{id, tag})
	kick := j.queuedLocked(true)
	j.mu.Unlock()
	if kick {
		j.wake()
	}
	return id, nil
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

// queue adds an operation; after Close or a failure it is dropped (what
// it would have recorded is recovered from the journal as it stands).
func (j *Journal) queue(urgent bool, add func([]byte) []byte) {
	j.mu.Lock()
	if j.refusal() != nil {
		j.mu.Unlock()
		return
	}
	j.rec = add(j.rec)
	kick := j.queuedLocked(urgent)
	lazy := !urgent && !j.kicked && !j.lazyArmed
	if lazy {
		j.lazyArmed = true
	}
	j.mu.Unlock()
	if kick {
		j.wake()
	}
	if lazy {
		select {
		case j.lazy <- struct{}{}:
		default:
		}
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

// writer commits what is queued, a record per wake-up: what arrives
// while it writes and syncs goes into the next.
func (j *Journal) writer() {
	defer close(j.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-j.kick:
		case <-j.lazy:
			timer.Reset(settleDelay)
			continue
		case <-timer.C:
		}
		timer.Stop()
		j.mu.Lock()
		rec, waiting, upTo, closed, failed := j.rec, j.waiting, j.queued, j.closed, j.err
		j.rec, j.waiting = j.spareRec, j.spareWaiting
		j.spareRec, j.spareWaiting = nil, nil
		j.kicked, j.lazyArmed = false, false
		notify := j.notify
		j.mu.Unlock()

		err := failed
		if err == nil && len(rec) > recordHeader {
			if err = j.commit(rec); err != nil {
				j.fail(err) // before notify: whoever hears of it finds Begin refusing
			}
		}
		if notify != nil && len(waiting) > 0 {
			notify(waiting, err)
		}
		// The commit's purchases are on their way; a segment to replace
		// is replaced after, off their path.
		if err == nil && j.off >= j.rotateAt {
			if err := j.rotate(); err != nil {
				j.fail(err)
			}
		}
		clear(waiting)
		j.mu.Lock()
		j.spareRec, j.spareWaiting = rec[:recordHeader], waiting[:0]
		j.durable = upTo
		j.flushed.Broadcast()
		j.mu.Unlock()
		if closed {
			return
		}
	}
}

func (j *Journal) fail(err error) {
	j.mu.Lock()
	if j.err == nil {
		j.err = err
	}
	j.mu.Unlock()
}

// commit writes and syncs one record, then updates the live entries.
func (j *Journal) commit(rec []byte) error {
	sealRecord(rec, j.seg)
	if _, err := j.f.WriteAt(rec, j.off); err != nil {
		return fmt.Errorf("journal: writing %s: %w", j.f.Name(), err)
	}
	if !j.opts.NoSync {
		if err := datasync(j.f); err != nil {
			return fmt.Errorf("journal: syncing %s: %w", j.f.Name(), err)
		}
	}
	base := j.off
	j.off += int64(len(rec))
	var ops, open int64
	j.liveMu.Lock()
	err := eachOp(rec[recordHeader:], func(kind byte, id uint64, entry []byte, at int) {
		ops++
		old, had := j.live[id]
		if had && old.state != GaveUp {
			open--
		}
		if kind == opSettle {
			delete(j.live, id)
			return
		}
		st := State(entry[1])
		j.live[id] = loc{at: base + recordHeader + int64(at), n: uint32(len(entry)), state: st}
		if st != GaveUp {
			open++
		}
	})
	j.liveMu.Unlock()
	j.open.Add(open)
	j.commits.Add(1)
	j.nops.Add(ops)
	if err != nil {
		return fmt.Errorf("journal: own record: %w", err)
	}
	return nil
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

// Stats are the journal's figures.
type Stats struct {
	Commits, Ops int64
	Open         int // purchases and reversals not settled
}

// Stats reads the figures (atomics; cheap).
func (j *Journal) Stats() Stats {
	return Stats{Commits: j.commits.Load(), Ops: j.nops.Load(), Open: int(j.open.Load())}
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
	if j.err != nil {
		return j.err
	}
	if err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}
