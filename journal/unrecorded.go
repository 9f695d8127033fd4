package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A journal that cannot write (a full disk, an I/O error) refuses new
// purchases, but the purchases already at the bank still get answers,
// and an answer that reached its client must not be forgotten: the next
// start would reverse a purchase the merchant was paid for. So the
// writer holds every operation it could not write (held, in memory) and
// writes it first, after the live entries, into a new segment as soon
// as it can (recover). At Close, if it still cannot, it keeps the settles
// in "unrecorded" beside the segments, written into a file reserved at
// Open so that it needs no new space; Open applies them.
//
// What a crash (kill -9, power cut) while the journal cannot write
// loses is what was held: those purchases are reversed at the next
// start. The gateway logs each one as it is answered (with its journal
// id), so that an operator can tell them apart.

const (
	unrecordedName = "unrecorded"
	reserveName    = "reserve"
	// reserveSize holds some 29 000 settles: more purchases than a
	// gateway holds in flight.
	reserveSize = 256 << 10
	// maxHeld bounds held: settles are always kept (there are no more
	// than purchases open), updates of reversals past it are not (the
	// purchase is still reversed from its first record).
	maxHeld = 64 << 20
)

// hold keeps the operations of rec, a record the writer could not write,
// for when it can, less the purchases of waiting (refused: never sent),
// for which it keeps settles instead, in case their record got to the
// disk after all.
func (j *Journal) hold(rec []byte, waiting []Begun) {
	refused := make([]uint64, 0, len(waiting))
	for _, b := range waiting {
		refused = append(refused, b.ID)
	}
	if len(rec) > recordHeader {
		_ = eachOp(rec[recordHeader:], func(kind byte, id uint64, entry []byte, _ int) {
			switch {
			case kind == opSettle:
				j.held = appendSettle(j.held, id)
			case len(entry) > 1 && State(entry[1]) == Sent && slices.Contains(refused, id):
			case len(j.held)+putFixed+len(entry) > maxHeld:
				j.heldDropped++
			default:
				j.held = appendPut(j.held, id, entry)
			}
		})
	}
	for _, id := range refused {
		j.held = appendSettle(j.held, id)
	}
}

// recover starts a new segment with the live entries and writes what
// is held after them; once both are on disk, Begin takes purchases
// again.
func (j *Journal) recover() error {
	if err := j.rotate(); err != nil {
		return err
	}
	if len(j.held) > 0 {
		rec := make([]byte, recordHeader, recordHeader+len(j.held)+recordHeader)
		rec = append(rec, j.held...)
		base := j.off
		if err := j.commit(rec); err != nil {
			return err
		}
		if err := j.index(rec, base); err != nil {
			return err
		}
		j.held = j.held[:0]
	}
	j.mu.Lock()
	j.err = nil
	j.mu.Unlock()
	return nil
}

// heldSettles are the ids held settled.
func (j *Journal) heldSettles() []uint64 {
	var ids []uint64
	_ = eachOp(j.held, func(kind byte, id uint64, _ []byte, _ int) {
		if kind == opSettle {
			ids = append(ids, id)
		}
	})
	return ids
}

// keepUnrecorded writes the held settles to "unrecorded", at Close of a
// journal that still cannot write; what it cannot keep, it names in the
// error Close returns.
func (j *Journal) keepUnrecorded() {
	ids := j.heldSettles()
	if len(ids) == 0 {
		return
	}
	if err := writeUnrecorded(j.dir, ids, !j.opts.NoSync); err != nil {
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = strconv.FormatUint(id, 10)
		}
		j.closeErr = fmt.Errorf("journal: %d purchases were answered but neither the journal nor %s could record it (%w); "+
			"the next start reverses them unless they are settled by hand: journal ids %s",
			len(ids), unrecordedName, err, strings.Join(names, " "))
		return
	}
	j.closeErr = fmt.Errorf("journal: could not write (%w); the %d answers it held are kept in %s for the next start",
		j.failure(), len(ids), filepath.Join(j.dir, unrecordedName))
}

func (j *Journal) failure() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// writeUnrecorded writes the settles of ids as one record (sealed for
// segment 0) into the reserve file, which needs no new blocks, then names
// it "unrecorded".
func writeUnrecorded(dir string, ids []uint64, sync bool) error {
	rec := make([]byte, recordHeader, recordHeader+settleFixed*len(ids)+recordHeader)
	for _, id := range ids {
		rec = appendSettle(rec, id)
	}
	sealRecord(rec, 0)
	rec = append(rec, endMark[:]...)
	path := filepath.Join(dir, reserveName)
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(rec) > reserveSize {
		if f != nil {
			f.Close()
		}
		path = filepath.Join(dir, unrecordedName+newSuffix)
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	}
	if err != nil {
		return err
	}
	_, err = f.WriteAt(rec, 0)
	return publish(f, err, path, filepath.Join(dir, unrecordedName), sync)
}

// readUnrecorded returns the settles a Close kept in "unrecorded" (none
// when there is no such file).
func readUnrecorded(dir string) ([]uint64, error) {
	path := filepath.Join(dir, unrecordedName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	r, ok := readRecord(data, 0, 0)
	if !ok {
		return nil, &Damage{File: path, Offset: 0, Resumes: -1, What: "the answers kept at the last stop do not read"}
	}
	var ids []uint64
	err = eachOp(r.payload, func(kind byte, id uint64, _ []byte, _ int) {
		if kind == opSettle {
			ids = append(ids, id)
		}
	})
	if err != nil {
		return nil, &Damage{File: path, Offset: 0, Resumes: -1, What: err.Error()}
	}
	return ids, nil
}

// prepareReserve makes the reserve file if it is missing; without room
// for it the journal still opens (Close then needs new blocks to keep
// what it holds).
func prepareReserve(dir string) {
	path := filepath.Join(dir, reserveName)
	if st, err := os.Stat(path); err == nil && st.Size() >= reserveSize {
		return
	}
	tmp := path + newSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	err = zeroFill(f, reserveSize)
	f.Close()
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
}
