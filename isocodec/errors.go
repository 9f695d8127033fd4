package isocodec

import (
	"errors"
	"strconv"
)

// Scan errors: the bytes are not a message of the dialect.
var (
	// ErrTruncated: the message ends inside a field. On a stream this means
	// "read more"; on a complete frame it is an error.
	ErrTruncated = errors.New("isocodec: message truncated")
	// ErrNotISO: the MTI is not four digits (a port scan, HTTP, TLS).
	ErrNotISO = errors.New("isocodec: not an ISO-8583 message")
	// ErrUndefinedField: the bitmap announces a field the dialect lacks.
	ErrUndefinedField = errors.New("isocodec: field not defined in dialect")
	// ErrBadLength: a length prefix is not a number or is over the maximum.
	ErrBadLength = errors.New("isocodec: bad field length")
	// ErrTooLarge: a message or frame is over the configured maximum.
	ErrTooLarge = errors.New("isocodec: message too large")
)

// Check errors: the message parses but must not go to the host.
var (
	ErrMissing   = errors.New("mandatory field missing")
	ErrNotDigits = errors.New("digits only")
	ErrCharset   = errors.New("character not allowed")
	ErrTooLong   = errors.New("value longer than the field")
	ErrBadValue  = errors.New("bad value")
	ErrExpired   = errors.New("expired: local time too far from now")
	ErrBadTime   = errors.New("not a valid date and time")
)

// FieldError is one problem with one field. Offset is the byte offset in
// the message where known, else -1. It never holds the field's value, so it
// is safe to log.
type FieldError struct {
	Field  int
	Offset int
	Err    error
}

func (e FieldError) Error() string {
	s := "field " + strconv.Itoa(e.Field)
	if e.Offset >= 0 {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	return s + ": " + e.Err.Error()
}

func (e FieldError) Unwrap() error { return e.Err }

// FieldErrors is a list of problems; as an error it reads as all of them.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	s := ""
	for i, e := range es {
		if i > 0 {
			s += "; "
		}
		s += e.Error()
	}
	return s
}

// Unwrap lets errors.Is and errors.As see each problem.
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Strings returns each problem as a line, for JSON "errors".
func (es FieldErrors) Strings() []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}
