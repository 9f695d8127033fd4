package isocodec

import (
	"errors"
	"fmt"

	"github.com/moov-io/iso8583/encoding"
)

// Track2BCD packs track-2 characters two a byte: digits as themselves, the
// '=' separator as nibble D, an odd count padded with a zero nibble on the
// right. This is how the binary (jPOS ISO87B) family writes field 35;
// moov-io's BCD encoder takes digits only.
var Track2BCD encoding.Encoder = track2BCD{}

type track2BCD struct{}

var errTrack2Char = errors.New("track 2: only digits and '=' or 'D' can be packed")

func (track2BCD) Encode(src []byte) ([]byte, error) {
	out := make([]byte, (len(src)+1)/2)
	for i, c := range src {
		n, ok := track2Nibble(c)
		if !ok {
			return nil, errTrack2Char
		}
		if i%2 == 0 {
			out[i/2] = n << 4
		} else {
			out[i/2] |= n
		}
	}
	return out, nil
}

func (track2BCD) Decode(src []byte, length int) ([]byte, int, error) {
	if length < 0 {
		return nil, 0, fmt.Errorf("track 2: negative length %d", length)
	}
	read := (length + 1) / 2
	if len(src) < read {
		return nil, 0, fmt.Errorf("track 2: need %d bytes, have %d", read, len(src))
	}
	out := make([]byte, length)
	for i := range out {
		b := src[i/2]
		if i%2 == 0 {
			b >>= 4
		}
		c, ok := track2Char(b & 0x0f)
		if !ok {
			return nil, 0, errTrack2Char
		}
		out[i] = c
	}
	return out, read, nil
}

func track2Nibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c == '=' || c == 'D' || c == 'd':
		return 0xd, true
	}
	return 0, false
}

func track2Char(n byte) (byte, bool) {
	switch {
	case n <= 9:
		return '0' + n, true
	case n == 0xd:
		return '=', true
	}
	return 0, false
}

// SignedBCD is moov-io's view of an amount with its sign as jPOS's
// IFB_AMOUNT writes it: the C or D as one ASCII byte, then the digits
// packed two a byte, an odd count left-padded with a zero nibble. The
// length is in characters, the sign included.
var SignedBCD encoding.Encoder = signedBCD{}

type signedBCD struct{}

var errSignedAmount = errors.New("amount: C or D, then digits")

func (signedBCD) Encode(src []byte) ([]byte, error) {
	if len(src) == 0 || src[0] != 'C' && src[0] != 'D' {
		return nil, errSignedAmount
	}
	out, err := encoding.BCD.Encode(src[1:])
	if err != nil {
		return nil, errSignedAmount
	}
	return append([]byte{src[0]}, out...), nil
}

func (signedBCD) Decode(src []byte, length int) ([]byte, int, error) {
	if length < 1 || len(src) < 1 || src[0] != 'C' && src[0] != 'D' {
		return nil, 0, errSignedAmount
	}
	digits, read, err := encoding.BCD.Decode(src[1:], length-1)
	if err != nil {
		return nil, 0, fmt.Errorf("amount: %w", err)
	}
	return append([]byte{src[0]}, digits...), 1 + read, nil
}
