package isocodec

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
)

// ErrBadJSON: the body is not a JSON object of field number to value.
var ErrBadJSON = errors.New("isocodec: request is not a JSON object of field numbers")

// FieldsFromJSON reads the HTTP API's request: an object of field number
// to string or number, e.g. {"0": "0200", "4": 1000, "41": 992468}.
// Numbers are taken digit for digit (no float rounding). A key must be a
// field number as written canonically ("4", not "04" or "+4") and name
// its field once: with two keys for one field, which value went to the
// bank would be chance. A body that is not such an object is ErrBadJSON
// (naming the keys at fault); a bad value is a FieldError for its field,
// all of them reported together, with the fields that read well beside
// them (so that the caller can check those too).
func FieldsFromJSON(body []byte) (Fields, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, ErrBadJSON
	}
	out := Fields{}
	var errs FieldErrors
	var keys map[int][]string // every key naming a field, when one is wrong
	var problems []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, ErrBadJSON
		}
		k, ok := t.(string)
		if !ok {
			return nil, ErrBadJSON
		}
		v, err := dec.Token()
		if err != nil {
			return nil, ErrBadJSON
		}
		if d, ok := v.(json.Delim); ok {
			// Skip a nested value whole, so that the rest still parses
			// and every error is reported.
			if d != '{' && d != '[' || skipNested(dec) != nil {
				return nil, ErrBadJSON
			}
		}
		id, canonical := fieldKey(k)
		if id < 0 {
			problems = append(problems, "key "+strconv.Quote(k)+" is not a field number 0..128")
			continue
		}
		if _, seen := out[id]; seen || !canonical || keys[id] != nil {
			if keys == nil {
				keys = map[int][]string{}
			}
			if len(keys[id]) == 0 && seen {
				keys[id] = append(keys[id], strconv.Itoa(id))
			}
			keys[id] = append(keys[id], k)
		}
		switch v := v.(type) {
		case string:
			out[id] = v
		case json.Number:
			s := v.String()
			if _, ok := num([]byte(s)); !ok {
				errs = append(errs, FieldError{Field: id, Offset: -1, Err: fmt.Errorf("%w: numbers must be whole and not negative", ErrBadValue)})
			}
			out[id] = s
		default:
			errs = append(errs, FieldError{Field: id, Offset: -1, Err: fmt.Errorf("%w: want a string or a number", ErrBadValue)})
			out[id] = ""
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, ErrBadJSON
	}
	if _, err := dec.Token(); err == nil {
		return nil, ErrBadJSON // something after the object
	}
	for _, id := range sortedKeys(keys) {
		ks := keys[id]
		quoted := make([]string, len(ks))
		for i, k := range ks {
			quoted[i] = strconv.Quote(k)
		}
		if len(ks) > 1 {
			problems = append(problems, "keys "+strings.Join(quoted, ", ")+" all name field "+strconv.Itoa(id)+"; send it once")
		} else {
			problems = append(problems, "key "+quoted[0]+" names field "+strconv.Itoa(id)+"; write it \""+strconv.Itoa(id)+"\"")
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrBadJSON, strings.Join(problems, "; "))
	}
	if len(errs) > 0 {
		for _, e := range errs {
			delete(out, e.Field)
		}
		return out, errs // the fields that read well too, to check the rest
	}
	return out, nil
}

// fieldKey reads a JSON key as a field number: -1 when it is none, and
// whether it is written canonically (decimal, no sign, no leading zero).
func fieldKey(k string) (id int, canonical bool) {
	digits := strings.TrimLeft(k, "+")
	if digits == "" || len(digits) > 8 {
		return -1, false
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return -1, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 128 {
		return -1, false
	}
	return n, k == strconv.Itoa(n)
}

func sortedKeys(m map[int][]string) []int {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// skipNested consumes the rest of an object or array whose opening
// delimiter was just read.
func skipNested(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
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
// unpack, no map; but the fields in numbers are JSON numbers, their
// digits without leading zeros (a value that is not all digits stays a
// string: nothing is changed to fit). s must describe msg.
func (l *Layout) AppendMessageJSON(dst, msg []byte, s *Scan, numbers FieldSet) []byte {
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
			v := l.AppendText(text[:0], s, msg, id)
			if numbers.Has(id) && allDigits(v) {
				for len(v) > 1 && v[0] == '0' {
					v = v[1:]
				}
				dst = append(dst, v...)
			} else {
				dst = appendJSON(dst, v)
			}
		}
		return true
	})
	return append(dst, '}')
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
