package isocodec

import (
	"encoding/hex"
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

// MaskedHex is the hex of a message with its card data masked, for raw
// dumps. With a dialect it masks by field; whatever it cannot scan it
// masks by looking for card-number-like digit runs.
func (d *Dialect) MaskedHex(msg []byte) string {
	out := hex.AppendEncode(nil, msg)
	var s Scan
	if d == nil || d.Layout.Scan(msg, &s) != nil {
		maskDigitRuns(msg, out)
		return string(out)
	}
	for _, sp := range d.cardSpans(msg, &s) {
		for i := sp.from; i < sp.to && i < len(out); i++ {
			out[i] = '*'
		}
	}
	// A PAN may hide in a text field the dialect does not call card data
	// (private data, additional data): look inside each long one.
	for id := 3; id <= 128; id++ {
		f := &d.Layout.fields[id]
		if id == 35 || !s.Has(id) || f.enc != EncASCII || s.units[id] < 13 {
			continue
		}
		start, end := int(s.start[id]), int(s.start[id])+int(s.size[id])
		maskDigitRuns(msg[start:end], out[2*start:2*end])
	}
	return string(out)
}

// cardSpans lists, in nibbles of msg, the card data of a scanned message.
func (d *Dialect) cardSpans(msg []byte, s *Scan) []span {
	var spans []span
	for _, id := range [...]int{2, 35} {
		if !s.Has(id) {
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
	if s.Has(52) {
		spans = append(spans, span{2 * int(s.start[52]), 2 * (int(s.start[52]) + int(s.size[52]))})
	}
	if s.Has(55) {
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

// maskDigitRuns masks, in the hex dump out of msg, the middle of every run
// of 13 to 19 ASCII digits: what a PAN looks like where no field says so.
func maskDigitRuns(msg []byte, out []byte) {
	run := 0
	for i := 0; i <= len(msg); i++ {
		if i < len(msg) && msg[i] >= '0' && msg[i] <= '9' {
			run++
			continue
		}
		if run >= 13 {
			start := i - run
			for k := start + 6; k < i-4; k++ {
				out[2*k], out[2*k+1] = '*', '*'
			}
		}
		run = 0
	}
}
