package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// writer commits what is queued, a record per wake-up: what arrives
// while it writes and syncs goes into the next. After a failure it holds
// what it could not write (held) and tries every RetryEvery to start a
// new segment with it; at Close, once more, and then keeps the settles
// beside the journal (unrecorded.go).
func (j *Journal) writer() {
	defer close(j.done)
	defer j.lazy.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		retrying := false
		select {
		case <-j.kick:
		case <-retry.C:
			retrying = true
		case <-j.failedHere:
			retry.Reset(j.opts.RetryEvery)
			continue
		}
		j.cmu.Lock()
		t, _ := j.take(false)
		again := j.commitTaken(t, retrying, true)
		j.cmu.Unlock()
		if again {
			retry.Reset(j.opts.RetryEvery)
		}
		if t.closed {
			return
		}
	}
}

// taken is what one commit takes from the queue.
type taken struct {
	rec     []byte
	waiting []Begun
	upTo    uint64
	closed  bool
	failed  error
	notify  func([]Begun, error)
	onState func(error)
}

// take takes what is queued for a commit, under cmu. here: for a
// commit by Wake's caller, told through NotifyHere's callback if set,
// and only while the journal is neither closed nor failed (those are
// the writer's), reported by ok.
func (j *Journal) take(here bool) (t taken, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if here && (j.closed || j.err != nil) {
		return taken{}, false
	}
	t = taken{rec: j.rec, waiting: j.waiting, upTo: j.queued, closed: j.closed, failed: j.err,
		notify: j.notify, onState: j.onState}
	if here && j.notifyHere != nil {
		t.notify = j.notifyHere
	}
	j.rec, j.waiting = j.spareRec, j.spareWaiting
	j.spareRec, j.spareWaiting = nil, nil
	if j.lazyArmed {
		j.lazy.Stop()
	}
	j.kicked, j.lazyArmed = false, false
	j.unwoken.Store(false) // what BeginLater queued goes in this commit
	return t, true
}

// commitTaken writes t, tells its Begins, and applies it to the index,
// under cmu; rotate: a full segment is replaced here too (else the
// caller has the writer do it). It reports whether the journal failed
// and is to try again in RetryEvery.
func (j *Journal) commitTaken(t taken, retrying, rotate bool) (again bool) {
	rec, waiting, notify, onState, closed := t.rec, t.waiting, t.notify, t.onState, t.closed
	err := t.failed
	if err != nil {
		// Begin refuses now; what was queued before it did, and every
		// settle since, waits in held.
		j.hold(rec, waiting)
		if notify != nil && len(waiting) > 0 {
			notify(waiting, err)
		}
		if retrying || closed {
			if rerr := j.recover(); rerr == nil {
				err = nil
				if onState != nil {
					onState(nil)
				}
			} else if !closed {
				again = true
			}
		}
		if err != nil && closed {
			j.keepUnrecorded()
		}
	} else {
		base, written := j.off, false
		if len(rec) > recordHeader {
			if err = j.commit(rec); err != nil {
				j.fail(err) // before notify: whoever hears of it finds Begin refusing
				j.hold(rec, waiting)
			}
			written = err == nil
		}
		if notify != nil && len(waiting) > 0 {
			notify(waiting, err)
		}
		if written {
			if err = j.index(rec, base); err != nil {
				j.fail(err)
			}
		}
		// The commit's purchases are on their way; a segment to
		// replace is replaced after, off their path.
		if err == nil && rotate && j.off >= j.rotateAt {
			if err = j.rotate(); err != nil {
				j.fail(err)
			}
		}
		if err != nil {
			if onState != nil {
				onState(err)
			}
			if closed {
				if j.recover() != nil {
					j.keepUnrecorded()
				}
			} else {
				again = true
			}
		}
	}
	clear(waiting)
	j.mu.Lock()
	j.spareRec, j.spareWaiting = rec[:recordHeader], waiting[:0]
	j.durable = t.upTo
	j.flushed.Broadcast()
	j.mu.Unlock()
	return again
}

