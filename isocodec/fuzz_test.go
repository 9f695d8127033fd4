package isocodec

import (
	"bytes"
	"errors"
	"testing"
)

func seedMessages(f *testing.F) {
	for _, name := range []string{"sv_200_purchase.bin", "sv_800_echo.bin", "sv_200_purchase_header.bin", "sv_800_echo_header.bin"} {
		f.Add(readFixture(f, name))
	}
	for _, g := range openWayGolden {
		msg, err := OpenWay.Pack(g.fields)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
}

// FuzzScan: the scanner never panics, never reads past what it reports,
// and agrees with moov-io on every dialect.
func FuzzScan(f *testing.F) {
	seedMessages(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		if h := MaskedStreamHex(msg); len(h) != 2*len(msg) {
			t.Fatalf("masked stream hex of %d bytes is %d long", len(msg), len(h))
		}
		for _, d := range []*Dialect{SmartVista, OpenWay} {
			if h := d.MaskedHex(msg); len(h) != 2*len(msg) {
				t.Fatalf("%s: masked hex of %d bytes is %d long", d.Name, len(msg), len(h))
			}
			var s Scan
			if err := d.Layout.Scan(msg, &s); err == nil {
				if s.Len > len(msg) {
					t.Fatalf("%s: scan length %d past %d", d.Name, s.Len, len(msg))
				}
				d.Check(msg, &s, CheckOptions{}, nil)
				var k Key
				k.Append(&s, msg, DefaultKeyFields)
				_ = d.MaskedHex(msg)
				sameAfterCopy(t, d, msg, &s)
			}
			if err := agree(d, msg); err != nil {
				t.Fatalf("%s: %v", d.Name, err)
			}
		}
	})
}

// FuzzUnpack: moov-io behind Unpack, Pack, Dump and the masks never
// panics, and what unpacks packs back to the same bytes.
func FuzzUnpack(f *testing.F) {
	seedMessages(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, d := range []*Dialect{SmartVista, OpenWay} {
			_ = d.Dump(msg, DumpOptions{})
			var s Scan
			if d.Layout.Scan(msg, &s) != nil || len(d.Check(msg, &s, CheckOptions{}, nil).withoutMissing()) > 0 || hasEmptyField(&s) {
				continue // moov-io packs no zero-length variable field
			}
			fields, err := d.Unpack(msg)
			if err != nil {
				t.Fatalf("%s: clean scan but unpack: %v", d.Name, err)
			}
			packed, err := d.Pack(fields)
			if err != nil {
				// Fields that unpack but do not pack back exist only
				// where the bitmap asks for a third bitmap (bit 65).
				if s.Present.Has(1) && s.Present.Has(65) {
					continue
				}
				t.Fatalf("%s: repack: %v", d.Name, err)
			}
			if !bytes.Equal(packed, msg[:s.Len]) {
				t.Fatalf("%s: repack differs:\n got %x\nwant %x", d.Name, packed, msg[:s.Len])
			}
		}
	})
}

// FuzzFraming: every framing splits any stream without panicking, never
// returns a message over its maximum, and splits the same whether the
// bytes arrive at once or in two reads.
func FuzzFraming(f *testing.F) {
	seedMessages(f)
	f.Add([]byte("0000"))
	f.Add([]byte{0xff, 0xff, 0x01})
	framings := map[string]*Framing{}
	for _, name := range []string{"ascii4", "bin2", "hex4", "bcd2", "tpdu", "none", "tic:an:8:A4M04000,length:n:4"} {
		fr, err := FramingByName(name, FramingConfig{Layout: SmartVista.Layout, MaxFrame: 512})
		if err != nil {
			f.Fatal(err)
		}
		framings[name] = fr
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, fr := range framings {
			whole := splitAll(fr, data)
			if whole.err == nil || !errors.Is(whole.err, ErrTruncated) {
				for _, m := range whole.msgs {
					if len(m) > fr.MaxFrame() {
						t.Fatalf("%s: message of %d over max", name, len(m))
					}
				}
			}
			half := len(data) / 2
			var scratch Scan
			adv, _, err := fr.Split(data[:half], false, &scratch)
			if err == nil && adv == 0 {
				// Nothing decided on the first half: the whole must decide
				// the same first message as a one-shot split.
				adv2, m2, err2 := fr.Split(data, false, &scratch)
				adv1, m1, err1 := fr.Split(data, false, nil)
				if adv1 != adv2 || !bytes.Equal(m1, m2) || (err1 == nil) != (err2 == nil) {
					t.Fatalf("%s: split differs with scratch", name)
				}
			}
		}
	})
}

type splitResult struct {
	msgs [][]byte
	err  error
}

func splitAll(fr *Framing, data []byte) splitResult {
	var r splitResult
	for len(data) > 0 {
		adv, m, err := fr.Split(data, true, nil)
		if err != nil {
			r.err = err
			return r
		}
		if adv == 0 {
			return r
		}
		r.msgs = append(r.msgs, m)
		data = data[adv:]
	}
	return r
}

// FuzzJSON: any body gives fields or an error, and fields either pack or
// give field errors; nothing panics.
func FuzzJSON(f *testing.F) {
	f.Add([]byte(seedPurchaseJSON))
	f.Add([]byte(`{"0":"800","3":"0","7":"0607161700","11":"123456","24":"0","41":"00123456","42":"123567890124567"}`))
	f.Add([]byte(`{"0":1e99}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, err := FieldsFromJSON(body)
		if err != nil {
			return
		}
		for _, d := range []*Dialect{SmartVista, OpenWay} {
			msg, err := d.Pack(fields)
			if err != nil {
				continue
			}
			var s Scan
			if err := d.Layout.Scan(msg, &s); err != nil || s.Len != len(msg) {
				t.Fatalf("%s: packed message does not scan: %v", d.Name, err)
			}
		}
	})
}

func hasEmptyField(s *Scan) bool {
	for id := 2; id <= 128; id++ {
		if s.Has(id) && s.Units(id) == 0 {
			return true
		}
	}
	return false
}

// sameAfterCopy: an unedited AppendEdited copy scans to the same fields
// with the same values (only a secondary bitmap without fields may go).
func sameAfterCopy(t *testing.T, d *Dialect, msg []byte, s *Scan) {
	out, err := d.Layout.AppendEdited(nil, s.MTI, msg, s)
	if err != nil {
		t.Fatalf("%s: copy: %v", d.Name, err)
	}
	var c Scan
	if err := d.Layout.Scan(out, &c); err != nil {
		t.Fatalf("%s: copy does not scan: %v", d.Name, err)
	}
	want := s.Present
	want[0] &^= 1
	got := c.Present
	got[0] &^= 1
	if got != want || c.MTI != s.MTI {
		t.Fatalf("%s: copy has fields %v, want %v", d.Name, got, want)
	}
	want.Each(func(id int) bool {
		if string(c.Raw(out, id)) != string(s.Raw(msg, id)) {
			t.Fatalf("%s: field %d differs after copy", d.Name, id)
		}
		return true
	})
}
