package isocodec

import (
	"fmt"
	"math/bits"
	"time"
)

// ExpiryWindow is how far a client's local transaction time (field 12) may
// be from now before the message is refused: it stops replays of messages
// that sat in a frozen VM or a stuck queue.
const ExpiryWindow = 30 * time.Second

// CheckOptions tune Check. The zero value checks everything but expiry.
type CheckOptions struct {
	// Now is the current time; zero skips the expiry check (messages the
	// gateway makes itself, and replies).
	Now time.Time
	// Window overrides ExpiryWindow when positive.
	Window time.Duration
	// Location is the clock's zone for local times; nil means time.Local.
	Location *time.Location
	// Days, when set, is the caller's own LocalDays for the expiry
	// check (nil: a time.Date per message).
	Days *LocalDays
}

// Check validates a scanned message for sending to the host: mandatory
// fields for its MTI, each value's characters, and expiry. It appends each
// problem to errs and returns it; a valid message appends nothing and
// allocates nothing.
func (d *Dialect) Check(msg []byte, s *Scan, opt CheckOptions, errs FieldErrors) FieldErrors {
	missing := d.mandatory[s.MTI]
	missing[0] &^= s.Present[0]
	missing[1] &^= s.Present[1]
	missing.Each(func(id int) bool {
		errs = append(errs, FieldError{Field: id, Offset: -1, Err: ErrMissing})
		return true
	})
	l := d.Layout
	fields := s.Present
	fields[0] &^= 1
	// Every field of every request: the bits walked here, not through
	// FieldSet.Each's call per field.
	for w := range fields {
		for b := fields[w]; b != 0; b &= b - 1 {
			id := w*64 + bits.TrailingZeros64(b) + 1
			start := int(s.start[id])
			if err := l.fields[id].checkValue(msg[start:start+int(s.size[id])], int(s.units[id])); err != nil {
				errs = append(errs, FieldError{Field: id, Offset: start, Err: err})
			}
		}
	}
	if !opt.Now.IsZero() && !s.MTI.IsResponse() {
		errs = d.checkExpiry(msg, s, opt, errs)
	}
	return errs
}

func (f *fieldLayout) checkValue(raw []byte, units int) error {
	switch f.enc {
	case EncBCD:
		// An odd count is left-padded with a zero nibble.
		if units%2 == 1 && raw[0]>>4 != 0 {
			return ErrNotDigits
		}
		for _, b := range raw {
			if b>>4 > 9 || b&0x0f > 9 {
				return ErrNotDigits
			}
		}
		return nil
	case EncTrack2BCD:
		// An odd count is right-padded with a zero nibble.
		if units%2 == 1 && raw[len(raw)-1]&0x0f != 0 {
			return ErrCharset
		}
		for i := range units {
			b := raw[i/2]
			if i%2 == 0 {
				b >>= 4
			}
			if b &= 0x0f; b > 9 && b != 0xd {
				return ErrCharset
			}
		}
		return nil
	case EncSignedBCD:
		if len(raw) == 0 || raw[0] != 'C' && raw[0] != 'D' {
			return ErrCharset
		}
		if units%2 == 0 && raw[1]>>4 != 0 { // an even count of characters: an odd count of digits
			return ErrNotDigits
		}
		for _, b := range raw[1:] {
			if b>>4 > 9 || b&0x0f > 9 {
				return ErrNotDigits
			}
		}
		return nil
	case EncBinary:
		return nil
	}
	return checkText(f.charset, raw)
}

// charsetTable[cs][c] says whether byte c is allowed in a text field of
// charset cs.
var charsetTable = func() (t [CharsetXN + 1][256]bool) {
	for c := range 256 {
		digit := c >= '0' && c <= '9'
		alnum := digit || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		t[CharsetN][c] = digit
		t[CharsetZ][c] = digit || c == '=' || c == 'D'
		t[CharsetAN][c] = alnum || c == ' '
		t[CharsetANS][c] = c >= 0x20 && c <= 0x7e
		t[CharsetB][c] = true
		t[CharsetXN][c] = digit || c == 'C' || c == 'D'
	}
	return t
}()

func checkText(cs Charset, raw []byte) error {
	if int(cs) >= len(charsetTable) {
		return ErrCharset
	}
	tbl := &charsetTable[cs]
	for _, c := range raw {
		if !tbl[c] {
			if cs == CharsetN {
				return ErrNotDigits
			}
			return ErrCharset
		}
	}
	return nil
}

