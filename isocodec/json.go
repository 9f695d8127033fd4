package isocodec

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	json "github.com/goccy/go-json"
)

// ErrBadJSON: the body is not a JSON object of field number to value.
var ErrBadJSON = errors.New("isocodec: request is not a JSON object of field numbers")

// FieldsFromJSON reads the HTTP API's request: an object of field number
// to string or number, e.g. {"0": "0200", "4": 1000, "41": 992468}.
// Numbers are taken digit for digit (no float rounding). A body that is
// not such an object is ErrBadJSON; a bad value is a FieldError for its
// field, all of them reported together.
func FieldsFromJSON(body []byte) (Fields, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, ErrBadJSON
	}
	if dec.More() {
		return nil, ErrBadJSON
	}
	out := make(Fields, len(raw))
	var errs FieldErrors
	for k, v := range raw {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id > 128 {
			return nil, fmt.Errorf("%w: key %q is not a field number 0..128", ErrBadJSON, k)
		}
		switch v := v.(type) {
		case string:
			out[id] = v
		case json.Number:
			s := v.String()
			if _, ok := num([]byte(s)); !ok {
				errs = append(errs, FieldError{Field: id, Offset: -1, Err: fmt.Errorf("%w: numbers must be whole and not negative", ErrBadValue)})
				continue
			}
			out[id] = s
		default:
			errs = append(errs, FieldError{Field: id, Offset: -1, Err: fmt.Errorf("%w: want a string or a number", ErrBadValue)})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// AppendJSON writes fields as a JSON object in field order, every value a
// string exactly as on the wire (binary and bitmap as hex).
func AppendJSON(dst []byte, f Fields) []byte {
	dst = append(dst, '{')
	for i, id := range f.IDs() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, int64(id), 10)
		dst = append(dst, '"', ':')
		dst = AppendJSONString(dst, f[id])
	}
	return append(dst, '}')
}

// AppendJSONString writes s as a JSON string, escaping what JSON requires
// and any byte outside printable ASCII.
func AppendJSONString(dst []byte, s string) []byte { return appendJSON(dst, s) }

func appendJSON[T string | []byte](dst []byte, s T) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c > 0x7e:
			dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// AppendMessageJSON writes a scanned message as AppendJSON writes its
// unpacked Fields (the same bytes), straight from the scan: no moov-io
// unpack, no map. s must describe msg.
func (l *Layout) AppendMessageJSON(dst, msg []byte, s *Scan) []byte {
	var text [2048]byte
	dst = append(dst, `{"0":`...)
	dst = appendJSON(dst, s.MTI[:])
	dst = append(dst, `,"1":`...)
	dst = appendJSON(dst, l.AppendText(text[:0], s, msg, 1))
	s.Present.Each(func(id int) bool {
		if id > 1 && s.Units(id) <= len(text)/2 {
			dst = append(dst, ',', '"')
			dst = strconv.AppendInt(dst, int64(id), 10)
			dst = append(dst, '"', ':')
			dst = appendJSON(dst, l.AppendText(text[:0], s, msg, id))
		}
		return true
	})
	return append(dst, '}')
}
