package isocodec

import (
	"encoding/hex"
	"errors"
	"strings"
)

// Masking keeps card data out of logs: the PAN shows its first 6 and last
// 4 digits, track 2 its masked PAN and nothing after the separator, the
// PIN block nothing, and EMV data loses the values of the tags that carry
// card data.

// emvCardTags are the EMV tags whose values are card data.
var emvCardTags = map[uint32]bool{
	0x56:   true, // Track 1 Equivalent Data
	0x57:   true, // Track 2 Equivalent Data
	0x5A:   true, // Application PAN
	0x5F20: true, // Cardholder Name
	0x5F24: true, // Application Expiration Date
	0x9F1F: true, // Track 1 Discretionary Data
	0x9F20: true, // Track 2 Discretionary Data
	0x9F6B: true, // Track 2 Data (contactless)
}

// MaskPAN shows the first 6 and last 4 digits of a PAN; a value too short
// to keep 10 digits is masked whole.
func MaskPAN(pan string) string {
	if len(pan) < 13 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

// MaskTrack2 masks the PAN of track-2 data and everything after the
// separator ('=' or 'D'); without a separator the whole value is a PAN.
func MaskTrack2(t string) string {
	sep := strings.IndexAny(t, "=Dd")
	if sep < 0 {
		return MaskPAN(t)
	}
	return MaskPAN(t[:sep]) + t[sep:sep+1] + strings.Repeat("*", len(t)-sep-1)
}

// MaskEMVHex masks card-data tags in hex EMV data (field 55). Data that
// does not parse as BER-TLV is masked whole: it cannot be shown safely.
func MaskEMVHex(h string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		return strings.Repeat("*", len(h))
	}
	var spans []span
	spans, ok := emvSpans(b, 0, spans, 0)
	if !ok {
		return strings.Repeat("*", len(h))
	}
	out := []byte(h)
	for _, sp := range spans {
		for i := sp.from; i < sp.to && i < len(out); i++ {
			out[i] = '*'
		}
	}
	return string(out)
}

// span is a run of nibbles (hex characters of a hex dump) to mask.
type span struct{ from, to int }

// emvSpans walks BER-TLV data, recursing into constructed tags, and adds
// the value nibbles of card-data tags. base is b's offset in nibbles.
func emvSpans(b []byte, base int, spans []span, depth int) ([]span, bool) {
	if depth > 4 {
		return spans, false
	}
	for i := 0; i < len(b); {
		if b[i] == 0x00 || b[i] == 0xff { // padding between objects
			i++
			continue
		}
		first := b[i]
		tag := uint32(first)
		i++
		if first&0x1f == 0x1f {
			for {
				if i >= len(b) || tag > 0xffffff {
					return spans, false
				}
				tag = tag<<8 | uint32(b[i])
				i++
				if b[i-1]&0x80 == 0 {
					break
				}
			}
		}
		if i >= len(b) {
			return spans, false
		}
		n := int(b[i])
		i++
		if n&0x80 != 0 {
			k := n & 0x7f
			if k == 0 || k > 2 || i+k > len(b) {
				return spans, false
			}
			n = 0
			for ; k > 0; k-- {
				n = n<<8 | int(b[i])
				i++
			}
		}
		if i+n > len(b) {
			return spans, false
		}
		if first&0x20 != 0 {
			var ok bool
			if spans, ok = emvSpans(b[i:i+n], base+2*i, spans, depth+1); !ok {
				return spans, false
			}
		} else if emvCardTags[tag] {
			spans = append(spans, span{base + 2*i, base + 2*(i+n)})
		}
		i += n
	}
	return spans, true
}

