package isocodec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seedPurchaseJSON is the seed README's curl purchase.
const seedPurchaseJSON = `{ "0": "0200", "3": "0", "4": 1000, "7": "0818160933", "11": 618160, "12": "150820130600", "22": "056", "24": "200", "25": "00", "35": "4850781234567891=19082012232800000037", "41": 992468, "42": 124642124643, "49": "810", "55": "9f2608571f1e10d4fa4aac9f2701809f100706010a03a4b8029f37045bb074729f3602000c950500800010009a031508189c01009f02060000000010005f2a02064382023c009f1a0206439f03060000000000009f3303e0f0c89f34034403029f3501229f1e0835313230323831358407a00000000310109f41030000565f340101" }`

func TestFixturesRoundTrip(t *testing.T) {
	framing, err := NewFraming(FramingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ bare, framed string }{
		{"sv_200_purchase.bin", "sv_200_purchase_header.bin"},
		{"sv_800_echo.bin", "sv_800_echo_header.bin"},
	} {
		t.Run(tc.bare, func(t *testing.T) {
			bare, framed := readFixture(t, tc.bare), readFixture(t, tc.framed)
			f, err := SmartVista.Unpack(bare)
			if err != nil {
				t.Fatalf("unpack: %v", err)
			}
			packed, err := SmartVista.Pack(f)
			if err != nil {
				t.Fatalf("pack: %v", err)
			}
			if !bytes.Equal(packed, bare) {
				t.Fatalf("pack differs:\n got %x\nwant %x", packed, bare)
			}
			n, msg, err := framing.Split(framed, true, nil)
			if err != nil || n != len(framed) || !bytes.Equal(msg, bare) {
				t.Fatalf("split framed: n=%d err=%v", n, err)
			}
			out, err := framing.Append(nil, bare)
			if err != nil || !bytes.Equal(out, framed) {
				t.Fatalf("append: %x, %v", out, err)
			}
		})
	}
}

func TestSeedPurchaseJSONPads(t *testing.T) {
	f, err := FieldsFromJSON([]byte(seedPurchaseJSON))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := SmartVista.Pack(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := SmartVista.Unpack(msg)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int]string{0: "0200", 3: "000000", 4: "000000001000", 41: "00992468", 42: "000124642124643", 11: "618160", 1: "3230058020c08200"} {
		if got[id] != want {
			t.Errorf("field %d = %q, want %q", id, got[id], want)
		}
	}
	// JSON out reports values as on the wire, in field order.
	js := string(AppendJSON(nil, got))
	if !strings.HasPrefix(js, `{"0":"0200","1":"3230058020c08200","3":"000000","4":"000000001000"`) {
		t.Errorf("json: %s", js)
	}
}

func TestJSONErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		field      int // -1: not a field error (ErrBadJSON)
		want       error
	}{
		{"not json", `{"0":`, -1, ErrBadJSON},
		{"array", `[1,2]`, -1, ErrBadJSON},
		{"key not a number", `{"zero":"0800"}`, -1, ErrBadJSON},
		{"key out of range", `{"129":"1"}`, -1, ErrBadJSON},
		{"float", `{"0":"0800","4":10.5}`, 4, ErrBadValue},
		{"negative", `{"0":"0800","4":-1}`, 4, ErrBadValue},
		{"bool", `{"0":"0800","11":true}`, 11, ErrBadValue},
		{"too long", `{"0":"0800","41":"123456789"}`, 41, ErrTooLong},
		{"letters in n", `{"0":"0800","11":"12a456"}`, 11, ErrNotDigits},
		{"bad hex", `{"0":"0200","55":"zz"}`, 55, ErrBadValue},
		{"undefined field", `{"0":"0800","65":"1"}`, 65, ErrUndefinedField},
		{"bad mti", `{"0":"08x0"}`, 0, ErrBadValue},
		{"trailing data", `{"0":"0800"} {}`, -1, ErrBadJSON},
		{"null", `null`, -1, ErrBadJSON},
		{"nested value", `{"0":"0800","48":{"a":1}}`, 48, ErrBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := FieldsFromJSON([]byte(tc.body))
			if err == nil {
				_, err = SmartVista.Pack(f)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var fes FieldErrors
			if tc.field >= 0 {
				if !errors.As(err, &fes) || fes[0].Field != tc.field {
					t.Fatalf("err = %v, want it on field %d", err, tc.field)
				}
			}
		})
	}
}

