package isocodec

import (
	"fmt"
	"strconv"
	"strings"
)

// Charset is what a field's value may contain, as ISO-8583 names it.
type Charset uint8

const (
	// CharsetN is digits only.
	CharsetN Charset = iota + 1
	// CharsetAN is letters and digits (and space, which pads them).
	CharsetAN
	// CharsetANS is any printable ASCII.
	CharsetANS
	// CharsetZ is track-2 data: digits and the '=' or 'D' separator.
	CharsetZ
	// CharsetB is raw bytes, shown as hex.
	CharsetB
	// CharsetXN is an amount with its sign: C (credit) or D (debit),
	// then digits ("x+n").
	CharsetXN
)

var charsetNames = [...]string{CharsetN: "n", CharsetAN: "an", CharsetANS: "ans", CharsetZ: "z", CharsetB: "b", CharsetXN: "xn"}

func (c Charset) String() string {
	if int(c) < len(charsetNames) && charsetNames[c] != "" {
		return charsetNames[c]
	}
	return "charset(" + strconv.Itoa(int(c)) + ")"
}

// Encoding is how a field's characters become bytes on the wire.
type Encoding uint8

const (
	// EncASCII is one byte per character.
	EncASCII Encoding = iota + 1
	// EncBCD packs two digits a byte, left-padded with a zero nibble.
	EncBCD
	// EncTrack2BCD packs two characters a byte with '=' as nibble D and a
	// zero nibble padding an odd count on the right, as jPOS's IFB_LLNUM
	// does in ISO87BPackager (digits of a PAN the same way, with no D).
	EncTrack2BCD
	// EncBinary is raw bytes.
	EncBinary
	// EncSignedBCD is an xn amount as jPOS's IFB_AMOUNT writes it: the
	// sign as one ASCII byte, then the digits packed.
	EncSignedBCD
)

// PrefixEncoding is how a variable-length field's length is written.
type PrefixEncoding uint8

const (
	// PrefixASCII writes the length as ASCII digits (LL = 2 bytes).
	PrefixASCII PrefixEncoding = iota + 1
	// PrefixBCD writes the length as packed digits (LL = 1 byte, LLL = 2).
	PrefixBCD
	// PrefixBinary writes the length big-endian in as many bytes as L's.
	PrefixBinary
)

// FieldDef describes one field of a dialect. It is the human-facing side of
// the dialect's moov-io spec: Spec builds the moov field from it.
type FieldDef struct {
	ID      int
	Name    string
	Charset Charset
	// Length is the fixed length, or the maximum for a variable field, in
	// characters, digits or bytes (for CharsetB).
	Length int
	// LenDigits is 0 for a fixed field, else the number of L's (LL = 2).
	LenDigits int
	Enc       Encoding
	Prefix    PrefixEncoding
}

// Fixed reports whether the field has no length prefix.
func (d FieldDef) Fixed() bool { return d.LenDigits == 0 }

// Type is the field's type in the notation of dialect files: L's then the
// charset, e.g. "n", "LLans", "LLLb".
func (d FieldDef) Type() string { return strings.Repeat("L", d.LenDigits) + d.Charset.String() }

// Encodings are a dialect family's defaults for how values and lengths are
// written, so that a field type ("LLn") is enough to place a field.
type Encodings struct {
	Numeric     Encoding       // n fields
	NumericVar  Encoding       // LL n fields (0: as Numeric)
	Track2      Encoding       // z fields
	NumericPref PrefixEncoding // lengths of LL n / LL z fields
	TextPref    PrefixEncoding // lengths of LL an / ans fields
	BinaryPref  PrefixEncoding // lengths of LL b fields
	Bitmap      Encoding       // EncBinary (8 bytes) or EncASCII (16 hex digits)
	// BitmapLowerHex writes an EncASCII bitmap's hex in lower case.
	BitmapLowerHex bool
	MTI            Encoding // EncASCII or EncBCD
}

