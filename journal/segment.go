package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A segment is a file of records:
//
//	+-------------+-----------+---------+
//	| crc32c      | length    | payload |
//	| 4 (BE)      | 4 (BE)    | length  |
//	+-------------+-----------+---------+
//
// The checksum covers the segment's number (8 bytes, BE), the length and
// the payload. The number is in it so that a record left over from a
// recycled file's earlier life fails like a torn one. The first record
// is the header: "SQJ2" and the next id. Every commit is followed by an
// end mark (8 zero bytes) that the next commit overwrites, so the end of
// the records is known whatever the file held before: a bad record that
// is not the mark, with a length past the file or intact records after
// it, is damage, not a torn tail. ("SQJ1" segments, of an earlier build,
// have no mark.)
//
// A segment is written under a temporary name, header and checkpoint
// synced, before it is renamed to its own: a named segment always has
// its header. The file "current" names the segment in use.
//
// A payload is a run of operations:
//
//	put:    1, id (8, BE), n (4, BE), entry (n bytes, entry.go)
//	settle: 2, id (8, BE)
const (
	recordHeader = 8

	opPut    = 1
	opSettle = 2

	putFixed    = 13
	settleFixed = 9
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	magic      = []byte("SQJ2")
	magicV1    = []byte("SQJ1")
	errBadOp   = errors.New("malformed operation")
)

const (
	segmentSuffix = ".wal"
	spareName     = "spare" + segmentSuffix + ".free"
)

func segmentName(n uint64) string {
	s := strconv.FormatUint(n, 16)
	return strings.Repeat("0", 16-len(s)) + s + segmentSuffix
}

func segmentNumber(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	return n, err == nil && n > 0
}

// sealRecord fills the header of rec, whose first recordHeader bytes
// were reserved for it, for segment seg.
func sealRecord(rec []byte, seg uint64) {
	binary.BigEndian.PutUint32(rec[4:8], uint32(len(rec)-recordHeader))
	binary.BigEndian.PutUint32(rec[0:4], recordSum(seg, rec[4:]))
}

func recordSum(seg uint64, lengthAndPayload []byte) uint32 {
	return crc32.Update(segSum(seg), castagnoli, lengthAndPayload)
}

// segSum is the checksum of seg's 8 bytes, big-endian, a byte at a
// time: the bytes as a slice would escape through crc32's assembly, an
// allocation per commit.
func segSum(seg uint64) uint32 {
	crc := ^uint32(0)
	for shift := 56; shift >= 0; shift -= 8 {
		crc = castagnoli[byte(crc)^byte(seg>>shift)] ^ crc>>8
	}
	return ^crc
}

func appendHeader(dst []byte, next uint64) []byte {
	dst = append(dst, make([]byte, recordHeader)...)
	dst = append(dst, magic...)
	return binary.BigEndian.AppendUint64(dst, next)
}

func appendPut(dst []byte, id uint64, entry []byte) []byte {
	dst = append(dst, opPut)
	dst = binary.BigEndian.AppendUint64(dst, id)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(entry)))
	return append(dst, entry...)
}

func appendSettle(dst []byte, id uint64) []byte {
	dst = append(dst, opSettle)
	return binary.BigEndian.AppendUint64(dst, id)
}

// eachOp calls fn for each operation of payload; entry is nil for a
// settle, at is where entry starts in payload.
func eachOp(payload []byte, fn func(kind byte, id uint64, entry []byte, at int)) error {
	for i := 0; i < len(payload); {
		kind := payload[i]
		switch {
		case kind == opSettle && i+settleFixed <= len(payload):
			fn(kind, binary.BigEndian.Uint64(payload[i+1:]), nil, 0)
			i += settleFixed
		case kind == opPut && i+putFixed <= len(payload):
			id := binary.BigEndian.Uint64(payload[i+1:])
			n := int(binary.BigEndian.Uint32(payload[i+9:]))
			at := i + putFixed
			if n > len(payload)-at {
				return fmt.Errorf("%w at %d", errBadOp, i)
			}
			fn(kind, id, payload[at:at+n], at)
			i = at + n
		default:
			return fmt.Errorf("%w at %d", errBadOp, i)
		}
	}
	return nil
}

// createSegment makes the file of a new segment n under its temporary
// name: the spare if there is one (its blocks are written, so syncs
// carry no size change), else a new file zero-filled to size for the
// same reason. startSegment names it once its header is on disk.
func createSegment(dir string, n uint64, size int64, fill bool) (*os.File, error) {
	path := filepath.Join(dir, segmentName(n)+newSuffix)
	if err := os.Rename(filepath.Join(dir, spareName), path); err == nil {
		f, err := os.OpenFile(path, os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		return f, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if fill {
		if err := zeroFill(f, size); err != nil {
			f.Close()
			os.Remove(path)
			return nil, fmt.Errorf("journal: preparing %s: %w", path, err)
		}
	}
	return f, nil
}

// newSuffix marks a segment being prepared; one left by a crash holds
// nothing acknowledged.
const newSuffix = ".new"

func zeroFill(f *os.File, size int64) error {
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	return datasync(f)
}

// retire keeps a finished segment, whose file f is at path, as the
// spare, or removes it when there is one already.
func retire(dir, path string, f *os.File) error {
	if f != nil {
		f.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, spareName)); err == nil {
		return os.Remove(path)
	}
	return os.Rename(path, filepath.Join(dir, spareName))
}

// syncDir makes the directory's entries (a new segment's name) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