// commitHere commits what is queued on the caller's goroutine, if no
// other commit is under way and the journal is healthy, and reports
// whether it did. A failure is the writer's to retry; a full segment
// the writer's to replace.
func (j *Journal) commitHere() bool {
	if !j.cmu.TryLock() {
		return false
	}
	t, ok := j.take(true)
	if !ok {
		j.cmu.Unlock()
		return false
	}
	again := j.commitTaken(t, false, false)
	full := j.off >= j.rotateAt
	j.cmu.Unlock()
	if again {
		select {
		case j.failedHere <- struct{}{}:
		default:
		}
	}
	if full {
		j.kickWriter()
	}
	return true
}

func (j *Journal) fail(err error) {
	j.mu.Lock()
	if j.err == nil {
		j.err = err
	}
	j.mu.Unlock()
}

// commit writes and syncs one record, and the end mark after it.
func (j *Journal) commit(rec []byte) error {
	sealRecord(rec, j.seg)
	n := len(rec)
	start := j.opts.Clock.Now()
	// In the same write: a crash cannot part a record from its mark.
	_, err := j.f.WriteAt(append(rec, endMark[:]...), j.off)
	if err != nil {
		j.unwrite()
		return fmt.Errorf("journal: writing %s: %w", j.path, err)
	}
	if !j.opts.NoSync {
		if err := datasync(j.f); err != nil {
			j.unwrite()
			return fmt.Errorf("journal: syncing %s: %w", j.path, err)
		}
	}
	j.off += int64(n)
	j.writeNanos.Add(int64(j.opts.Clock.Now().Sub(start)))
	j.writes.Add(1)
	return nil
}

// unwrite puts the end mark back where a failed commit began (a full
// disk takes part of a write): the segment then ends where it did, not
// in a record no reader could tell from damage. Its blocks are there, so
// this needs no room.
func (j *Journal) unwrite() {
	if _, err := j.f.WriteAt(endMark[:], j.off); err == nil && !j.opts.NoSync {
		_ = datasync(j.f)
	}
}

// endMark follows the last record of a segment.
var endMark [recordHeader]byte

// index applies a committed record, written at base, to the live
// entries. It runs after the commit's purchases are told, off their path,
// and before the next commit.
func (j *Journal) index(rec []byte, base int64) error {
	var ops, open int64
	j.liveMu.Lock()
	err := eachOp(rec[recordHeader:], func(kind byte, id uint64, entry []byte, at int) {
		ops++
		if kind != opSettle && id > j.indexed {
			j.indexed = id // a new purchase: no entry to look up
		} else {
			old, had := j.live[id]
			if had && old.state != GaveUp {
				open--
			}
			if kind == opSettle {
				delete(j.live, id)
				return
			}
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
	path := filepath.Join(j.dir, segmentName(n))
	fail := func(err error) error {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("journal: starting segment %s: %w", path, err)
	}
	size := len(buf)
	if _, err := f.WriteAt(append(buf, endMark[:]...), 0); err != nil {
		return fail(err)
	}
	if !j.opts.NoSync {
		if err := datasync(f); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fail(err)
	}
	if !j.opts.NoSync {
		if err := syncDir(j.dir); err != nil {
			f.Close()
			return fmt.Errorf("journal: starting segment %s: %w", path, err)
		}
	}
	if err := writeCurrent(j.dir, n, !j.opts.NoSync); err != nil {
		f.Close()
		return fmt.Errorf("journal: naming segment %s current: %w", path, err)
	}
	j.liveMu.Lock()
	old, oldPath := j.f, j.path
	j.f, j.live, j.path = f, live, path
	j.liveMu.Unlock()
	j.seg, j.off = n, int64(size)
	// A checkpoint bigger than a segment would otherwise rotate at every
	// commit.
	j.rotateAt = max(j.opts.SegmentSize, 2*int64(len(buf)))
	j.open.Store(open)
	if old != nil {
		if err := retire(j.dir, oldPath, old); err != nil {
			return fmt.Errorf("journal: retiring %s: %w", oldPath, err)
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
		return fmt.Errorf("journal: reading %s for its checkpoint: %w", j.path, err)
	}
	slices.SortFunc(entries, func(a, b liveEntry) int { return cmpID(a.id, b.id) })
	return j.startSegment(j.seg+1, entries)
}
