package journal

import (
	"encoding/binary"
	"fmt"
	"time"
)

// State is where a purchase stands.
type State uint8

const (
	// Sent: sent to the bank, no answer recorded.
	Sent State = iota + 1
	// Reversing: a reversal is due or under way.
	Reversing
	// GaveUp: a reversal ran out of tries; kept for an operator.
	GaveUp
)

// Entry is one live record.
type Entry struct {
	ID     uint64
	State  State
	Tries  int
	Next   time.Time
	Reason string
	// Msg is the original 0200 (card data: never logged unmasked).
	Msg []byte
}

// An entry on disk:
//
//	+---------+-------+--------+------------+--------+--------+---------+
//	| version | state | tries  | next try   | reason | reason | message |
//	| 1 byte  | 1     | 2 (BE) | 8 (BE, ns) | len 1  | n      | rest    |
//	+---------+-------+--------+------------+--------+--------+---------+
const (
	entryVersion = 1
	entryFixed   = 13
)

func appendEntry(dst []byte, state State, tries int, next time.Time, reason string, msg []byte) []byte {
	if len(reason) > 255 {
		reason = reason[:255]
	}
	var ns int64
	if !next.IsZero() {
		ns = next.UnixNano()
	}
	dst = append(dst, entryVersion, byte(state))
	dst = binary.BigEndian.AppendUint16(dst, uint16(tries))
	dst = binary.BigEndian.AppendUint64(dst, uint64(ns))
	dst = append(dst, byte(len(reason)))
	dst = append(dst, reason...)
	return append(dst, msg...)
}

func decodeEntry(id uint64, v []byte) (Entry, error) {
	if len(v) < entryFixed || v[0] != entryVersion {
		return Entry{}, fmt.Errorf("journal: entry %d: unknown format", id)
	}
	e := Entry{ID: id, State: State(v[1]), Tries: int(binary.BigEndian.Uint16(v[2:4]))}
	if e.State < Sent || e.State > GaveUp {
		return Entry{}, fmt.Errorf("journal: entry %d: state %d", id, v[1])
	}
	if ns := int64(binary.BigEndian.Uint64(v[4:12])); ns != 0 {
		e.Next = time.Unix(0, ns)
	}
	n := int(v[12])
	if len(v) < entryFixed+n {
		return Entry{}, fmt.Errorf("journal: entry %d: truncated", id)
	}
	e.Reason = string(v[entryFixed : entryFixed+n])
	e.Msg = append([]byte(nil), v[entryFixed+n:]...)
	return e, nil
}
