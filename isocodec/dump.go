package isocodec

import (
	"errors"
	"strconv"
	"strings"
)

// DumpOptions tune Dump.
type DumpOptions struct {
	// Dangerous shows card data unmasked (the operator's --dangerous).
	Dangerous bool
	// Problems from Check; an expired message is titled <expired>, any
	// other problem <faulty>.
	Problems FieldErrors
}

const (
	dumpColumn = 49 // where values start, as in the original's logs
	dumpRule   = "================================================================================================"
)

// Dump renders a message the way the verbose log shows it: a title, then
// one line per field, "Name [id]" dotted out to a column, the value, and a
// caption for POS entry mode and response code. Card data is masked unless
// opt.Dangerous. A message that does not unpack is shown as <faulty> with
// the reason and its masked hex.
func (d *Dialect) Dump(msg []byte, opt DumpOptions) string {
	var b strings.Builder
	b.WriteString(dumpRule)
	b.WriteByte('\n')
	f, err := d.Unpack(msg)
	if err != nil {
		b.WriteString("[<faulty>] ")
		b.WriteString(err.Error())
		b.WriteString("\nRaw: ")
		b.WriteString(d.LogHex(msg, false, opt.Dangerous))
		b.WriteByte('\n')
		b.WriteString(dumpRule)
		return b.String()
	}
	b.WriteByte('[')
	b.WriteString(d.Title(f))
	b.WriteByte(']')
	for _, flag := range problemFlags(opt.Problems) {
		b.WriteString(" <" + flag + ">")
	}
	b.WriteByte('\n')
	for _, p := range opt.Problems {
		b.WriteString("! ")
		b.WriteString(p.Error())
		b.WriteByte('\n')
	}
	for _, id := range f.IDs() {
		name := d.FieldName(id) + " [" + strconv.Itoa(id) + "]"
		b.WriteString(name)
		for i := len(name); i < dumpColumn; i++ {
			b.WriteByte('.')
		}
		v := f[id]
		if !opt.Dangerous {
			v = d.MaskField(id, v)
		}
		b.WriteString(v)
		if c := d.caption(id, f[id]); c != "" {
			b.WriteString(" (")
			b.WriteString(c)
			b.WriteByte(')')
		}
		b.WriteByte('\n')
	}
	b.WriteString(dumpRule)
	return b.String()
}

func problemFlags(ps FieldErrors) []string {
	var expired, faulty bool
	for _, p := range ps {
		if errors.Is(p, ErrExpired) {
			expired = true
		} else {
			faulty = true
		}
	}
	var out []string
	if faulty {
		out = append(out, "faulty")
	}
	if expired {
		out = append(out, "expired")
	}
	return out
}

// MaskValue masks the text value of a field that carries card data and
// returns any other value as it is.
func MaskValue(id int, v string) string {
	switch id {
	case 2:
		return MaskPAN(v)
	case 35:
		return MaskTrack2(v)
	case 45:
		return strings.Repeat("*", len(v)) // track 1: name and PAN together
	case 52:
		return strings.Repeat("*", len(v))
	case 55:
		return MaskEMVHex(v)
	}
	return v
}

// MaskField is MaskValue with the dialect's knowledge: a card number in
// a variable-length field not meant for one (private or additional
// data) is masked too, as MaskedHex masks it.
func (d *Dialect) MaskField(id int, v string) string {
	if m := MaskValue(id, v); m != v || id < 3 || id == 35 || id == 45 || id == 52 || id == 55 {
		return m
	}
	if f, ok := d.Field(id); !ok || f.Fixed() {
		return v
	}
	b := []byte(v)
	maskCardText([]byte(v), b, 1, false)
	return string(b)
}

// MaskFields masks f's card data in place, each field as MaskField does:
// the form a message's fields may take in a log or a tool's output.
func (d *Dialect) MaskFields(f Fields) {
	for id, v := range f {
		f[id] = d.MaskField(id, v)
	}
}

// Title names a message as the verbose log does: "Purchase Request".
func (d *Dialect) Title(f Fields) string {
	mti, err := f.MTI()
	if err != nil {
		return "<faulty>"
	}
	var what string
	switch mti[1] {
	case '1':
		what = "Authorization"
	case '2':
		what = "Purchase"
		switch p := f[3]; {
		case strings.HasPrefix(p, "20"):
			what = "Refund"
		case strings.HasPrefix(p, "01"):
			what = "Cash Withdrawal"
		case strings.HasPrefix(p, "31"):
			what = "Balance Inquiry"
		}
	case '4':
		what = "Reversal"
	case '5':
		what = "Reconciliation"
	case '8':
		what = "Echo"
		switch strings.TrimLeft(f[70], "0") {
		case "1":
			what = "Sign On"
		case "2":
			what = "Sign Off"
		case "161":
			what = "Key Exchange"
		}
	default:
		return "Message " + mti.String()
	}
	switch mti[2] {
	case '0':
		return what + " Request"
	case '1':
		return what + " Response"
	case '2':
		return what + " Advice"
	case '3':
		return what + " Advice Response"
	}
	return what + " " + mti.String()
}

func (d *Dialect) caption(id int, v string) string {
	switch id {
	case 22:
		if len(v) < 3 {
			return ""
		}
		mode, ok1 := d.Rules.EntryModes[v[:2]]
		auth, ok2 := d.Rules.AuthMethods[v[2]]
		if !ok1 && !ok2 {
			return ""
		}
		if !ok1 {
			mode = "unknown"
		}
		if !ok2 {
			auth = "unknown"
		}
		return "Card Data Input Mode: <" + mode + ">; Cardholder Auth Method: <" + auth + ">"
	case 39:
		return d.Rules.ResponseCodes[v]
	}
	return ""
}
