package isocodec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func mustFraming(t testing.TB, c FramingConfig) *Framing {
	t.Helper()
	if c.Layout == nil {
		c.Layout = SmartVista.Layout
	}
	f, err := NewFraming(c)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFramingFormats(t *testing.T) {
	msg := []byte("0800\x22\x20\x01\x00\x00\xc0\x00\x00" + "000000" + "0607161700" + "123456" + "000" + "00123456" + "123567890124567")
	n := len(msg) // 60
	for _, tc := range []struct {
		name   string
		cfg    FramingConfig
		header string // hex
	}{
		{"ascii4 default", FramingConfig{}, hex.EncodeToString([]byte("0060"))},
		{"binary 2", FramingConfig{HeaderFormat: "length:bin:2"}, "003c"},
		{"b as the original wrote it: the digits packed", FramingConfig{HeaderFormat: "length:b:2"}, "0060"},
		{"hex 4", FramingConfig{HeaderFormat: "length:h:4"}, hex.EncodeToString([]byte("003C"))},
		{"bcd 2", FramingConfig{HeaderFormat: "length:bcd:2"}, "0060"},
		{"static before length", FramingConfig{HeaderFormat: "tic:an:8:A4M04000,length:n:4"}, hex.EncodeToString([]byte("A4M040000060"))},
		{"include header", FramingConfig{HeaderFormat: "tic:an:8:A4M04000,length:n:4", LengthIncludeHeader: true}, hex.EncodeToString([]byte("A4M040000072"))},
		{"tpdu after a binary length is counted", FramingConfig{HeaderFormat: "length:bin:2,tpdu:b:5:6000010000"}, "0041" + "6000010000"},
		{"the original counts the message alone", FramingConfig{HeaderFormat: "length:b:2,tpdu:b:5:6000010000"}, "0060" + "6000010000"},
		{"bare", FramingConfig{Bare: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustFraming(t, tc.cfg)
			frame, err := f.Append(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(frame[:len(frame)-n]); got != tc.header {
				t.Fatalf("header %s, want %s", got, tc.header)
			}
			// Two frames back to back, fed one byte at a time: nothing until
			// each frame is whole, then exactly that frame.
			stream := append(bytes.Clone(frame), frame...)
			var buf []byte
			got := 0
			for i := 0; i < len(stream); i++ {
				buf = append(buf, stream[i])
				adv, m, err := f.Split(buf, false, nil)
				if err != nil {
					t.Fatalf("byte %d: %v", i, err)
				}
				if adv == 0 {
					continue
				}
				if !bytes.Equal(m, msg) {
					t.Fatalf("frame %d: %x", got, m)
				}
				buf = buf[adv:]
				got++
			}
			if got != 2 || len(buf) != 0 {
				t.Fatalf("got %d frames, %d bytes left", got, len(buf))
			}
		})
	}
}

func TestFramingRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   FramingConfig
		input []byte
		atEOF bool
		want  error
	}{
		{"declared length over max", FramingConfig{MaxFrame: 100}, []byte("0101"), false, ErrTooLarge},
		{"binary length over max", FramingConfig{HeaderFormat: "length:bin:2"}, []byte{0xff, 0xff}, false, ErrTooLarge},
		{"packed length not digits", FramingConfig{HeaderFormat: "length:b:2"}, []byte{0xff, 0xff}, false, ErrBadFrame},
		{"not digits", FramingConfig{}, []byte("GET / HTTP/1.1"), false, ErrBadFrame},
		{"bad bcd", FramingConfig{HeaderFormat: "length:bcd:2"}, []byte{0x0a, 0x00}, false, ErrBadFrame},
		{"shorter than header", FramingConfig{HeaderFormat: "length:bin:2,tpdu:b:5", LengthIncludeHeader: true}, []byte{0, 3, 0, 0, 0, 0, 0}, false, ErrBadFrame},
		{"truncated at EOF", FramingConfig{}, []byte("0010abc"), true, ErrTruncated},
		{"bare garbage", FramingConfig{Bare: true}, []byte{0x16, 0x03, 0x01}, false, ErrNotISO},
		{"bare LLL past max", FramingConfig{Bare: true, MaxFrame: 64}, append([]byte("0200\x00\x00\x00\x00\x00\x00\x00\x04999"), make([]byte, 100)...), false, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustFraming(t, tc.cfg)
			_, _, err := f.Split(tc.input, tc.atEOF, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFramingBareWaitsThenBounds(t *testing.T) {
	// A bare message whose LLL field promises more than max: the framing
	// waits while under max and refuses once the buffer reaches it.
	f := mustFraming(t, FramingConfig{Bare: true, MaxFrame: 100})
	msg := readFixture(t, "sv_200_purchase.bin")
	if adv, _, err := f.Split(msg[:99], false, nil); adv != 0 || err != nil {
		t.Fatalf("partial: adv %d err %v", adv, err)
	}
	if _, _, err := f.Split(msg, false, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("263-byte message with max 100: %v", err)
	}
}

func TestHeaderFormatErrors(t *testing.T) {
	for _, format := range []string{"length", "length:x:4", "length:n:0", "tic:an:8:short,length:n:4", "tic:b:2:zz,length:n:4", "tic:an:8:A4M04000", "length:n:12"} {
		if _, err := NewFraming(FramingConfig{HeaderFormat: format}); err == nil {
			t.Errorf("%q accepted", format)
		}
	}
}

func TestKeepAlive(t *testing.T) {
	f := mustFraming(t, FramingConfig{})
	adv, msg, err := f.Split([]byte("00000060"), false, nil)
	if err != nil || adv != 4 || msg == nil || len(msg) != 0 {
		t.Fatalf("adv %d msg %q err %v", adv, msg, err)
	}
}

// loopBuffer is a Drainer that reads every chunk into one buffer, as an
// event loop reuses its read buffer for the next read: bytes kept from
// it past Keep would be overwritten.
type loopBuffer struct {
	chunks [][]byte
	buf    [1 << 12]byte
}

func (l *loopBuffer) Next(int) ([]byte, error) {
	if len(l.chunks) == 0 {
		return nil, nil
	}
	n := copy(l.buf[:], l.chunks[0])
	l.chunks = l.chunks[1:]
	clear(l.buf[n:])
	return l.buf[:n], nil
}

// echoStream is n echoes framed ascii4, one after another.
func echoStream(t *testing.T, n int) (f *Framing, msg, stream []byte) {
	f, _ = FramingByName("ascii4", FramingConfig{Layout: SmartVista.Layout})
	msg = readFixture(t, "sv_800_echo.bin")
	for range n {
		stream, _ = f.Append(stream, msg)
	}
	return f, msg, stream
}

// TestInbound: frames cut across reads come out whole, in order, with
// nothing lost between reads.
func TestInbound(t *testing.T) {
	f, msg, stream := echoStream(t, 5)
	for _, size := range []int{1, 3, 7, 50, len(stream)} {
		var in Inbound
		src := &loopBuffer{}
		for i := 0; i < len(stream); i += size {
			src.chunks = append(src.chunks, stream[i:min(i+size, len(stream))])
		}
		got := 0
		for range len(src.chunks) + 1 {
			buf := in.Take(src)
			off, err := f.Each(buf, nil, func(m []byte) bool {
				if string(m) != string(msg) {
					t.Fatalf("size %d: message %d differs", size, got)
				}
				got++
				return true
			})
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			in.Keep(off)
		}
		if got != 5 || in.Len() != 0 {
			t.Fatalf("size %d: %d messages, %d bytes left", size, got, in.Len())
		}
	}
}

// TestInboundWholeFramesInPlace: a read of whole frames is cut from the
// loop's own buffer, not copied; only a partial frame at its end is.
func TestInboundWholeFramesInPlace(t *testing.T) {
	f, _, stream := echoStream(t, 3)
	partial := len(stream) - 5
	src := &loopBuffer{chunks: [][]byte{stream[:partial], stream[partial:]}}
	var in Inbound
	inPlace := 0
	for range 2 {
		buf := in.Take(src)
		off, err := f.Each(buf, nil, func(m []byte) bool {
			for i := range src.buf {
				if &m[0] == &src.buf[i] {
					inPlace++
					break
				}
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		in.Keep(off)
	}
	// The first read holds two whole frames and the start of the third.
	if inPlace != 2 || in.Len() != 0 {
		t.Fatalf("%d of 3 frames cut in place, %d bytes left", inPlace, in.Len())
	}
}
