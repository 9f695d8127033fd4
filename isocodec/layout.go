package isocodec

import (
	"fmt"
	"strings"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
)

// Layout is the per-field length table the Scanner walks. It is generated
// from a moov-io spec by layoutFromSpec, never written by hand, so both
// agree on where each field starts and ends.
type Layout struct {
	mtiEnc    Encoding // EncASCII: 4 bytes; EncBCD: 2 bytes
	bitmapHex bool     // 16 hex characters per bitmap instead of 8 bytes
	// bitmapLower writes them in lower case, as the original SocketQueue
	// did (read in either).
	bitmapLower bool
	fields      [129]fieldLayout
}

type fieldLayout struct {
	defined   bool
	prefix    PrefixEncoding // 0 for a fixed field
	prefixLen uint8          // bytes of the length prefix
	lenDigits uint8          // L's of the prefix
	enc       Encoding
	charset   Charset
	length    uint16 // fixed length, or maximum, in characters/digits/bytes
}

// size is the number of bytes n characters take in this field's encoding.
func (f *fieldLayout) size(n int) int {
	switch f.enc {
	case EncBCD, EncTrack2BCD:
		return (n + 1) / 2
	case EncSignedBCD:
		return 1 + n/2 // the sign, then n-1 digits packed
	}
	return n
}

func layoutFromSpec(spec *iso8583.MessageSpec, defs [129]FieldDef) (*Layout, error) {
	l := &Layout{}
	mti, ok := spec.Fields[0]
	if !ok {
		return nil, fmt.Errorf("layout: spec has no MTI")
	}
	switch mti.Spec().Enc {
	case encoding.ASCII:
		l.mtiEnc = EncASCII
	case encoding.BCD:
		l.mtiEnc = EncBCD
	default:
		return nil, fmt.Errorf("layout: MTI encoding must be ASCII or BCD")
	}
	bm, ok := spec.Fields[1].(*field.Bitmap)
	if !ok {
		return nil, fmt.Errorf("layout: spec has no bitmap")
	}
	switch bm.Spec().Enc {
	case encoding.Binary:
	case encoding.BytesToASCIIHex:
		l.bitmapHex = true
	default:
		return nil, fmt.Errorf("layout: bitmap must be binary or ASCII hex")
	}
	for id, f := range spec.Fields {
		if id < 2 {
			continue
		}
		if id > 128 {
			return nil, fmt.Errorf("layout: field %d out of range", id)
		}
		fl, err := fieldLayoutOf(f.Spec())
		if err != nil {
			return nil, fmt.Errorf("layout: field %d: %w", id, err)
		}
		fl.charset = defs[id].Charset
		if fl.charset == 0 {
			return nil, fmt.Errorf("layout: field %d has no charset", id)
		}
		l.fields[id] = fl
	}
	return l, nil
}

// fieldLayoutOf reads a moov-io field spec: the prefixer's Inspect name
// ("ASCII.LL", "BCD.Fixed") and the encoder's identity.
func fieldLayoutOf(s *field.Spec) (fieldLayout, error) {
	fl := fieldLayout{defined: true, length: uint16(s.Length)}
	switch s.Enc {
	case encoding.ASCII:
		fl.enc = EncASCII
	case encoding.BCD:
		fl.enc = EncBCD
	case Track2BCD:
		fl.enc = EncTrack2BCD
	case SignedBCD:
		fl.enc = EncSignedBCD
	case encoding.Binary:
		fl.enc = EncBinary
	default:
		return fl, fmt.Errorf("encoder %T has no scanner support", s.Enc)
	}
	family, ls, ok := strings.Cut(s.Pref.Inspect(), ".")
	if !ok {
		return fl, fmt.Errorf("prefixer %q not understood", s.Pref.Inspect())
	}
	if ls != "Fixed" {
		if strings.Trim(ls, "L") != "" || len(ls) > 4 {
			return fl, fmt.Errorf("prefixer %q not understood", s.Pref.Inspect())
		}
		fl.lenDigits = uint8(len(ls))
		switch family {
		case "ASCII":
			fl.prefix, fl.prefixLen = PrefixASCII, fl.lenDigits
		case "BCD":
			fl.prefix, fl.prefixLen = PrefixBCD, (fl.lenDigits+1)/2
		case "Binary":
			fl.prefix, fl.prefixLen = PrefixBinary, fl.lenDigits
		default:
			return fl, fmt.Errorf("prefixer %q has no scanner support", s.Pref.Inspect())
		}
	}
	if s.Length <= 0 || s.Length > maxFieldLength {
		return fl, fmt.Errorf("length %d out of range", s.Length)
	}
	return fl, nil
}