func (d *Dialect) checkExpiry(msg []byte, s *Scan, opt CheckOptions, errs FieldErrors) FieldErrors {
	loc := opt.Location
	if loc == nil {
		loc = time.Local
	}
	var t int64 // the terminal's time, Unix
	var ok bool
	var format string
	switch d.Rules.LocalTime {
	case LocalTimeField12Full:
		if !s.Has(12) {
			return errs // absence is the mandatory check's business
		}
		t, ok = parseYYMMDDhhmmss(d.digits12(msg, s, 12), loc, opt.Days)
		format = "YYMMDDhhmmss"
	case LocalTimeField12And13:
		if !s.Has(12) || !s.Has(13) {
			return errs
		}
		t, ok = parseMMDDhhmmss(d.digits12(msg, s, 13), d.digits12(msg, s, 12), opt.Now, loc, opt.Days)
		format = "hhmmss, with field 13 MMDD"
	default:
		return errs
	}
	if !ok {
		// Rare and refused: the words are made only here.
		return append(errs, FieldError{Field: 12, Offset: -1, Err: fmt.Errorf("%w: want %s, the terminal's local time", ErrBadTime, format)})
	}
	window := ExpiryWindow
	if opt.Window > 0 {
		window = opt.Window
	}
	if diff := time.Duration(opt.Now.UnixNano() - t*int64(time.Second)); diff > window || diff < -window {
		return append(errs, FieldError{Field: 12, Offset: -1, Err: fmt.Errorf("%w: %s (%s) is %s from the gateway's time %s; allowed within %s",
			ErrExpired, time.Unix(t, 0).In(loc).Format("2006-01-02 15:04:05"), format, absDur(diff).Round(time.Second), opt.Now.In(loc).Format("2006-01-02 15:04:05"), window)})
	}
	return errs
}

// digits12 returns up to 12 digits of a numeric field as text, on the stack.
func (d *Dialect) digits12(msg []byte, s *Scan, id int) [12]byte {
	var out [12]byte
	if s.Units(id) <= len(out) {
		d.Layout.AppendText(out[:0], s, msg, id)
	}
	return out
}

func num(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func parseYYMMDDhhmmss(b [12]byte, loc *time.Location, days *LocalDays) (int64, bool) {
	yy, ok1 := num(b[0:2])
	mo, ok2 := num(b[2:4])
	dd, ok3 := num(b[4:6])
	hh, ok4 := num(b[6:8])
	mi, ok5 := num(b[8:10])
	ss, ok6 := num(b[10:12])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !validClock(mo, dd, hh, mi, ss) {
		return 0, false
	}
	return days.Unix(2000+yy, mo, dd, hh, mi, ss, loc), true
}

// halfYear: a year-less date this near now (seconds) is in now's year;
// the same date a year either side is farther.
const halfYear = 182 * 24 * 3600

// parseMMDDhhmmss places a year-less date in the year that brings it
// nearest to now, so that 31 Dec at 00:00:10 on 1 Jan is 10 s old.
func parseMMDDhhmmss(date, clock [12]byte, now time.Time, loc *time.Location, days *LocalDays) (int64, bool) {
	mo, ok1 := num(date[0:2])
	dd, ok2 := num(date[2:4])
	hh, ok3 := num(clock[0:2])
	mi, ok4 := num(clock[2:4])
	ss, ok5 := num(clock[4:6])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || !validClock(mo, dd, hh, mi, ss) {
		return 0, false
	}
	year, at := now.In(loc).Year(), now.Unix()
	best := days.Unix(year, mo, dd, hh, mi, ss, loc)
	if absSeconds(at-best) <= halfYear {
		return best, true
	}
	// Near New Year: the neighbours' years, off the held day.
	for _, y := range [2]int{year - 1, year + 1} {
		if t := time.Date(y, time.Month(mo), dd, hh, mi, ss, 0, loc).Unix(); absSeconds(at-t) < absSeconds(at-best) {
			best = t
		}
	}
	return best, true
}

func absSeconds(s int64) int64 {
	if s < 0 {
		return -s
	}
	return s
}

func validClock(mo, dd, hh, mi, ss int) bool {
	return mo >= 1 && mo <= 12 && dd >= 1 && dd <= 31 && hh <= 23 && mi <= 59 && ss <= 59
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
