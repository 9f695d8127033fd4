package isocodec

import (
	"errors"
	"maps"
	"testing"
)

// TestAppendEdited checks edits against moov-io: the edited message must
// unpack to the original's fields with exactly the edits applied.
func TestAppendEdited(t *testing.T) {
	sv200 := readFixture(t, "sv_200_purchase.bin")
	sv800 := readFixture(t, "sv_800_echo.bin")
	ow := func(i int) []byte {
		b, err := OpenWay.Pack(openWayGolden[i].fields)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		d     *Dialect
		msg   []byte
		mti   string
		edits []Edit
		want  func(Fields)
	}{
		{"no edit is byte-exact", SmartVista, sv200, "0200", nil, func(Fields) {}},
		{"purchase reply", SmartVista, sv200, "0210",
			[]Edit{Set(39, []byte("000")), Set(37, []byte("123456789012")), Set(38, []byte("A1B2C3")), Set(2, []byte("4850781234567891"))},
			func(f Fields) {
				f[39], f[37], f[38], f[2] = "000", "123456789012", "A1B2C3", "4850781234567891"
			}},
		{"echo reply drops 24 and 42", SmartVista, sv800, "0810",
			[]Edit{Remove(24), Remove(42), Set(39, []byte("000")), Set(7, []byte("1125203000"))},
			func(f Fields) { delete(f, 24); delete(f, 42); f[39], f[7] = "000", "1125203000" }},
		{"secondary bitmap appears and goes", SmartVista, sv800, "0800",
			[]Edit{Set(70, []byte("301"))}, func(f Fields) { f[70] = "301" }},
		{"openWay echo reply", OpenWay, ow(0), "0810",
			[]Edit{Set(39, []byte("00")), Set(37, []byte("000000000042"))},
			func(f Fields) { f[39], f[37] = "00", "000000000042" }},
		{"openWay odd BCD and track 2", OpenWay, ow(1), "0210",
			[]Edit{Set(35, []byte("4850781234567891D1908201")), Set(4, []byte("000000000777")), Set(22, []byte("901"))},
			func(f Fields) { f[35], f[4], f[22] = "4850781234567891=1908201", "000000000777", "901" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Scan
			if err := tc.d.Layout.Scan(tc.msg, &s); err != nil {
				t.Fatal(err)
			}
			mti, _ := ParseMTI(tc.mti)
			got, err := tc.d.Layout.AppendEdited(nil, mti, tc.msg, &s, tc.edits...)
			if err != nil {
				t.Fatal(err)
			}
			want, err := tc.d.Unpack(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			want[0] = tc.mti
			tc.want(want)
			back, err := tc.d.Unpack(got)
			if err != nil {
				t.Fatalf("edited message does not unpack: %v", err)
			}
			delete(want, 1)
			delete(back, 1)
			if !maps.Equal(want, back) {
				t.Fatalf("fields\n got %v\nwant %v", back, want)
			}
			if err := agree(tc.d, got); err != nil {
				t.Fatal(err)
			}
			if tc.edits == nil && string(got) != string(tc.msg) {
				t.Fatalf("unedited copy differs")
			}
			// Packing the same fields with moov-io gives the same bytes.
			packed, err := tc.d.Pack(back)
			if err != nil {
				t.Fatal(err)
			}
			if string(packed) != string(got) {
				t.Fatalf("moov-io packs\n%x\nwe made\n%x", packed, got)
			}
		})
	}
}

func TestAppendEditedRefuses(t *testing.T) {
	msg := readFixture(t, "sv_800_echo.bin")
	var s Scan
	if err := SmartVista.Layout.Scan(msg, &s); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		e    Edit
		want error
	}{
		{"short fixed value", Set(39, []byte("00")), ErrBadValue},
		{"long variable value", Set(2, []byte("12345678901234567890")), ErrTooLong},
		{"letters in n", Set(11, []byte("00001A")), ErrNotDigits},
		{"undefined field", Set(129, []byte("1")), ErrUndefinedField},
		{"bitmap is not a field", Set(1, []byte("00")), ErrUndefinedField},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SmartVista.Layout.AppendEdited(nil, MTINetworkResponse, msg, &s, tc.e)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAppendEditedFromNothing(t *testing.T) {
	got, err := SmartVista.Layout.AppendEdited(nil, MTINetwork, nil, nil,
		Set(11, []byte("000001")), Set(41, []byte("00000001")), Set(3, []byte("990000")),
		Set(7, []byte("1125203000")), Set(24, []byte("831")))
	if err != nil {
		t.Fatal(err)
	}
	f, err := SmartVista.Unpack(got)
	if err != nil {
		t.Fatal(err)
	}
	if f[11] != "000001" || f[41] != "00000001" || f[24] != "831" {
		t.Fatalf("got %v", f)
	}
}

func TestAppendEditedAllocatesNothing(t *testing.T) {
	msg := readFixture(t, "sv_200_purchase.bin")
	var s Scan
	if err := SmartVista.Layout.Scan(msg, &s); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	rrn, code := []byte("123456789012"), []byte("000")
	n := testing.AllocsPerRun(100, func() {
		buf, _ = SmartVista.Layout.AppendEdited(buf[:0], MTIPurchaseResponse, msg, &s, Set(39, code), Set(37, rrn))
	})
	if n != 0 {
		t.Fatalf("%v allocs per edit", n)
	}
}
