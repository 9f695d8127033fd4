package isocodec

import (
	"encoding/hex"
	"fmt"
	"math/bits"
)

// Edit is one change to a message: field ID set to Value, or removed when
// Value is nil (removing a field the dialect lacks is allowed). Value is text as AppendText gives it (digits for BCD, hex
// for binary); a fixed field's value must already have the field's length
// (FieldDef.Value pads), because a silent pad could hide a caller's bug.
type Edit struct {
	ID    int
	Value []byte
}

// Set is an Edit that sets id to the text v.
func Set(id int, v []byte) Edit { return Edit{ID: id, Value: v} }

// Remove is an Edit that drops field id.
func Remove(id int) Edit { return Edit{ID: id} }

// AppendEdited appends a message with MTI mti made from msg's fields (as s
// describes them) with edits applied: fields left alone are copied byte
// for byte with their length prefixes, set fields are encoded as the
// layout says, and the bitmap is rebuilt. It is how replies, echoes and
// reversals are made without a full unpack and pack, and it allocates
// nothing when dst has room. msg may be nil (s then a zero Scan) to build
// a message from edits alone.
func (l *Layout) AppendEdited(dst []byte, mti MTI, msg []byte, s *Scan, edits ...Edit) ([]byte, error) {
	var set, drop FieldSet
	var at [129]int8 // index into edits + 1
	for i, e := range edits {
		if e.ID < 2 || e.ID > 128 {
			return dst, FieldError{Field: e.ID, Err: ErrUndefinedField}
		}
		if e.Value == nil {
			drop.Add(e.ID) // removing what the dialect lacks is harmless
			continue
		}
		if !l.fields[e.ID].defined {
			return dst, FieldError{Field: e.ID, Err: ErrUndefinedField}
		}
		set.Add(e.ID)
		at[e.ID] = int8(i + 1)
	}
	var present FieldSet
	if s != nil && s.Len > 0 {
		present = s.Present
	}
	present[0] &^= 1
	for w := range 2 {
		present[w] = (present[w] | set[w]) &^ drop[w]
	}
	if present[1] != 0 {
		present[0] |= 1
	}

	switch l.mtiEnc {
	case EncBCD:
		for _, c := range mti {
			if c < '0' || c > '9' {
				return dst, FieldError{Field: 0, Err: ErrNotDigits}
			}
		}
		dst = append(dst, (mti[0]-'0')<<4|(mti[1]-'0'), (mti[2]-'0')<<4|(mti[3]-'0'))
	default:
		dst = append(dst, mti[:]...)
	}
	var bm [16]byte
	for i := range 8 {
		bm[i] = bits.Reverse8(byte(present[0] >> (8 * i)))
		bm[8+i] = bits.Reverse8(byte(present[1] >> (8 * i)))
	}
	n := 8
	if present[1] != 0 {
		n = 16
	}
	if l.bitmapHex && l.bitmapLower {
		dst = hex.AppendEncode(dst, bm[:n])
	} else if l.bitmapHex {
		dst = appendUpperHex(dst, bm[:n])
	} else {
		dst = append(dst, bm[:n]...)
	}

	fields := present
	fields[0] &^= 1
	var err error
	for w := range 2 {
		for b := fields[w]; b != 0; b &= b - 1 {
			id := w*64 + bits.TrailingZeros64(b) + 1
			f := &l.fields[id]
			if i := at[id]; i > 0 {
				if dst, err = f.appendValue(dst, edits[i-1].Value); err != nil {
					return dst, FieldError{Field: id, Err: err}
				}
				continue
			}
			start := int(s.start[id]) - int(f.prefixLen)
			dst = append(dst, msg[start:int(s.start[id])+int(s.size[id])]...)
		}
	}
	return dst, nil
}

// appendValue encodes text v with this field's length prefix and encoding.
func (f *fieldLayout) appendValue(dst, v []byte) ([]byte, error) {
	units := len(v)
	if f.enc == EncBinary {
		if units%2 != 0 {
			return dst, fmt.Errorf("%w: odd hex length", ErrBadValue)
		}
		units /= 2
	}
	if units > int(f.length) {
		return dst, ErrTooLong
	}
	if f.prefix == 0 && units != int(f.length) {
		return dst, fmt.Errorf("%w: %d, field takes exactly %d", ErrBadValue, units, f.length)
	}
	if f.charset == CharsetXN && (len(v) == 0 || v[0] != 'C' && v[0] != 'D') {
		return dst, fmt.Errorf("%w: an amount starts with C or D", ErrBadValue)
	}
	if f.charset == CharsetN || f.enc == EncBCD || f.charset == CharsetXN {
		digits := v
		if f.charset == CharsetXN {
			digits = v[1:]
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				return dst, ErrNotDigits
			}
		}
	}
	dst = appendLength(dst, f.prefix, int(f.prefixLen), units)
	switch f.enc {
	case EncBCD:
		if len(v)%2 == 1 {
			dst = append(dst, v[0]-'0')
			v = v[1:]
		}
		for i := 0; i < len(v); i += 2 {
			dst = append(dst, (v[i]-'0')<<4|(v[i+1]-'0'))
		}
	case EncTrack2BCD:
		for i := 0; i < len(v); i += 2 {
			hi, ok := track2Nibble(v[i])
			lo := byte(0)
			if i+1 < len(v) {
				lo, ok = track2NibblePair(ok, v[i+1])
			}
			if !ok {
				return dst, errTrack2Char
			}
			dst = append(dst, hi<<4|lo)
		}
	case EncSignedBCD:
		dst = append(dst, v[0])
		digits := v[1:]
		if len(digits)%2 == 1 {
			dst = append(dst, digits[0]-'0')
			digits = digits[1:]
		}
		for i := 0; i < len(digits); i += 2 {
			dst = append(dst, (digits[i]-'0')<<4|(digits[i+1]-'0'))
		}
	case EncBinary:
		var err error
		if dst, err = hex.AppendDecode(dst, v); err != nil {
			return dst, fmt.Errorf("%w: want hex", ErrBadValue)
		}
	default:
		dst = append(dst, v...)
	}
	return dst, nil
}

func track2NibblePair(ok bool, c byte) (byte, bool) {
	n, ok2 := track2Nibble(c)
	return n, ok && ok2
}

// appendLength writes a length prefix of n bytes.
func appendLength(dst []byte, p PrefixEncoding, n, v int) []byte {
	switch p {
	case PrefixASCII:
		for i := n - 1; i >= 0; i-- {
			dst = append(dst, '0'+byte(v/pow10[i]%10))
		}
	case PrefixBCD:
		for i := n - 1; i >= 0; i-- {
			d := v / pow10[2*i] % 100
			dst = append(dst, byte(d/10)<<4|byte(d%10))
		}
	case PrefixBinary:
		for i := n - 1; i >= 0; i-- {
			dst = append(dst, byte(v>>(8*i)))
		}
	}
	return dst
}

var pow10 = [...]int{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000}

func appendUpperHex(dst, b []byte) []byte {
	const digits = "0123456789ABCDEF"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&0x0f])
	}
	return dst
}
