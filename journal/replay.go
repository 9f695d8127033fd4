package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// listSegments returns the numbers of the segments in dir, oldest first.
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

// ErrDamaged is what Open returns, wrapped in a *Damage, for a journal
// that is not as a crash leaves one: it holds records nobody may forget,
// so the gateway must not start as if they were not there.
var ErrDamaged = errors.New("journal: damaged")

// Damage says where a journal is damaged and how.
type Damage struct {
	File   string // the segment (or the directory, for a missing one)
	Offset int64  // where in File the damage starts (-1: the whole file)
	What   string
	// Resumes is where intact records start again after the damage (-1:
	// none follow in File).
	Resumes int64
}

func (d *Damage) Error() string {
	s := "journal: damaged: " + d.File
	if d.Offset >= 0 {
		s += " at offset " + strconv.FormatInt(d.Offset, 10)
	}
	s += ": " + d.What
	if d.Resumes >= 0 {
		s += "; intact records resume at offset " + strconv.FormatInt(d.Resumes, 10)
	}
	return s
}

func (d *Damage) Unwrap() error { return ErrDamaged }

// replayed is what the segments hold.
type replayed struct {
	entries []liveEntry // live, by id
	next    uint64      // the highest id seen
	skipped []*Damage   // damage passed over (skip only)
	damaged []string    // segment files with damage, kept aside at Open
}

// replay reads the segments in order and returns the live entries. A
// torn tail (a last record cut short by a crash, which nothing had
// acknowledged) ends a segment quietly. Damage is an error, unless skip:
// then the intact records before and after it are replayed and the
// damage reported in skipped.
func replay(dir string, segs []uint64, current uint64, skip bool) (replayed, error) {
	var out replayed
	entries := map[uint64][]byte{}
	if current != 0 && !slices.Contains(segs, current) {
		d := &Damage{File: filepath.Join(dir, segmentName(current)), Offset: -1, Resumes: -1,
			What: "the current segment is missing (" + currentName + " names it)"}
		if !skip {
			return out, d
		}
		out.skipped = append(out.skipped, d)
	}
	for _, n := range segs {
		path := filepath.Join(dir, segmentName(n))
		data, err := os.ReadFile(path)
		if err != nil {
			d := &Damage{File: path, Offset: -1, Resumes: -1, What: "unreadable: " + err.Error()}
			if !skip {
				return out, d
			}
			out.skipped = append(out.skipped, d)
			out.damaged = append(out.damaged, path)
			continue
		}
		ds, err := replaySegment(path, data, n, entries, &out.next)
		if err != nil {
			return out, err
		}
		if len(ds) > 0 {
			if !skip {
				return out, ds[0]
			}
			out.skipped = append(out.skipped, ds...)
			out.damaged = append(out.damaged, path)
		}
	}
	out.entries = make([]liveEntry, 0, len(entries))
	for id, e := range entries {
		out.entries = append(out.entries, liveEntry{id, e})
	}
	slices.SortFunc(out.entries, func(a, b liveEntry) int { return cmpID(a.id, b.id) })
	return out, nil
}

// replaySegment applies the intact records of one segment to entries
// and returns the damage found (each with where records resume, which
// replay goes on from). An error is one no skipping can pass: none now.
func replaySegment(path string, data []byte, seg uint64, entries map[uint64][]byte, next *uint64) ([]*Damage, error) {
	var damage []*Damage
	head, ok := readRecord(data, 0, seg)
	version := 0
	if ok {
		version = headerVersion(head.payload)
	}
	at := int64(0)
	switch {
	case version == 1:
		// A segment of an earlier build: its end is its first bad record
		// (it left no mark of where it ended, so nothing more is known).
		*next = max(*next, binary.BigEndian.Uint64(head.payload[len(magicV1):]))
		for at = head.end; ; {
			r, ok := readRecord(data, at, seg)
			if !ok {
				return nil, nil
			}
			if d := applyRecord(path, r, entries, next); d != nil {
				return []*Damage{d}, nil
			}
			at = r.end
		}
	case version == 2:
		*next = max(*next, binary.BigEndian.Uint64(head.payload[len(magic):]))
		at = head.end
	default:
		// A named segment always opens with its header: it was written
		// and synced before the file got its name.
		what := "no segment header"
		if len(data) == 0 {
			what = "empty file"
		}
		d := &Damage{File: path, Offset: 0, What: what, Resumes: resync(data, 1, seg)}
		damage = append(damage, d)
		if d.Resumes < 0 {
			return damage, nil
		}
		at = d.Resumes
	}
	for {
		r, ok := readRecord(data, at, seg)
		if ok {
			if d := applyRecord(path, r, entries, next); d != nil {
				d.Resumes = resync(data, r.end, seg)
				damage = append(damage, d)
				if d.Resumes < 0 {
					return damage, nil
				}
				at = d.Resumes
				continue
			}
			at = r.end
			continue
		}
		// The end, a torn last record, or damage: only damage has intact
		// records after it, or a length no commit could have written.
		resumes := resync(data, at+1, seg)
		var what string
		switch {
		case at+recordHeader > int64(len(data)):
			// Every commit leaves its end mark, in one write with it: a
			// crash of the gateway cannot part them, so the file was cut.
			what = "the segment ends without its end mark (the file was cut short)"
		case isTerminator(data[at:]):
			if resumes < 0 {
				return damage, nil // the mark the last commit left
			}
			what = "records after the end mark"
		case int64(binary.BigEndian.Uint32(data[at+4:])) > int64(len(data))-at-recordHeader:
			what = "a record length past the end of the segment"
		case resumes < 0:
			return damage, nil // torn: the commit that wrote it was never acknowledged
		default:
			what = "a record that fails its checksum"
		}
		d := &Damage{File: path, Offset: at, What: what, Resumes: resumes}
		damage = append(damage, d)
		if resumes < 0 {
			return damage, nil
		}
		at = resumes
	}
}