// ParseFieldType reads a compact field type: zero to four L's (the digits
// of the length prefix) followed by n, an, ans, z or b, e.g. "LLLans".
func ParseFieldType(s string) (lenDigits int, cs Charset, err error) {
	t := strings.TrimSpace(s)
	for lenDigits < len(t) && (t[lenDigits] == 'L' || t[lenDigits] == 'l') {
		lenDigits++
	}
	if lenDigits > 4 {
		return 0, 0, fmt.Errorf("type %q: at most four L's", s)
	}
	switch strings.ToLower(t[lenDigits:]) {
	case "n":
		cs = CharsetN
	case "an", "a":
		cs = CharsetAN
	case "ans", "as", "ns":
		cs = CharsetANS
	case "z":
		cs = CharsetZ
	case "b":
		cs = CharsetB
	case "xn", "x+n":
		cs = CharsetXN
		if lenDigits > 0 {
			return 0, 0, fmt.Errorf("type %q: an amount with a sign has a fixed length", s)
		}
	default:
		return 0, 0, fmt.Errorf("type %q: unknown; want L's then n, an, ans, z or b", s)
	}
	return lenDigits, cs, nil
}

// NewFieldDef builds a field of the given type with the family's encodings.
func (e Encodings) NewFieldDef(id int, name, typ string, length int) (FieldDef, error) {
	lenDigits, cs, err := ParseFieldType(typ)
	if err != nil {
		return FieldDef{}, fmt.Errorf("field %d: %w", id, err)
	}
	d := FieldDef{ID: id, Name: name, Charset: cs, Length: length, LenDigits: lenDigits}
	switch cs {
	case CharsetN:
		d.Enc, d.Prefix = e.Numeric, e.NumericPref
		if lenDigits > 0 && e.NumericVar != 0 {
			d.Enc = e.NumericVar
		}
	case CharsetZ:
		d.Enc, d.Prefix = e.Track2, e.NumericPref
	case CharsetB:
		d.Enc, d.Prefix = EncBinary, e.BinaryPref
	case CharsetXN:
		d.Enc, d.Prefix = EncASCII, e.TextPref
		if e.Numeric == EncBCD {
			d.Enc = EncSignedBCD
		}
	default:
		d.Enc, d.Prefix = EncASCII, e.TextPref
	}
	if err := d.validate(); err != nil {
		return FieldDef{}, err
	}
	return d, nil
}

// mustField is for the built-in dialect tables, which tests check.
func (e Encodings) mustField(id int, name, typ string, length int) FieldDef {
	d, err := e.NewFieldDef(id, name, typ, length)
	if err != nil {
		panic(err)
	}
	return d
}

// maxFieldLength bounds any one field; nothing in ISO-8583 is longer and
// the scanner keeps offsets in uint16.
const maxFieldLength = 9999

func (d FieldDef) validate() error {
	if d.ID < 2 || d.ID > 128 || d.ID == 65 {
		return fmt.Errorf("field %d: id must be 2..128 and not 65 (bitmap bit)", d.ID)
	}
	if d.Length <= 0 || d.Length > maxFieldLength {
		return fmt.Errorf("field %d: length %d out of range 1..%d", d.ID, d.Length, maxFieldLength)
	}
	if d.LenDigits > 0 {
		// The prefix must be able to express the maximum length.
		limit := 1
		for range d.LenDigits {
			limit *= 10
		}
		if d.Prefix == PrefixBinary {
			limit = 1 << (8 * min(d.LenDigits, 2))
		}
		if d.Length >= limit {
			return fmt.Errorf("field %d: length %d does not fit a %s prefix", d.ID, d.Length, strings.Repeat("L", d.LenDigits))
		}
	}
	if d.Enc == EncBCD && d.Charset != CharsetN {
		return fmt.Errorf("field %d: BCD encoding needs type n", d.ID)
	}
	return nil
}
