package isocodec

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DefaultMaxFrame bounds a message read from a peer. ISO-8583 messages
// with EMV data are well under 2 KiB; a declared length past this is a
// broken or hostile peer, and the connection is closed before anything is
// allocated for it.
const DefaultMaxFrame = 8 << 10

// DefaultHeaderFormat is the original's: 4 ASCII digits of message length.
const DefaultHeaderFormat = "length:n:4"

// ErrBadFrame: a length header that is not a number of its kind.
var ErrBadFrame = errors.New("isocodec: bad frame header")

// LengthCodec is how a header writes the length.
type LengthCodec uint8

const (
	LenASCII  LengthCodec = iota + 1 // "0263"
	LenBinary                        // 0x01 0x07, big-endian
	LenHex                           // "0107", ASCII hex digits
	LenBCD                           // 0x02 0x63, packed decimal
)

// HeaderPart is one part of a frame header: the length, or a static value
// that is written as given and skipped on read (a TPDU, a host id).
type HeaderPart struct {
	Name   string
	Size   int // bytes on the wire
	Length bool
	Codec  LengthCodec
	Static []byte
	// CountsFollowing: the length counts the header parts after it (a
	// TPDU) as well as the message (type bin, as TPDU hosts count). The
	// original's types count the message alone.
	CountsFollowing bool
}

// FramingConfig is what the original's options say about framing.
type FramingConfig struct {
	// HeaderFormat is a comma list of name:type:length[:default]; the part
	// named "length" carries the length (types n: ASCII digits; b or bcd:
	// the digits packed, as the original wrote b, 60 as 0x0060; bin: the
	// number in binary, 60 as 0x003c, counting the parts after it too; h:
	// ASCII hex), the others are static (types an, ans, n with an ASCII
	// default; b with a hex default). Empty means DefaultHeaderFormat.
	HeaderFormat string
	// Bare: no header; the message's end is found by scanning it with
	// Layout (the original's useHeader=false, and its POS clients).
	Bare   bool
	Layout *Layout
	// LengthIncludeHeader: the length counts the whole header as well.
	// Otherwise it counts the message (and, for type bin, the header
	// parts after it).
	LengthIncludeHeader bool
	// MaxFrame bounds the message; 0 means DefaultMaxFrame.
	MaxFrame int
}

// FramingPresets are short names for common header formats.
var FramingPresets = map[string]string{
	"ascii4": "length:n:4",
	"bin2":   "length:bin:2",
	"hex4":   "length:h:4",
	"bcd2":   "length:bcd:2",
	"tpdu":   "length:bin:2,tpdu:b:5:6000000000",
}

// FramingByName builds a framing from a preset name, "none" (or "bare")
// for bare messages, or a header format; the rest of c (layout, maximum,
// lengthIncludeHeader) applies as given.
func FramingByName(name string, c FramingConfig) (*Framing, error) {
	switch {
	case name == "none" || name == "bare":
		c.Bare = true
	case FramingPresets[name] != "":
		c.HeaderFormat = FramingPresets[name]
	default:
		c.HeaderFormat = name
	}
	return NewFraming(c)
}

// Framing splits a byte stream into messages and writes messages as
// frames. It holds no per-connection state and is safe to share.
type Framing struct {
	parts     []HeaderPart
	headerLen int
	lenAt     int // offset of the length part
	lenPart   HeaderPart
	afterLen  int // header bytes after the length part
	inclHdr   bool
	bare      *Layout
	max       int
}

// NewFraming checks a configuration and builds the framing.
func NewFraming(c FramingConfig) (*Framing, error) {
	f := &Framing{max: c.MaxFrame, inclHdr: c.LengthIncludeHeader}
	if f.max <= 0 {
		f.max = DefaultMaxFrame
	}
	if f.max > MaxMessage {
		return nil, fmt.Errorf("framing: maximum frame %d over %d", f.max, MaxMessage)
	}
	if c.Bare {
		if c.Layout == nil {
			return nil, errors.New("framing: bare messages need a dialect to find their end")
		}
		f.bare = c.Layout
		return f, nil
	}
	format := c.HeaderFormat
	if format == "" {
		format = DefaultHeaderFormat
	}
	parts, err := ParseHeaderFormat(format)
	if err != nil {
		return nil, err
	}
	f.parts = parts
	found := false
	for _, p := range parts {
		if p.Length {
			f.lenAt, f.lenPart, found = f.headerLen, p, true
		} else if found && f.lenPart.CountsFollowing {
			f.afterLen += p.Size
		}
		f.headerLen += p.Size
	}
	if !found {
		return nil, fmt.Errorf("framing: header format %q has no length part", format)
	}
	return f, nil
}

