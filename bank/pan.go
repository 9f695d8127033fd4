package bank

import "github.com/socketqueue/socketqueue-go/isocodec"

// PAN is a card number as a comparable value, so accounts are found
// without allocating a string per request.
type PAN struct {
	n uint8
	b [19]byte
}

// PANOf takes the digits of a PAN (12 to 19), or of track 2 up to its
// separator.
func PANOf(text []byte) (PAN, bool) {
	var p PAN
	for _, c := range text {
		if c == '=' || c == 'D' || c == 'd' {
			break
		}
		if c < '0' || c > '9' || int(p.n) == len(p.b) {
			return PAN{}, false
		}
		p.b[p.n] = c
		p.n++
	}
	return p, p.n >= 12
}

// Digits is the full PAN. Card data: never log it.
func (p PAN) Digits() string { return string(p.b[:p.n]) }

// Masked is the PAN as logs may show it: first 6 and last 4.
func (p PAN) Masked() string { return isocodec.MaskPAN(p.Digits()) }
