package isocodec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moov-io/iso8583"
	iso8583errors "github.com/moov-io/iso8583/errors"
	"github.com/moov-io/iso8583/field"
)

// Fields is a message as text: field id to value exactly as on the wire
// (digits keep their leading zeros), binary fields and the bitmap (1) as
// lower-case hex. It is the form JSON, dumps and the emulator work with;
// the relay path never builds one.
type Fields map[int]string

// IDs lists the fields present, in id order.
func (f Fields) IDs() []int {
	ids := make([]int, 0, len(f))
	for id := range f {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// MTI returns field 0 as an MTI.
func (f Fields) MTI() (MTI, error) { return ParseMTI(f[0]) }

// Unpack reads a whole message with moov-io. Errors name the field; they
// never carry the message bytes.
func (d *Dialect) Unpack(msg []byte) (Fields, error) {
	m := iso8583.NewMessage(d.Spec)
	if err := m.Unpack(msg); err != nil {
		var ue *iso8583errors.UnpackError
		if errors.As(err, &ue) {
			id, _ := strconv.Atoi(ue.FieldID)
			// moov-io's error text may quote a value; keep only its kind.
			return nil, FieldError{Field: id, Offset: -1, Err: ErrUnpack}
		}
		return nil, fmt.Errorf("unpack: %w", ErrUnpack)
	}
	out := Fields{}
	for id := 0; id <= 128; id++ {
		if id > 1 && !m.Bitmap().IsSet(id) {
			continue
		}
		if t := moovText(d, m, id); t != nil || id < 2 {
			out[id] = string(t)
		}
	}
	return out, nil
}

// ErrUnpack is moov-io refusing a message; the FieldError around it says
// which field.
var ErrUnpack = errors.New("cannot unpack")

func moovText(d *Dialect, m *iso8583.Message, id int) []byte {
	switch id {
	case 0:
		mti, _ := m.GetMTI()
		return []byte(mti)
	case 1:
		b, _ := m.Bitmap().Bytes()
		return hex.AppendEncode(nil, b)
	}
	f := m.GetField(id)
	if f == nil {
		return nil
	}
	b, err := f.Bytes()
	if err != nil {
		return nil
	}
	if _, ok := f.(*field.Binary); ok {
		return hex.AppendEncode(nil, b)
	}
	return b
}

// Pack builds a message from text fields. Each value is first normalised
// by Value (padding, hex); all problems are returned together, each naming
// its field. Field 1 is ignored: the bitmap follows from the fields. An
// empty value of a variable field leaves the field out. The bytes are
// what moov-io packs for the same fields (tests hold them to it), made
// with AppendEdited at a fraction of the cost.
func (d *Dialect) Pack(f Fields) ([]byte, error) {
	var errs FieldErrors
	mti, err := f.MTI()
	if err != nil {
		errs = append(errs, FieldError{Field: 0, Offset: -1, Err: ErrBadValue})
	}
	edits := make([]Edit, 0, len(f))
	for _, id := range f.IDs() {
		if id < 2 {
			continue
		}
		def, ok := d.Field(id)
		if !ok {
			errs = append(errs, FieldError{Field: id, Offset: -1, Err: ErrUndefinedField})
			continue
		}
		v, err := def.Value(f[id])
		if err != nil {
			errs = append(errs, FieldError{Field: id, Offset: -1, Err: err})
			continue
		}
		switch {
		case len(v) == 0 && !def.Fixed():
		case def.Charset == CharsetB:
			edits = append(edits, Set(id, []byte(f[id]))) // AppendEdited takes binary as hex
		default:
			edits = append(edits, Set(id, v))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	out, err := d.Layout.AppendEdited(nil, mti, nil, nil, edits...)
	if err != nil {
		var fe FieldError
		if errors.As(err, &fe) {
			fe.Offset = -1
			return nil, FieldErrors{fe}
		}
		return nil, fmt.Errorf("pack: %w", ErrBadValue)
	}
	return out, nil
}

// Value turns a text value into what goes on the wire: digits left-padded
// with zeros and text right-padded with spaces to a fixed length, hex
// decoded for binary fields. Too long, or a character the field does not
// take, is an error, never a truncation.
func (d FieldDef) Value(text string) ([]byte, error) {
	if d.Charset == CharsetB {
		b, err := hex.DecodeString(text)
		if err != nil {
			return nil, fmt.Errorf("%w: want hex", ErrBadValue)
		}
		if len(b) > d.Length {
			return nil, fmt.Errorf("%w: %d bytes, field takes %d", ErrTooLong, len(b), d.Length)
		}
		if d.Fixed() && len(b) != d.Length {
			return nil, fmt.Errorf("%w: %d bytes, field takes exactly %d", ErrBadValue, len(b), d.Length)
		}
		return b, nil
	}
	if len(text) > d.Length {
		return nil, fmt.Errorf("%w: %d characters, field takes %d", ErrTooLong, len(text), d.Length)
	}
	v := []byte(text)
	if d.Charset == CharsetZ && d.Enc == EncTrack2BCD {
		v = []byte(strings.ReplaceAll(strings.ToUpper(text), "D", "="))
	}
	if err := checkText(d.Charset, v); err != nil {
		return nil, err
	}
	if d.Charset == CharsetXN {
		// C or D, then the digits zero-padded, as jPOS's IFB_AMOUNT.
		if len(v) == 0 || v[0] != 'C' && v[0] != 'D' || !allDigits(v[1:]) && len(v) > 1 {
			return nil, fmt.Errorf("%w: an amount is C or D, then digits", ErrBadValue)
		}
		return append(append([]byte{v[0]}, bytes.Repeat([]byte{'0'}, d.Length-len(v))...), v[1:]...), nil
	}
	if n := d.Length - len(v); d.Fixed() && n > 0 {
		if d.Charset == CharsetN {
			v = append(bytes.Repeat([]byte{'0'}, n), v...)
		} else {
			v = append(v, bytes.Repeat([]byte{' '}, n)...)
		}
	}
	return v, nil
}