// ParseHeaderFormat reads the original's headerFormat option.
func ParseHeaderFormat(format string) ([]HeaderPart, error) {
	var parts []HeaderPart
	for _, item := range strings.Split(format, ",") {
		bits := strings.SplitN(strings.TrimSpace(item), ":", 4)
		if len(bits) < 3 {
			return nil, fmt.Errorf("header part %q: want name:type:length[:default]", item)
		}
		name, typ := bits[0], strings.ToLower(bits[1])
		size, err := strconv.Atoi(bits[2])
		if err != nil || size <= 0 || size > 64 {
			return nil, fmt.Errorf("header part %q: length must be 1..64", item)
		}
		p := HeaderPart{Name: name, Size: size}
		if name == "length" {
			p.Length = true
			switch typ {
			case "n":
				p.Codec = LenASCII
			case "b", "bcd":
				p.Codec = LenBCD
			case "bin":
				p.Codec, p.CountsFollowing = LenBinary, true
			case "h", "hex":
				p.Codec = LenHex
			default:
				return nil, fmt.Errorf("header part %q: length type must be n, b (packed digits, as the original), bin (binary), h or bcd", item)
			}
			if size > 8 {
				return nil, fmt.Errorf("header part %q: a length of %d bytes makes no sense", item, size)
			}
			parts = append(parts, p)
			continue
		}
		def := ""
		if len(bits) == 4 {
			def = bits[3]
		}
		switch typ {
		case "b":
			if def == "" {
				p.Static = make([]byte, size)
			} else if p.Static, err = hex.DecodeString(def); err != nil || len(p.Static) != size {
				return nil, fmt.Errorf("header part %q: default must be %d bytes of hex", item, size)
			}
		case "an", "ans", "n", "a":
			if def == "" {
				def = strings.Repeat(" ", size)
			}
			if len(def) != size {
				return nil, fmt.Errorf("header part %q: default must be %d characters", item, size)
			}
			p.Static = []byte(def)
		default:
			return nil, fmt.Errorf("header part %q: type must be an, ans, n or b", item)
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// MaxFrame is the largest message this framing accepts.
func (f *Framing) MaxFrame() int { return f.max }

// Bare reports whether messages travel without a header.
func (f *Framing) Bare() bool { return f.bare != nil }

// Split finds the first message in data, which it does not keep or
// change. It returns the bytes to consume and the message, a sub-slice of
// data. (0, nil, nil) means "read more". A zero-length message is a
// keep-alive: advance > 0 with an empty msg. atEOF says no more bytes will
// come, so a partial message is an error. scratch, if not nil, receives
// the scan of a bare message so the caller need not scan it again.
func (f *Framing) Split(data []byte, atEOF bool, scratch *Scan) (advance int, msg []byte, err error) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	if f.bare != nil {
		return f.splitBare(data, atEOF, scratch)
	}
	if len(data) < f.headerLen {
		if atEOF {
			return 0, nil, fmt.Errorf("frame header: %w", ErrTruncated)
		}
		return 0, nil, nil
	}
	n, ok := decodeFrameLength(f.lenPart.Codec, data[f.lenAt:f.lenAt+f.lenPart.Size])
	if !ok {
		return 0, nil, ErrBadFrame
	}
	if f.inclHdr {
		n -= f.headerLen
	} else {
		n -= f.afterLen
	}
	if n < 0 {
		return 0, nil, fmt.Errorf("%w: length shorter than the header", ErrBadFrame)
	}
	if n > f.max {
		return 0, nil, fmt.Errorf("frame of %d bytes, maximum %d: %w", n, f.max, ErrTooLarge)
	}
	total := f.headerLen + n
	if len(data) < total {
		if atEOF {
			return 0, nil, fmt.Errorf("frame body: %w", ErrTruncated)
		}
		return 0, nil, nil
	}
	return total, data[f.headerLen:total], nil
}

func (f *Framing) splitBare(data []byte, atEOF bool, scratch *Scan) (int, []byte, error) {
	var local Scan
	if scratch == nil {
		scratch = &local
	}
	err := f.bare.Scan(data, scratch)
	switch {
	case err == nil:
		if scratch.Len > f.max {
			return 0, nil, fmt.Errorf("message of %d bytes, maximum %d: %w", scratch.Len, f.max, ErrTooLarge)
		}
		return scratch.Len, data[:scratch.Len], nil
	case errors.Is(err, ErrTruncated) && !atEOF:
		if len(data) >= f.max {
			return 0, nil, fmt.Errorf("message over %d bytes: %w", f.max, ErrTooLarge)
		}
		return 0, nil, nil
	}
	return 0, nil, err
}

func decodeFrameLength(c LengthCodec, b []byte) (int, bool) {
	v := 0
	for _, x := range b {
		switch c {
		case LenASCII:
			if x < '0' || x > '9' {
				return 0, false
			}
			v = v*10 + int(x-'0')
		case LenBinary:
			v = v<<8 | int(x)
		case LenHex:
			d, ok := hexDigit(x)
			if !ok {
				return 0, false
			}
			v = v<<4 | int(d)
		case LenBCD:
			hi, lo := x>>4, x&0x0f
			if hi > 9 || lo > 9 {
				return 0, false
			}
			v = v*100 + int(hi)*10 + int(lo)
		}
		if v > 1<<24 {
			return 0, false
		}
	}
	return v, true
}

func hexDigit(x byte) (byte, bool) {
	switch {
	case x >= '0' && x <= '9':
		return x - '0', true
	case x >= 'a' && x <= 'f':
		return x - 'a' + 10, true
	case x >= 'A' && x <= 'F':
		return x - 'A' + 10, true
	}
	return 0, false
}

// Append writes msg as one frame to dst. It fails only if msg is longer
// than the header can express or than the maximum frame.
func (f *Framing) Append(dst, msg []byte) ([]byte, error) {
	if len(msg) > f.max {
		return dst, fmt.Errorf("message of %d bytes, maximum %d: %w", len(msg), f.max, ErrTooLarge)
	}
	if f.bare != nil {
		return append(dst, msg...), nil
	}
	n := len(msg) + f.afterLen
	if f.inclHdr {
		n = len(msg) + f.headerLen
	}
	for _, p := range f.parts {
		if !p.Length {
			dst = append(dst, p.Static...)
			continue
		}
		var ok bool
		if dst, ok = appendFrameLength(dst, p, n); !ok {
			return dst, fmt.Errorf("length %d does not fit header part %s: %w", n, p.Name, ErrTooLarge)
		}
	}
	return append(dst, msg...), nil
}

func appendFrameLength(dst []byte, p HeaderPart, n int) ([]byte, bool) {
	start := len(dst)
	for range p.Size {
		dst = append(dst, 0)
	}
	b := dst[start:]
	v := n
	for i := p.Size - 1; i >= 0; i-- {
		switch p.Codec {
		case LenASCII:
			b[i] = '0' + byte(v%10)
			v /= 10
		case LenBinary:
			b[i] = byte(v)
			v >>= 8
		case LenHex:
			b[i] = "0123456789ABCDEF"[v&0xf]
			v >>= 4
		case LenBCD:
			b[i] = byte(v%10) | byte(v/10%10)<<4
			v /= 100
		}
	}
	return dst, v == 0
}

// Each calls fn for every complete message at the start of data, skipping
// keep-alives, until fn returns false or no complete message is left. It
// returns how many bytes were used (including the message fn stopped
// at), so the caller discards exactly those. An error is a broken frame:
// the stream is out of step and the connection should be closed.
func (f *Framing) Each(data []byte, scratch *Scan, fn func(msg []byte) bool) (int, error) {
	off := 0
	for off < len(data) {
		adv, msg, err := f.Split(data[off:], false, scratch)
		if err != nil {
			return off, err
		}
		if adv == 0 {
			break
		}
		off += adv
		if len(msg) > 0 && !fn(msg) {
			break
		}
	}
	return off, nil
}

// Inbound holds the bytes a connection has received and not yet used.
// When nothing is held from before, Take lends the network library's own
// read buffer and the frames are cut from it in place; Keep then copies
// only a partial frame left at its end, which stays until the rest
// comes. Otherwise what arrived is appended to what is held. So a read
// of whole frames costs no copy, and the stream stays in step whatever
// the library does with its buffer after the callback.
type Inbound struct {
	buf []byte
	// lent is the library's buffer Take returned, until Keep.
	lent []byte
}

// Drainer is what Inbound reads from: gnet.Conn's Next.
type Drainer interface {
	Next(n int) ([]byte, error)
}

// Take takes everything c has buffered and returns all unused bytes:
// c's own when in holds none. The result is valid until Keep, which must
// come before the callback that called Take returns.
func (in *Inbound) Take(c Drainer) []byte {
	data, _ := c.Next(-1)
	if len(in.buf) == 0 {
		in.lent = data
		return data
	}
	in.buf = append(in.buf, data...)
	return in.buf
}

// Decrypter is what Inbound reads from on a TLS connection: it appends
// the plaintext of what the loop has read (tlsloop.Conn).
type Decrypter interface {
	AppendRead(dst []byte) []byte
}

// TakeFrom is Take for a TLS connection: the plaintext lands in in's own
// buffer, with no copy between.
func (in *Inbound) TakeFrom(d Decrypter) []byte {
	in.buf = d.AppendRead(in.buf)
	return in.buf
}

// Keep drops the first n bytes (the frames used) and keeps the rest.
func (in *Inbound) Keep(n int) {
	if in.lent != nil {
		in.buf = append(in.buf[:0], in.lent[max(n, 0):]...)
		in.lent = nil
		return
	}
	if n <= 0 {
		return
	}
	m := copy(in.buf, in.buf[n:])
	in.buf = in.buf[:m]
	if cap(in.buf) > 1<<20 && m < 4096 { // let a burst's buffer go
		in.buf = append([]byte(nil), in.buf...)
	}
}

// Len is the number of bytes held.
func (in *Inbound) Len() int { return len(in.buf) }
