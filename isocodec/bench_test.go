package isocodec

import (
	"testing"
	"time"

	"github.com/moov-io/iso8583"
)

// The relay path: scan, check and key a client's purchase.
func BenchmarkScanCheckKey(b *testing.B) {
	msg := readFixture(b, "sv_200_purchase.bin")
	now := time.Date(2016, 6, 7, 17, 38, 0, 0, time.UTC)
	var s Scan
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := SmartVista.Layout.Scan(msg, &s); err != nil {
			b.Fatal(err)
		}
		if errs := SmartVista.Check(msg, &s, CheckOptions{Now: now, Location: time.UTC}, nil); len(errs) != 0 {
			b.Fatal(errs)
		}
		var k Key
		_ = k.Append(&s, msg, DefaultKeyFields)
	}
}

// BenchmarkCheckLocalTime: the expiry check's reading of field 12 in a
// zone with changes of offset, through a time.Date per message and
// through a connection's LocalDays.
func BenchmarkCheckLocalTime(b *testing.B) {
	msg := readFixture(b, "sv_200_purchase.bin")
	loc, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		b.Fatal(err)
	}
	var s Scan
	if err := SmartVista.Layout.Scan(msg, &s); err != nil {
		b.Fatal(err)
	}
	now := time.Date(2016, 6, 7, 17, 38, 0, 0, loc)
	for _, held := range []bool{false, true} {
		b.Run(map[bool]string{false: "time.Date", true: "LocalDays"}[held], func(b *testing.B) {
			opt := CheckOptions{Now: now, Location: loc, Window: 1000 * time.Hour}
			if held {
				opt.Days = &LocalDays{}
			}
			b.ReportAllocs()
			for b.Loop() {
				if errs := SmartVista.checkExpiry(msg, &s, opt, nil); len(errs) != 0 {
					b.Fatal(errs)
				}
			}
		})
	}
}

func BenchmarkFramingSplit(b *testing.B) {
	frame := readFixture(b, "sv_200_purchase_header.bin")
	f, _ := NewFraming(FramingConfig{})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.Split(frame, false, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFramingAppend(b *testing.B) {
	msg := readFixture(b, "sv_200_purchase.bin")
	f, _ := NewFraming(FramingConfig{})
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = f.Append(buf[:0], msg)
	}
}

func BenchmarkMoovUnpack(b *testing.B) {
	msg := readFixture(b, "sv_200_purchase.bin")
	b.ReportAllocs()
	for b.Loop() {
		m := iso8583.NewMessage(SmartVista.Spec)
		if err := m.Unpack(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMoovPack(b *testing.B) {
	msg := readFixture(b, "sv_200_purchase.bin")
	m := iso8583.NewMessage(SmartVista.Spec)
	if err := m.Unpack(msg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Pack(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONToMessage(b *testing.B) {
	body := []byte(seedPurchaseJSON)
	b.ReportAllocs()
	for b.Loop() {
		f, err := FieldsFromJSON(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := SmartVista.Pack(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageToJSON(b *testing.B) {
	msg := readFixture(b, "sv_200_purchase.bin")
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		f, err := SmartVista.Unpack(msg)
		if err != nil {
			b.Fatal(err)
		}
		buf = AppendJSON(buf[:0], f)
	}
}

func BenchmarkDumpMasked(b *testing.B) {
	msg := readFixture(b, "sv_200_purchase.bin")
	b.ReportAllocs()
	for b.Loop() {
		_ = SmartVista.Dump(msg, DumpOptions{})
	}
}

// Scan alone: what routing a reply costs (replies are not checked).
func BenchmarkScan(b *testing.B) {
	msg := readFixture(b, "sv_200_purchase.bin")
	var s Scan
	b.ReportAllocs()
	for b.Loop() {
		if err := SmartVista.Layout.Scan(msg, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEdited(b *testing.B) {
	msg := readFixture(b, "sv_200_purchase.bin")
	var s Scan
	if err := SmartVista.Layout.Scan(msg, &s); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	rrn, code, auth := []byte("123456789012"), []byte("000"), []byte("A1B2C3")
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		buf, _ = SmartVista.Layout.AppendEdited(buf[:0], MTIPurchaseResponse, msg, &s, Set(39, code), Set(37, rrn), Set(38, auth))
	}
}

func BenchmarkMessageToJSONScan(b *testing.B) {
	msg := readFixture(b, "sv_200_purchase.bin")
	var s Scan
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if err := SmartVista.Layout.Scan(msg, &s); err != nil {
			b.Fatal(err)
		}
		dst = SmartVista.Layout.AppendMessageJSON(dst[:0], msg, &s, SmartVista.JSONNumbers())
	}
}
