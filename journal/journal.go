package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// State is where a purchase stands.
type State uint8

const (
	// Sent: sent to the bank, no answer recorded.
	Sent State = iota + 1
	// Reversing: a reversal is due or under way.
	Reversing
)

// Entry is one record.
type Entry struct {
	ID     uint64
	State  State
	Tries  int
	Next   time.Time
	Reason string
	// Msg is the original 0200 (card data: never logged unmasked).
	Msg []byte
}

var (
	bucketOpen   = []byte("open")
	bucketGaveUp = []byte("gaveup")
)

const version = 1

// MaxBatch bounds the operations applied in one transaction.
const MaxBatch = 4096

// ErrClosed is returned for operations after Close.
var ErrClosed = errors.New("journal: closed")

type opKind uint8

const (
	opPut opKind = iota + 1
	opDelete
	opGiveUp
	opBarrier
)

type op struct {
	kind opKind
	id   uint64
	e    Entry
	done func(error)
}

// Journal is an open journal. Its methods are safe for concurrent use.
type Journal struct {
	db     *bolt.DB
	ops    chan op
	next   atomic.Uint64
	closed atomic.Bool
	mu     sync.RWMutex // held for reading while queueing, for writing by Close
	wg     sync.WaitGroup
	// Commits and Ops count transactions and the operations they carried.
	commits, nops atomic.Int64
}

// Options tune a journal.
type Options struct {
	// NoSync leaves each commit in the operating system's cache instead
	// of syncing it to the disk: it survives a crash or kill -9 of the
	// process, not a crash of the machine or a power cut.
	NoSync bool
}

