package isocodec

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultKeyFields match a reply to its request: STAN and TID. Some hosts
// answer 0810 without field 41, so "11" alone is a valid choice too.
var DefaultKeyFields = []int{11, 41}

// MaxKey bounds a key's bytes, so a Key is a fixed-size comparable value
// that serves as a map key without allocating.
const MaxKey = 46

// Key is the values of the key fields of one message, each preceded by its
// length so that no two different messages share a key by accident. An
// absent field contributes a zero length.
type Key struct {
	n uint8
	b [MaxKey]byte
}

// Append adds fields' raw values from a scanned message.
func (k Key) Append(s *Scan, msg []byte, fields []int) Key {
	for _, id := range fields {
		raw := s.Raw(msg, id)
		if int(k.n)+1+len(raw) > MaxKey {
			raw = raw[:max(0, MaxKey-int(k.n)-1)] // ParseKeyFields rules this out
		}
		k.b[k.n] = byte(len(raw))
		k.n++
		k.n += uint8(copy(k.b[k.n:], raw))
	}
	return k
}

// Bytes is the key's encoding (length-prefixed values), for hashing.
func (k *Key) Bytes() []byte { return k.b[:k.n] }

// Len is the key's length in bytes.
func (k Key) Len() int { return int(k.n) }

// String shows the key's fields separated by '/', for logs (TID and STAN
// are not card data; ParseKeyFields refuses fields that are): as text
// where the wire carries printable ASCII (000337/00000038), in hex where
// it does not (BCD, binary).
func (k Key) String() string {
	var b strings.Builder
	for i := 0; i < int(k.n); {
		n := int(k.b[i])
		if i > 0 {
			b.WriteByte('/')
		}
		v := k.b[i+1 : i+1+n]
		if printable(v) {
			b.Write(v)
		} else {
			fmt.Fprintf(&b, "%x", v)
		}
		i += 1 + n
	}
	return b.String()
}

func printable(v []byte) bool {
	for _, c := range v {
		if c < 0x21 || c > 0x7e || c == '/' {
			return false
		}
	}
	return true
}

// ParseKeyFields reads queueMessageKeyFields ("11,41") and checks that the
// fields exist in the dialect, are not card data and fit in a Key.
func (d *Dialect) ParseKeyFields(s string) ([]int, error) {
	var out []int
	total := 0
	for _, part := range strings.Split(s, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("key fields %q: %q is not a field number", s, part)
		}
		f, ok := d.Field(id)
		if !ok {
			return nil, fmt.Errorf("key fields %q: field %d is not in dialect %s", s, id, d.Name)
		}
		switch id {
		case 2, 35, 45, 52, 55:
			return nil, fmt.Errorf("key fields %q: field %d is card data", s, id)
		}
		total += 1 + d.Layout.fields[id].size(f.Length)
		out = append(out, id)
	}
	if total > MaxKey {
		return nil, fmt.Errorf("key fields %q: %d bytes, at most %d", s, total, MaxKey)
	}
	return out, nil
}
