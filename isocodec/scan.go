package isocodec

import (
	"encoding/hex"
	"math/bits"
)

// MaxMessage bounds one message: offsets are kept in uint16, and no host
// frame is anywhere near it (4 ASCII digits cap a frame at 9999).
const MaxMessage = 65535

// Scan is where each field of one message lies. It holds offsets only, not
// bytes: pair it with the message it was made from. A Scan is about 1 KiB;
// reuse one per connection or loop rather than allocating per message.
type Scan struct {
	MTI     MTI
	Present FieldSet // bitmap bits as read, bit 1 included
	// Len is the number of bytes the message occupies; anything after it
	// in the slice given to Scan was not looked at.
	Len   int
	start [129]uint16 // offset of the value, after its length prefix
	units [129]uint16 // value length in characters, digits or bytes
	size  [129]uint16 // value length in bytes on the wire
}

// Scan walks MTI, bitmap and every present field of msg, recording where
// each value lies. It reads no more than it must and allocates nothing on
// success. It checks structure only (lengths, defined fields); Check looks
// at the values.
func (l *Layout) Scan(msg []byte, s *Scan) error {
	s.Present = FieldSet{}
	s.Len = 0
	off := 0
	switch l.mtiEnc {
	case EncBCD:
		if len(msg) < 2 {
			return scanErr(0, 0, ErrTruncated)
		}
		for i := range 2 {
			hi, lo := msg[i]>>4, msg[i]&0x0f
			if hi > 9 || lo > 9 {
				return scanErr(0, 0, ErrNotISO)
			}
			s.MTI[2*i], s.MTI[2*i+1] = '0'+hi, '0'+lo
		}
		off = 2
	default:
		// Check the bytes we have before asking for more, so that garbage
		// is refused at its first byte rather than after four.
		for i := 0; i < 4 && i < len(msg); i++ {
			if msg[i] < '0' || msg[i] > '9' {
				return scanErr(0, 0, ErrNotISO)
			}
		}
		if len(msg) < 4 {
			return scanErr(0, 0, ErrTruncated)
		}
		copy(s.MTI[:], msg[:4])
		off = 4
	}
	s.start[0], s.units[0], s.size[0] = 0, 4, uint16(off)

	var bm [16]byte
	n, err := l.readBitmap(msg, off, bm[:8])
	if err != nil {
		return err
	}
	bmStart := off
	off += n
	if bm[0]&0x80 != 0 {
		m, err := l.readBitmap(msg, off, bm[8:])
		if err != nil {
			return err
		}
		off += m
	}
	s.start[1], s.size[1] = uint16(bmStart), uint16(off-bmStart)
	s.units[1] = s.size[1]
	for i := range 8 {
		// FieldSet keeps field id at bit id-1; the bitmap has bit 1 as the
		// top bit of its first byte.
		s.Present[0] |= uint64(bits.Reverse8(bm[i])) << (8 * i)
		s.Present[1] |= uint64(bits.Reverse8(bm[8+i])) << (8 * i)
	}

	// Walk set bits only; bit 1 is the secondary bitmap, not a field.
	fields := s.Present
	fields[0] &^= 1
	for w := range 2 {
		for b := fields[w]; b != 0; b &= b - 1 {
			id := w*64 + bits.TrailingZeros64(b) + 1
			f := &l.fields[id]
			if !f.defined {
				return scanErr(id, off, ErrUndefinedField)
			}
			units := int(f.length)
			if f.prefix != 0 {
				end := off + int(f.prefixLen)
				if end > len(msg) {
					return scanErr(id, off, ErrTruncated)
				}
				v, ok := decodeLength(f.prefix, msg[off:end])
				if !ok || v > units {
					return scanErr(id, off, ErrBadLength)
				}
				units = v
				off = end
			}
			size := f.size(units)
			if off+size > len(msg) {
				return scanErr(id, off, ErrTruncated)
			}
			s.start[id], s.units[id], s.size[id] = uint16(off), uint16(units), uint16(size)
			off += size
			if off > MaxMessage {
				return scanErr(id, off, ErrTooLarge)
			}
		}
	}
	s.Len = off
	return nil
}