// Two keys for one field, or a key not written as the field's number,
// would leave the value sent to chance (map order); each is refused,
// naming the keys.
func TestJSONKeysNameAFieldOnce(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string // in the error
	}{
		{"padded and plain", `{"0":"0200","4":1000,"04":999999}`, []string{`"4", "04"`, "field 4"}},
		{"plain twice", `{"0":"0200","4":1000,"4":999999}`, []string{`"4", "4"`}},
		{"sign", `{"0":"0200","+4":1000}`, []string{`"+4"`, `write it "4"`}},
		{"leading zero alone", `{"0":"0200","011":"000001"}`, []string{`"011"`, "field 11"}},
		{"three keys", `{"0":"0200","04":1,"4":2,"+4":3}`, []string{`"04", "4", "+4"`}},
		{"several fields", `{"0":"0200","04":1,"4":2,"11":"1","011":"2"}`, []string{"field 4", "field 11"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FieldsFromJSON([]byte(tc.body))
			if !errors.Is(err, ErrBadJSON) {
				t.Fatalf("err = %v, want ErrBadJSON", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %s", err, w)
				}
			}
		})
	}
	// The canonical spelling of every field number is accepted.
	for id := 0; id <= 128; id++ {
		k := strconv.Itoa(id)
		f, err := FieldsFromJSON([]byte(`{"` + k + `":"1"}`))
		if err != nil || f[id] != "1" {
			t.Fatalf("key %q: %v %v", k, f, err)
		}
	}
}

