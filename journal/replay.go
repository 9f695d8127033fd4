package journal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