func (l *Layout) readBitmap(msg []byte, off int, dst []byte) (int, error) {
	if !l.bitmapHex {
		if off+8 > len(msg) {
			return 0, scanErr(1, off, ErrTruncated)
		}
		copy(dst, msg[off:off+8])
		return 8, nil
	}
	if off+16 > len(msg) {
		return 0, scanErr(1, off, ErrTruncated)
	}
	if _, err := hex.Decode(dst, msg[off:off+16]); err != nil {
		return 0, scanErr(1, off, ErrNotISO)
	}
	return 16, nil
}

func decodeLength(p PrefixEncoding, b []byte) (int, bool) {
	v := 0
	switch p {
	case PrefixASCII:
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
	case PrefixBCD:
		for _, c := range b {
			hi, lo := c>>4, c&0x0f
			if hi > 9 || lo > 9 {
				return 0, false
			}
			v = v*100 + int(hi)*10 + int(lo)
		}
	case PrefixBinary:
		for _, c := range b {
			v = v<<8 | int(c)
		}
	}
	return v, true
}

func scanErr(id, off int, err error) error { return FieldError{Field: id, Offset: off, Err: err} }

// Has reports whether field id is present (0 and 1 always are once scanned).
func (s *Scan) Has(id int) bool {
	if id == 0 || id == 1 {
		return s.Len > 0
	}
	return s.Present.Has(id)
}

// Raw returns the wire bytes of field id's value (after any length prefix),
// a sub-slice of msg, or nil if absent. For BCD fields these are the packed
// bytes; use AppendText for digits.
func (s *Scan) Raw(msg []byte, id int) []byte {
	if !s.Has(id) {
		return nil
	}
	start := int(s.start[id])
	return msg[start : start+int(s.size[id])]
}

// Units is the value's length in characters, digits or bytes.
func (s *Scan) Units(id int) int { return int(s.units[id]) }

// AppendText appends field id's value as text: ASCII as is, BCD and track-2
// BCD unpacked to characters, binary as lower-case hex.
func (l *Layout) AppendText(dst []byte, s *Scan, msg []byte, id int) []byte {
	raw := s.Raw(msg, id)
	if raw == nil {
		return dst
	}
	if id == 0 {
		return append(dst, s.MTI[:]...)
	}
	if id == 1 {
		if l.bitmapHex {
			var bm [16]byte
			n, _ := hex.Decode(bm[:], raw)
			return hex.AppendEncode(dst, bm[:n])
		}
		return hex.AppendEncode(dst, raw)
	}
	f := &l.fields[id]
	switch f.enc {
	case EncSignedBCD:
		dst = append(dst, raw[0])
		n := int(s.units[id]) - 1
		skip := (len(raw)-1)*2 - n
		for i := 0; i < n; i++ {
			k := i + skip
			b := raw[1+k/2]
			if k%2 == 0 {
				b >>= 4
			}
			if b &= 0x0f; b <= 9 {
				dst = append(dst, '0'+b)
			} else {
				dst = append(dst, '?')
			}
		}
		return dst
	case EncBCD, EncTrack2BCD:
		n := int(s.units[id])
		skip := len(raw)*2 - n // the pad nibble
		for i := 0; i < n; i++ {
			k := i
			if f.enc == EncBCD {
				k += skip
			}
			b := raw[k/2]
			if k%2 == 0 {
				b >>= 4
			}
			b &= 0x0f
			switch {
			case b <= 9:
				dst = append(dst, '0'+b)
			case b == 0xd:
				dst = append(dst, '=')
			default:
				dst = append(dst, '?')
			}
		}
		return dst
	case EncBinary:
		return hex.AppendEncode(dst, raw)
	}
	return append(dst, raw...)
}

// Number reads field id as a whole number (up to 18 digits): an amount in
// minor units, say. ok is false when the field is absent, empty or not
// all digits.
func (l *Layout) Number(s *Scan, msg []byte, id int) (v int64, ok bool) {
	if !s.Has(id) || s.Units(id) > 18 {
		return 0, false
	}
	var buf [18]byte
	t := l.AppendText(buf[:0], s, msg, id)
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, len(t) > 0
}