func TestJSONCollectsAllErrors(t *testing.T) {
	f, err := FieldsFromJSON([]byte(`{"0":"0800","11":"abc","41":"123456789","3":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = SmartVista.Pack(f)
	var fes FieldErrors
	if !errors.As(err, &fes) || len(fes) != 3 {
		t.Fatalf("want 3 field errors, got %v", err)
	}
}

// openWay golden messages, packed by hand from the jPOS ISO87B rules.
var openWayGolden = []struct {
	name   string
	fields Fields
	hex    string
}{
	{
		"echo",
		Fields{0: "0800", 3: "990000", 7: "1125203000", 11: "000001", 41: "TERM0001", 63: "ABC"},
		"0800" + "2220000000800002" + "990000" + "1125203000" + "000001" + "5445524d30303031" + "0003414243",
	},
	{
		"purchase with odd BCD and track 2",
		Fields{0: "0200", 2: "4850781234567891", 3: "000000", 4: "000000001000", 22: "051", 35: "4850781234567891=19082012232800000037"},
		"0200" + "7000040020000000" + "16" + "4850781234567891" + "000000" + "000000001000" + "0051" +
			"37" + "4850781234567891d19082012232800000037" + "0",
	},
}

func TestOpenWayGolden(t *testing.T) {
	for _, tc := range openWayGolden {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := OpenWay.Pack(tc.fields)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(msg); got != tc.hex {
				t.Fatalf("packed\n got %s\nwant %s", got, tc.hex)
			}
			back, err := OpenWay.Unpack(msg)
			if err != nil {
				t.Fatal(err)
			}
			for id, v := range tc.fields {
				if back[id] != v {
					t.Errorf("field %d: %q, want %q", id, back[id], v)
				}
			}
			if err := agree(OpenWay, msg); err != nil {
				t.Fatal(err)
			}
			var s Scan
			if err := OpenWay.Layout.Scan(msg, &s); err != nil || s.Len != len(msg) {
				t.Fatalf("scan: len %d err %v", s.Len, err)
			}
			// The default openWay framing is a 2-byte binary length.
			fr, _ := FramingByName("bin2", FramingConfig{Layout: OpenWay.Layout})
			framed, _ := fr.Append(nil, msg)
			if int(framed[0])<<8|int(framed[1]) != len(msg) {
				t.Fatalf("bin2 header %x for %d bytes", framed[:2], len(msg))
			}
		})
	}
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC)
	base := func() Fields {
		f, err := FieldsFromJSON([]byte(seedPurchaseJSON))
		if err != nil {
			t.Fatal(err)
		}
		f[12] = "261125203000"
		return f
	}
	for _, tc := range []struct {
		name   string
		edit   func(Fields)
		fields []int
		errs   []error
	}{
		{"valid", func(Fields) {}, nil, nil},
		{"missing 41 and 42", func(f Fields) { delete(f, 41); delete(f, 42) }, []int{41, 42}, []error{ErrMissing, ErrMissing}},
		{"expired 31 s ago", func(f Fields) { f[12] = "261125202929" }, []int{12}, []error{ErrExpired}},
		{"29 s ahead is fine", func(f Fields) { f[12] = "261125203029" }, nil, nil},
		{"impossible date", func(f Fields) { f[12] = "261325203000" }, []int{12}, []error{ErrBadTime}},
		{"echo needs no 12", func(f Fields) {
			for k := range f {
				delete(f, k)
			}
			f[0], f[3], f[7], f[11], f[24], f[41] = "0800", "0", "1125203000", "1", "0", "1"
		}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			tc.edit(f)
			msg, err := SmartVista.Pack(f)
			if err != nil {
				t.Fatal(err)
			}
			var s Scan
			if err := SmartVista.Layout.Scan(msg, &s); err != nil {
				t.Fatal(err)
			}
			errs := SmartVista.Check(msg, &s, CheckOptions{Now: now, Location: time.UTC}, nil)
			if len(errs) != len(tc.errs) {
				t.Fatalf("errors %v, want %v", errs, tc.errs)
			}
			for i, e := range errs {
				if e.Field != tc.fields[i] || !errors.Is(e, tc.errs[i]) {
					t.Errorf("error %d = %v, want field %d %v", i, e, tc.fields[i], tc.errs[i])
				}
			}
		})
	}
}

func TestCheckRawValues(t *testing.T) {
	// Bytes from a client are checked as they are: a letter in an n field
	// or a control character in an ans field, set on the wire.
	msg := readFixture(t, "sv_800_echo.bin")
	bad := bytes.Clone(msg)
	var s Scan
	if err := SmartVista.Layout.Scan(bad, &s); err != nil {
		t.Fatal(err)
	}
	bad[s.start[11]] = 'X'
	errs := SmartVista.Check(bad, &s, CheckOptions{}, nil)
	if len(errs) != 1 || errs[0].Field != 11 || !errors.Is(errs[0], ErrNotDigits) {
		t.Fatalf("errors %v", errs)
	}
	if strings.Contains(errs.Error(), "X") {
		t.Fatalf("error text carries the value: %v", errs)
	}
}

func TestOpenWayExpiryUsesFields12And13(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 10, 0, time.UTC)
	f := Fields{0: "0200", 3: "000000", 4: "000000000100", 7: "1231235959", 11: "000001", 12: "235959", 13: "1231", 22: "051", 25: "00", 41: "TERM0001", 42: "MERCHANT0000001", 49: "643"}
	msg, err := OpenWay.Pack(f)
	if err != nil {
		t.Fatal(err)
	}
	var s Scan
	if err := OpenWay.Layout.Scan(msg, &s); err != nil {
		t.Fatal(err)
	}
	if errs := OpenWay.Check(msg, &s, CheckOptions{Now: now, Location: time.UTC}, nil); len(errs) != 0 {
		t.Fatalf("11 s across new year: %v", errs)
	}
	if errs := OpenWay.Check(msg, &s, CheckOptions{Now: now.Add(time.Minute), Location: time.UTC}, nil); len(errs) != 1 || !errors.Is(errs[0], ErrExpired) {
		t.Fatalf("71 s: %v", errs)
	}
}

func TestScanRefusesGarbage(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ErrNotISO},
		{"tls hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, ErrNotISO},
		{"short", []byte("08"), ErrTruncated},
		{"undefined field 65", append([]byte("0800"), 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0), ErrUndefinedField},
		{"LL over max", append(append([]byte("0200"), 0x40, 0, 0, 0, 0, 0, 0, 0), "99"...), ErrBadLength},
		{"LL not digits", append(append([]byte("0200"), 0x40, 0, 0, 0, 0, 0, 0, 0), "x1"...), ErrBadLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Scan
			if err := SmartVista.Layout.Scan(tc.in, &s); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestScanCheckAllocatesNothing(t *testing.T) {
	msg := readFixture(t, "sv_200_purchase.bin")
	var s Scan
	now := time.Date(2016, 6, 7, 17, 38, 0, 0, time.UTC)
	allocs := testing.AllocsPerRun(200, func() {
		if err := SmartVista.Layout.Scan(msg, &s); err != nil {
			t.Fatal(err)
		}
		if errs := SmartVista.Check(msg, &s, CheckOptions{Now: now, Location: time.UTC}, nil); len(errs) != 0 {
			t.Fatal(errs)
		}
		var k Key
		k = k.Append(&s, msg, DefaultKeyFields)
		if k.Len() == 0 {
			t.Fatal("empty key")
		}
	})
	if allocs != 0 {
		t.Fatalf("scan+check+key allocates %v times per message", allocs)
	}
}

func TestFieldValue(t *testing.T) {
	pin, _ := OpenWay.Field(52) // fixed b 8
	tid, _ := SmartVista.Field(41)
	rrn, _ := SmartVista.Field(37)
	pan, _ := SmartVista.Field(2)
	t2, _ := OpenWay.Field(35)
	for _, tc := range []struct {
		name string
		def  FieldDef
		in   string
		want string
		err  error
	}{
		{"n left-padded with zeros", tid, "992468", "00992468", nil},
		{"ans right-padded with spaces", rrn, "ABC", "ABC         ", nil},
		{"variable n kept as is", pan, "4850781234567891", "4850781234567891", nil},
		{"n too long", tid, "123456789", "", ErrTooLong},
		{"fixed b exact", pin, "0102030405060708", "\x01\x02\x03\x04\x05\x06\x07\x08", nil},
		{"fixed b short", pin, "0102", "", ErrBadValue},
		{"fixed b long", pin, "010203040506070809", "", ErrTooLong},
		{"track 2 D becomes =", t2, "4850781234567891D1908", "4850781234567891=1908", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.def.Value(tc.in)
			if !errors.Is(err, tc.err) || err == nil && string(got) != tc.want {
				t.Fatalf("Value(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

// TestAppendMessageJSON: the scanner's JSON is byte for byte what the
// moov-io unpack gives, for every fixture and golden message.
func TestAppendMessageJSON(t *testing.T) {
	type tc struct {
		d   *Dialect
		msg []byte
	}
	cases := []tc{{SmartVista, readFixture(t, "sv_200_purchase.bin")}, {SmartVista, readFixture(t, "sv_800_echo.bin")}}
	for _, g := range openWayGolden {
		msg, err := OpenWay.Pack(g.fields)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tc{OpenWay, msg})
	}
	withSecondary, err := SmartVista.Pack(Fields{0: "0800", 3: "990000", 7: "1125120000", 11: "000001", 24: "831", 41: "00000001", 70: "301"})
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, tc{SmartVista, withSecondary})
	for i, c := range cases {
		f, err := c.d.Unpack(c.msg)
		if err != nil {
			t.Fatal(err)
		}
		var s Scan
		if err := c.d.Layout.Scan(c.msg, &s); err != nil {
			t.Fatal(err)
		}
		want := string(AppendJSON(nil, f))
		if got := string(c.d.Layout.AppendMessageJSON(nil, c.msg, &s, FieldSet{})); got != want {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestMTIResponseAndRepeat(t *testing.T) {
	for _, tc := range []struct {
		mti, resp string
		repeat    bool
	}{
		{"0200", "0210", false}, {"0201", "0210", true}, {"0400", "0410", false}, {"0401", "0410", true},
		{"0420", "0430", false}, {"0421", "0430", true}, {"0800", "0810", false}, {"0410", "0410", false},
	} {
		m, err := ParseMTI(tc.mti)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Response().String(); got != tc.resp || m.IsRepeat() != tc.repeat {
			t.Errorf("%s: response %s repeat %v, want %s %v", tc.mti, got, m.IsRepeat(), tc.resp, tc.repeat)
		}
	}
}

// TestSignedAmounts: an amount with its sign (28-31, 97) as jPOS writes
// it: in openWay the C or D as an ASCII byte and the digits packed
// (IFB_AMOUNT), in smartVista all of it ASCII (IFA_AMOUNT); the digits
// zero-padded to the field; a value without its sign is refused.
func TestSignedAmounts(t *testing.T) {
	for _, tc := range []struct {
		d     *Dialect
		value string
		wire  string // hex of the field on the wire
		back  string
	}{
		{OpenWay, "C1000", "4300001000", "C00001000"},
		{OpenWay, "D00000500", "4400000500", "D00000500"},
		{SmartVista, "D500", hex.EncodeToString([]byte("D00000500")), "D00000500"},
	} {
		msg, err := tc.d.Pack(Fields{0: "0800", 11: "000001", 28: tc.value})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.d.Name, tc.value, err)
		}
		if !strings.Contains(hex.EncodeToString(msg), tc.wire) {
			t.Errorf("%s %s packs as %x, want %s in it", tc.d.Name, tc.value, msg, tc.wire)
		}
		f, err := tc.d.Unpack(msg)
		if err != nil || f[28] != tc.back {
			t.Errorf("%s %s reads back as %q (%v)", tc.d.Name, tc.value, f[28], err)
		}
		var s Scan
		if err := tc.d.Layout.Scan(msg, &s); err != nil || string(tc.d.Layout.AppendText(nil, &s, msg, 28)) != tc.back {
			t.Errorf("%s %s scans as %q (%v)", tc.d.Name, tc.value, tc.d.Layout.AppendText(nil, &s, msg, 28), err)
		}
		if errs := tc.d.Check(msg, &s, CheckOptions{}, nil); len(errs) > 0 && errs[0].Field == 28 {
			t.Errorf("%s %s: %v", tc.d.Name, tc.value, errs)
		}
	}
	for _, bad := range []string{"1000", "X1000", "C10a0"} {
		if _, err := OpenWay.Pack(Fields{0: "0800", 11: "000001", 28: bad}); err == nil {
			t.Errorf("amount %q packed", bad)
		}
	}
}

// TestKeyString: a key reads in logs as its fields' values, as text
// where the wire has printable ASCII and in hex where it has BCD.
func TestKeyString(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    *Dialect
		want string
	}{
		{"smartVista, ASCII", SmartVista, "000337/00000038"},
		{"openWay, BCD STAN", OpenWay, "000337/00000038"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := tc.d.Pack(Fields{0: "0800", 3: "990000", 7: "0101000000", 11: "000337", 41: "00000038"})
			if err != nil {
				t.Fatal(err)
			}
			var s Scan
			if err := tc.d.Layout.Scan(msg, &s); err != nil {
				t.Fatal(err)
			}
			if got := (Key{}).Append(&s, msg, DefaultKeyFields).String(); got != tc.want {
				t.Errorf("key %q, want %q", got, tc.want)
			}
		})
	}
	var k Key
	k.b[0], k.b[1], k.b[2], k.n = 2, 0x01, '/', 3
	if got := k.String(); got != "012f" {
		t.Errorf("a value that is not printable text, or has the separator: %q, want hex", got)
	}
}