// MaskedHex is the hex of msg with its card data masked: the one form
// in which message bytes reach a log (dumps, bad frames, bytes that do
// not parse, the emulator, the tools). The fields the dialect can read
// are masked by what they are (MaskValue's rules, by nibble); whatever
// follows the first field it cannot read, or a whole buffer that is no
// message (a stream cut mid-frame), is shown only where it is text: a
// PIN block, EMV data or a packed card number there cannot be told from
// other binary, so no binary is shown, and card numbers and track 2 data
// in the text are masked too.
func (d *Dialect) MaskedHex(msg []byte) string {
	out := hex.AppendEncode(nil, msg)
	known := 0
	var s Scan
	if d != nil {
		err := d.Layout.Scan(msg, &s)
		var fe FieldError
		switch {
		case err == nil:
			known = s.Len
		case errors.As(err, &fe) && fe.Field > 1 && fe.Offset > 0 && fe.Offset <= len(msg):
			// Fields before the one at fault were read (the scan goes in
			// field order); the rest is not believed.
			known = fe.Offset
			var upTo FieldSet
			for id := 1; id < fe.Field; id++ {
				if s.Present.Has(id) {
					upTo.Add(id)
				}
			}
			s.Present = upTo
		}
	}
	if known > 0 {
		d.maskFields(msg, &s, out)
	}
	maskUnread(msg[known:], out[2*known:])
	return string(out)
}

// maskFields masks, in out (the hex of msg), the card data of the fields
// s says are present.
func (d *Dialect) maskFields(msg []byte, s *Scan, out []byte) {
	for _, sp := range d.cardSpans(msg, s) {
		for i := sp.from; i < sp.to && i < len(out); i++ {
			out[i] = '*'
		}
	}
	// A card number may hide in a field the dialect does not call card
	// data (private or additional data, in text or packed digits): any
	// variable-length one. Fixed ones are identifiers and amounts, whose
	// digits are no card's.
	for id := 3; id <= 128; id++ {
		f := &d.Layout.fields[id]
		if !s.Present.Has(id) || f.prefix == 0 || id == 35 || id == 45 || id == 52 || id == 55 {
			continue
		}
		start, end := int(s.start[id]), int(s.start[id])+int(s.size[id])
		if f.enc == EncASCII {
			maskCardText(msg[start:end], out[2*start:2*end], 2, false)
		} else {
			maskCardNibbles(msg[start:end], out[2*start:2*end])
		}
	}
}

// LogHex is how message bytes are written to a log: MaskedHex for a
// message (or what was framed as one), MaskedStreamHex for bytes that
// need not start at one, plain hex only when the operator asked for card
// data (--dangerous).
func (d *Dialect) LogHex(b []byte, stream, dangerous bool) string {
	switch {
	case dangerous:
		return hex.EncodeToString(b)
	case stream:
		return MaskedStreamHex(b)
	}
	return d.MaskedHex(b)
}

// MaskedStreamHex is the hex of bytes that need not begin at a message
// (a stream around a bad frame, the head of a buffer that did not
// frame), masked as MaskedHex masks what it cannot read: fields found in
// a stream at the wrong offset would put card data in fields that are
// not meant for it.
func MaskedStreamHex(buf []byte) string {
	out := hex.AppendEncode(nil, buf)
	maskUnread(buf, out)
	return string(out)
}

// maskUnread masks what no field describes. Only ASCII digits show
// there: a name, a PIN block, EMV data or packed digits cannot be told
// from the rest when nothing says where a field starts, and digits are
// what tell a length or an MTI out of step. Among the digits, card
// numbers and track data are masked, cut ones too.
func maskUnread(msg, out []byte) {
	for i := 0; i < len(msg); {
		j := i
		for j < len(msg) && msg[j] >= 0x20 && msg[j] <= 0x7e {
			j++
		}
		if j > i {
			maskCardText(msg[i:j], out[2*i:2*j], 2, true)
		}
		for k := i; k < j; k++ {
			if !isDigit(msg[k]) {
				out[2*k], out[2*k+1] = '*', '*'
			}
		}
		if j == i {
			out[2*i], out[2*i+1] = '*', '*'
			j++
		}
		i = j
	}
}