// applyRecord applies one record's operations; a record that reads but
// holds a malformed operation is damage (its checksum held: it was
// written so, by a build that should not exist).
func applyRecord(path string, r record, entries map[uint64][]byte, next *uint64) *Damage {
	var bad error
	err := eachOp(r.payload, func(kind byte, id uint64, entry []byte, _ int) {
		*next = max(*next, id)
		if kind == opSettle {
			delete(entries, id)
			return
		}
		if _, err := decodeEntry(id, entry); err != nil {
			bad = err
			return
		}
		entries[id] = bytes.Clone(entry)
	})
	if err == nil {
		err = bad
	}
	if err == nil {
		return nil
	}
	return &Damage{File: path, Offset: r.at, What: "record: " + err.Error(), Resumes: -1}
}

// record is one record read from a segment: its payload (a sub-slice of
// the segment's bytes) and where it starts and ends.
type record struct {
	payload []byte
	at, end int64
}

// readRecord reads the record at off of segment seg's data, if an intact
// one is there. A length is believed only as far as the data goes, so a
// damaged one allocates nothing.
func readRecord(data []byte, off int64, seg uint64) (record, bool) {
	if off < 0 || off+recordHeader > int64(len(data)) {
		return record{}, false
	}
	n := int64(binary.BigEndian.Uint32(data[off+4:]))
	if n == 0 || n > int64(len(data))-off-recordHeader {
		return record{}, false
	}
	body := data[off+4 : off+recordHeader+n]
	if binary.BigEndian.Uint32(data[off:]) != recordSum(seg, body) {
		return record{}, false
	}
	return record{payload: body[4:], at: off, end: off + recordHeader + n}, true
}

// resync finds the next intact record at or after from that is no
// header (-1: none), by trying every offset: the only way past damage,
// and what tells damage (records follow) from a torn tail (none do).
func resync(data []byte, from int64, seg uint64) int64 {
	for p := max(from, 0); p+recordHeader+settleFixed <= int64(len(data)); p++ {
		n := int64(binary.BigEndian.Uint32(data[p+4:]))
		if n < settleFixed || n > int64(len(data))-p-recordHeader {
			continue
		}
		if k := data[p+recordHeader]; k != opPut && k != opSettle {
			continue
		}
		if _, ok := readRecord(data, p, seg); ok {
			return p
		}
	}
	return -1
}

func isTerminator(b []byte) bool {
	return len(b) >= recordHeader && binary.BigEndian.Uint64(b) == 0
}

// headerVersion: 2 for this build's header, 1 for an earlier build's, 0
// for none.
func headerVersion(p []byte) int {
	switch {
	case len(p) == len(magic)+8 && bytes.Equal(p[:len(magic)], magic):
		return 2
	case len(p) == len(magicV1)+8 && bytes.Equal(p[:len(magicV1)], magicV1):
		return 1
	}
	return 0
}

// currentName is the file naming the segment in use: a journal whose
// current segment is gone (deleted) would otherwise read as empty.
const currentName = "current"

// readCurrent returns the segment the journal in dir last named current
// (0: none named, as in a new journal or one of an earlier build).
func readCurrent(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, currentName))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	n, ok := segmentNumber(strings.TrimSpace(string(b)))
	if !ok {
		return 0, &Damage{File: filepath.Join(dir, currentName), Offset: 0, Resumes: -1, What: "does not name a segment"}
	}
	return n, nil
}

// writeCurrent names segment n current, durably (a new file renamed
// over the old).
func writeCurrent(dir string, n uint64, sync bool) error {
	tmp := filepath.Join(dir, currentName+".new")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(segmentName(n) + "\n")
	return publish(f, err, tmp, filepath.Join(dir, currentName), sync)
}

// publish finishes a file written under a name of its own (err: how the
// writing went): synced, closed, renamed to its name, the directory
// synced, so that under its name it is whole or absent.
func publish(f *os.File, err error, from, to string, sync bool) error {
	if err == nil && sync {
		err = datasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(from, to)
	}
	if err == nil && sync {
		err = syncDir(filepath.Dir(to))
	}
	return err
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