// Open opens (or creates) the journal file at path.
func Open(path string, opts ...Options) (*Journal, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType,
		NoFreelistSync: true, NoSync: o.NoSync})
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	j := &Journal{db: db, ops: make(chan op, 1<<16)}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketOpen, bucketGaveUp} {
			bk, err := tx.CreateBucketIfNotExists(b)
			if err != nil {
				return err
			}
			if k, _ := bk.Cursor().Last(); len(k) == 8 && binary.BigEndian.Uint64(k) > j.next.Load() {
				j.next.Store(binary.BigEndian.Uint64(k))
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	j.wg.Add(1)
	go j.writer()
	return j, nil
}

// Begin records a purchase about to be sent and returns its id; done is
// called (from the journal's goroutine) once the record is on disk, or
// with the error that kept it off. msg must stay unchanged until then.
func (j *Journal) Begin(msg []byte, done func(id uint64, err error)) uint64 {
	id := j.next.Add(1)
	o := op{kind: opPut, id: id, e: Entry{ID: id, State: Sent, Msg: msg}}
	if done != nil {
		o.done = func(err error) { done(id, err) }
	}
	j.queue(o)
	return id
}

// Settle deletes a purchase that was answered or reversed.
func (j *Journal) Settle(id uint64) { j.queue(op{kind: opDelete, id: id}) }

// Reversing records that the purchase is to be reversed, with the tries
// made and when the next is due. done may be nil.
func (j *Journal) Reversing(e Entry, done func(error)) {
	e.State = Reversing
	j.queue(op{kind: opPut, id: e.ID, e: e, done: done})
}

// GiveUp moves a reversal that ran out of tries to the gaveup bucket.
func (j *Journal) GiveUp(e Entry) {
	e.State = Reversing
	j.queue(op{kind: opGiveUp, id: e.ID, e: e})
}

// Flush returns once everything queued before it is on disk.
func (j *Journal) Flush() error {
	ch := make(chan error, 1)
	j.queue(op{kind: opBarrier, done: func(err error) { ch <- err }})
	return <-ch
}

func (j *Journal) queue(o op) {
	j.mu.RLock()
	if j.closed.Load() {
		j.mu.RUnlock()
		if o.done != nil {
			o.done(ErrClosed)
		}
		return
	}
	j.ops <- o
	j.mu.RUnlock()
}

// writer applies queued operations a batch per transaction.
func (j *Journal) writer() {
	defer j.wg.Done()
	batch := make([]op, 0, 256)
	// bbolt keeps the value slices until commit, so each value gets its
	// own piece of arena; a reallocation leaves earlier pieces intact.
	var arena []byte
	for o := range j.ops {
		batch = append(batch[:0], o)
	more:
		for len(batch) < MaxBatch {
			select {
			case o, ok := <-j.ops:
				if !ok {
					break more
				}
				batch = append(batch, o)
			default:
				break more
			}
		}
		arena = arena[:0]
		err := j.db.Update(func(tx *bolt.Tx) error {
			open, gaveUp := tx.Bucket(bucketOpen), tx.Bucket(bucketGaveUp)
			var key [8]byte
			for i := range batch {
				o := &batch[i]
				binary.BigEndian.PutUint64(key[:], o.id)
				var err error
				switch o.kind {
				case opPut:
					start := len(arena)
					arena = encode(arena, o.e)
					err = open.Put(key[:], arena[start:len(arena):len(arena)])
				case opDelete:
					err = open.Delete(key[:])
				case opGiveUp:
					start := len(arena)
					arena = encode(arena, o.e)
					if err = open.Delete(key[:]); err == nil {
						err = gaveUp.Put(key[:], arena[start:len(arena):len(arena)])
					}
				}
				if err != nil {
					return fmt.Errorf("journal: record %d: %w", o.id, err)
				}
			}
			return nil
		})
		j.commits.Add(1)
		j.nops.Add(int64(len(batch)))
		for i := range batch {
			if batch[i].done != nil {
				batch[i].done(err)
			}
			batch[i] = op{}
		}
	}
}

func encode(dst []byte, e Entry) []byte {
	reason := e.Reason
	if len(reason) > 255 {
		reason = reason[:255]
	}
	dst = append(dst, version, byte(e.State))
	dst = binary.BigEndian.AppendUint16(dst, uint16(e.Tries))
	var next int64
	if !e.Next.IsZero() {
		next = e.Next.UnixNano()
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(next))
	dst = append(dst, byte(len(reason)))
	dst = append(dst, reason...)
	return append(dst, e.Msg...)
}

func decode(id uint64, v []byte) (Entry, error) {
	if len(v) < 13 || v[0] != version {
		return Entry{}, fmt.Errorf("journal: record %d: unknown format", id)
	}
	e := Entry{ID: id, State: State(v[1]), Tries: int(binary.BigEndian.Uint16(v[2:4]))}
	if ns := int64(binary.BigEndian.Uint64(v[4:12])); ns != 0 {
		e.Next = time.Unix(0, ns)
	}
	n := int(v[12])
	if len(v) < 13+n {
		return Entry{}, fmt.Errorf("journal: record %d: truncated", id)
	}
	e.Reason = string(v[13 : 13+n])
	e.Msg = append([]byte(nil), v[13+n:]...)
	return e, nil
}

// Pending returns every open and reversing record, oldest first. Call it
// at start, before queueing anything.
func (j *Journal) Pending() ([]Entry, error) {
	return j.list(bucketOpen)
}

// GaveUp returns the reversals given up on.
func (j *Journal) GaveUp() ([]Entry, error) { return j.list(bucketGaveUp) }

func (j *Journal) list(bucket []byte) ([]Entry, error) {
	var out []Entry
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("journal: key of %d bytes", len(k))
			}
			e, err := decode(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// Stats are the journal's figures.
type Stats struct {
	Commits, Ops int64
	Open         int // records in "open"
}

// Stats counts records (a read transaction; not for every message).
func (j *Journal) Stats() Stats {
	s := Stats{Commits: j.commits.Load(), Ops: j.nops.Load()}
	_ = j.db.View(func(tx *bolt.Tx) error {
		s.Open = tx.Bucket(bucketOpen).Stats().KeyN
		return nil
	})
	return s
}

// Close writes what is queued and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed.Swap(true) {
		j.mu.Unlock()
		return nil
	}
	close(j.ops)
	j.mu.Unlock()
	j.wg.Wait()
	if err := j.db.Close(); err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}
