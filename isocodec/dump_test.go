package isocodec

import (
	"strings"
	"testing"
	"time"
)

const (
	fixturePAN    = "4850781234567891"
	fixtureTrack2 = "4850781234567891=19082012232800000037"
)

func TestDumpFormatAndMasking(t *testing.T) {
	msg := readFixture(t, "sv_200_purchase.bin")
	out := SmartVista.Dump(msg, DumpOptions{})
	for _, want := range []string{
		"[Purchase Request]\n",
		"Message Type Indicator [0].......................0200\n",
		"Bitmap [1].......................................3230058020c08200\n",
		"POS Entry Mode [22]..............................056 (Card Data Input Mode: <Integrated circuit card read; CVV data reliable>; Cardholder Auth Method: <Signature Based>)\n",
		"Track 2 Data [35]................................485078******7891=********************\n",
		"Card Acceptor Terminal Identification [41].......00992468\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, fixturePAN) || strings.Contains(out, "19082012232800000037") {
		t.Fatalf("dump shows card data:\n%s", out)
	}
	if d := SmartVista.Dump(msg, DumpOptions{Dangerous: true}); !strings.Contains(d, fixtureTrack2) {
		t.Fatalf("dangerous dump hides track 2:\n%s", d)
	}
}

func TestDumpTitlesProblems(t *testing.T) {
	msg := readFixture(t, "sv_200_purchase.bin")
	var s Scan
	if err := SmartVista.Layout.Scan(msg, &s); err != nil {
		t.Fatal(err)
	}
	errs := SmartVista.Check(msg, &s, CheckOptions{Now: time.Now()}, nil)
	out := SmartVista.Dump(msg, DumpOptions{Problems: errs})
	if !strings.Contains(out, "[Purchase Request] <expired>") {
		t.Fatalf("fixture's old field 12 not titled expired:\n%s", out)
	}
	faulty := SmartVista.Dump([]byte("0200\xff"), DumpOptions{})
	if !strings.Contains(faulty, "[<faulty>]") {
		t.Fatalf("unparseable message: %s", faulty)
	}
}

func TestMaskedHex(t *testing.T) {
	msg := readFixture(t, "sv_200_purchase.bin")
	h := SmartVista.MaskedHex(msg)
	if len(h) != 2*len(msg) {
		t.Fatalf("masked hex length %d", len(h))
	}
	asciiHex := func(s string) string {
		const d = "0123456789abcdef"
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteByte(d[s[i]>>4])
			b.WriteByte(d[s[i]&15])
		}
		return b.String()
	}
	if strings.Contains(h, asciiHex("12345678")) || strings.Contains(h, asciiHex("2232800000037")) {
		t.Fatalf("raw hex shows card data: %s", h)
	}
	if !strings.Contains(h, asciiHex("485078")) || !strings.Contains(h, asciiHex("00992468")) {
		t.Fatalf("raw hex masks too much: %s", h)
	}
	// Unscannable bytes: PAN-like digit runs are masked all the same.
	junk := []byte("xx" + fixturePAN + "yy")
	if strings.Contains(SmartVista.MaskedHex(junk), asciiHex("123456")) {
		t.Fatal("digit run not masked in unscannable data")
	}
}

func TestMaskEMV(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"PAN tag 5A", "5a08" + "4850781234567891" + "9f0206000000001000", "5a08" + "****************" + "9f0206000000001000"},
		{"track 2 equivalent 57 in template 70", "700b" + "5709" + "4850781234567891d1", "700b" + "5709" + "******************"},
		{"cardholder name 5F20", "5f2003414243", "5f2003******"},
		{"no card tags", "9f02060000000010005f2a020643", "9f02060000000010005f2a020643"},
		{"broken TLV masked whole", "5a0848", "******"},
		{"not hex", "zz", "**"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaskEMVHex(tc.in); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestMaskPANAndTrack2(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{fixturePAN, "485078******7891"},
		{"4850781234567", "485078***4567"},
		{"123456789012", "************"},
		{fixtureTrack2, "485078******7891=********************"},
		{"4850781234567891D1908", "485078******7891D****"},
	} {
		got := MaskPAN(tc.in)
		if strings.ContainsAny(tc.in, "=D") {
			got = MaskTrack2(tc.in)
		}
		if got != tc.want {
			t.Errorf("%s -> %s, want %s", tc.in, got, tc.want)
		}
	}
}
