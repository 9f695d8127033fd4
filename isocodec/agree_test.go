package isocodec

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/moov-io/iso8583"
)

// agree checks that the scanner and moov-io read msg the same way. A
// message the scanner accepts with clean values must unpack in moov-io to
// the same fields; one moov-io accepts must scan to the same fields.
func agree(d *Dialect, msg []byte) error {
	var s Scan
	scanErr := d.Layout.Scan(msg, &s)
	m := iso8583.NewMessage(d.Spec)
	moovErr := m.Unpack(msg)
	if scanErr != nil {
		// The scanner is stricter by design: an MTI must be digits and a
		// length prefix a plain number.
		strict := errors.Is(scanErr, ErrNotISO) || errors.Is(scanErr, ErrBadLength) || errors.Is(scanErr, ErrUndefinedField)
		if moovErr == nil && !strict {
			return fmt.Errorf("scanner refused (%v) what moov-io unpacked", scanErr)
		}
		return nil
	}
	clean := len(d.Check(msg, &s, CheckOptions{}, nil).withoutMissing()) == 0
	if moovErr != nil {
		if clean {
			return fmt.Errorf("moov-io refused (%v) what the scanner read as clean", moovErr)
		}
		return nil
	}
	if !clean {
		return nil // values that fail Check never travel; how each tool shows them does not matter
	}
	for id := 0; id <= 128; id++ {
		if id > 1 && !s.Has(id) {
			if m.GetField(id) != nil && m.Bitmap().IsSet(id) {
				return fmt.Errorf("field %d: moov-io has it, scanner not", id)
			}
			continue
		}
		want := moovText(d, m, id)
		got := d.Layout.AppendText(nil, &s, msg, id)
		if !bytes.Equal(want, got) {
			return fmt.Errorf("field %d: moov-io %q, scanner %q", id, want, got)
		}
	}
	return nil
}

func (es FieldErrors) withoutMissing() FieldErrors {
	var out FieldErrors
	for _, e := range es {
		if !errors.Is(e, ErrMissing) {
			out = append(out, e)
		}
	}
	return out
}