// maskCardText masks, in out (the hex of text, scale 2, or a copy of
// text, scale 1), what looks like card data where no field says so: the
// middle of every run of 13 or more digits (a PAN shows 6 and 4, as
// MaskPAN); the track characters after a separator ('=' or '^', or 'D'
// after 12 or more digits) and the digits before it. With cut, text may
// start or end inside a card number or track: a run of 7 or more digits
// touching the end shows its first 6; one of 5 or more touching the
// start shows at most its last 4.
func maskCardText(text, out []byte, scale int, cut bool) {
	hide := func(from, to int) {
		for k := scale * from; k < scale*to; k++ {
			out[k] = '*'
		}
	}
	trackChar := func(c byte) bool {
		return isDigit(c) || c == '^' || c == '/' || c == ' ' || c >= 'A' && c <= 'Z'
	}
	for i := 0; i < len(text); {
		j := i
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		run := j - i
		switch {
		case cut && i == 0 && run >= 13:
			hide(0, j-4)
		case cut && i == 0 && run >= 5: // the tail of a track, say
			hide(0, j)
		case cut && run >= 7 && j == len(text):
			hide(i+6, j)
		case run >= 13:
			hide(i+6, j-4)
		}
		if j+1 < len(text) && isDigit(text[j+1]) &&
			(text[j] == '=' || text[j] == '^' || (text[j] == 'D' || text[j] == 'd') && run >= 12) ||
			j+1 < len(text) && text[j] == '^' && trackChar(text[j+1]) {
			if run < 13 {
				hide(i, j)
			}
			k := j + 1
			for k < len(text) && trackChar(text[k]) {
				k++
			}
			hide(j+1, k)
			j = k
		}
		if j == i {
			j++
		}
		i = j
	}
}

// maskCardNibbles is maskCardText for packed digits: runs of 13 or more
// decimal nibbles show 6 and 4, and after 12 or more followed by the
// packed separator D, the rest (digits and F padding) is hidden.
func maskCardNibbles(b, out []byte) {
	n := 2 * len(b)
	nib := func(i int) byte {
		if i%2 == 0 {
			return b[i/2] >> 4
		}
		return b[i/2] & 0x0f
	}
	for i := 0; i < n; {
		if nib(i) > 9 {
			i++
			continue
		}
		j := i
		for j < n && nib(j) <= 9 {
			j++
		}
		run := j - i
		if run >= 13 {
			for k := i + 6; k < j-4; k++ {
				out[k] = '*'
			}
		}
		if run >= 12 && j < n && nib(j) == 0xd {
			if run < 13 {
				for k := i; k < j; k++ {
					out[k] = '*'
				}
			}
			k := j + 1
			for k < n && (nib(k) <= 9 || nib(k) == 0xf) {
				out[k] = '*'
				k++
			}
			j = k
		}
		i = j
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// cardSpans lists, in nibbles of msg, the card data of a scanned message.
func (d *Dialect) cardSpans(msg []byte, s *Scan) []span {
	var spans []span
	for _, id := range [...]int{2, 35} {
		if !s.Present.Has(id) {
			continue
		}
		f := &d.Layout.fields[id]
		start, units := int(s.start[id]), int(s.units[id])
		text := string(d.Layout.AppendText(nil, s, msg, id))
		masked := MaskPAN(text)
		if id == 35 {
			masked = MaskTrack2(text)
		}
		// Unit i of the value lies at nibble pos(i) of the message.
		pos := func(i int) (int, int) {
			switch f.enc {
			case EncBCD:
				pad := (int(s.size[id])*2 - units)
				return 2*start + pad + i, 1
			case EncTrack2BCD:
				return 2*start + i, 1
			}
			return 2 * (start + i), 2
		}
		for i := 0; i < len(masked) && i < units; i++ {
			if masked[i] == '*' {
				p, w := pos(i)
				spans = append(spans, span{p, p + w})
			}
		}
	}
	if s.Present.Has(45) { // track 1: name and PAN together
		spans = append(spans, span{2 * int(s.start[45]), 2 * (int(s.start[45]) + int(s.size[45]))})
	}
	if s.Present.Has(52) {
		spans = append(spans, span{2 * int(s.start[52]), 2 * (int(s.start[52]) + int(s.size[52]))})
	}
	if s.Present.Has(55) {
		start := int(s.start[55])
		raw := s.Raw(msg, 55)
		if sp, ok := emvSpans(raw, 2*start, nil, 0); ok {
			spans = append(spans, sp...)
		} else {
			spans = append(spans, span{2 * start, 2 * (start + len(raw))})
		}
	}
	return spans
}
