package isocodec

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLoadDialectFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bank.json")
	os.WriteFile(path, []byte(`{"name": "myBank", "base": "smartVista",
		"fields": {"48": {"type": "LLLans", "length": 999, "name": "Additional Data"},
		           "41": {"type": "ans", "length": 8}},
		"remove": [46],
		"mandatory": {"0100": [0, 1, 3, 4, 11, 41]},
		"approvedCode": "000"}`), 0o600)
	d, err := LoadDialect(path)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := d.Field(48); !ok || f.Type() != "LLLans" || f.Name != "Additional Data" {
		t.Fatalf("field 48: %+v", f)
	}
	if _, ok := d.Field(46); ok {
		t.Fatal("field 46 not removed")
	}
	msg, err := d.Pack(Fields{0: "0100", 3: "0", 4: "100", 11: "1", 41: "TERM 01", 48: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	var s Scan
	if err := d.Layout.Scan(msg, &s); err != nil {
		t.Fatal(err)
	}
	if errs := d.Check(msg, &s, CheckOptions{}, nil); len(errs) != 0 {
		t.Fatalf("check: %v", errs)
	}
	if got := string(s.Raw(msg, 41)); got != "TERM 01 " {
		t.Fatalf("ans field not space padded: %q", got)
	}
	if err := agree(d, msg); err != nil {
		t.Fatal(err)
	}
}

func TestDialectFileRefusals(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"unknown type", `{"fields": {"48": {"type": "LLx", "length": 9}}}`, "field 48"},
		{"length over prefix", `{"fields": {"48": {"type": "LLans", "length": 100}}}`, "field 48"},
		{"the bitmap's bit as a field", `{"fields": {"65": {"type": "ans", "length": 1}}}`, "field 65"},
		{"bad encoding", `{"fields": {"48": {"type": "ans", "length": 9, "encoding": "ebcdic"}}}`, "field 48"},
		{"unknown key", `{"feilds": {}}`, "feilds"},
		{"unknown base", `{"base": "postilion"}`, "postilion"},
		{"mandatory undefined", `{"mandatory": {"0100": [65]}}`, "field 65"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.json")
			os.WriteFile(path, []byte(tc.body), 0o600)
			_, err := LoadDialect(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	d, err := SmartVista.WithOverrides("48:LLLans:999, 41:ans")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := d.Field(41); f.Charset != CharsetANS || f.Length != 8 {
		t.Fatalf("41: %+v", f)
	}
	if f, _ := d.Field(48); f.Length != 999 {
		t.Fatalf("48: %+v", f)
	}
	for _, bad := range []string{"48", "48:LLLans:x", "48:q:9", "200:n:3", "48:LLans:100"} {
		if _, err := SmartVista.WithOverrides(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBuiltinTablesDescribeEveryField(t *testing.T) {
	for _, d := range []*Dialect{SmartVista, OpenWay} {
		for id, f := range d.Spec.Fields {
			if f.Spec().Description == "" {
				t.Errorf("%s field %d has no description", d.Name, id)
			}
		}
	}
	// smartVista's own fields are exactly the reference table, and with
	// ISO 8583:1987's around them every field is defined (65 is the
	// bitmap's bit), in both dialects.
	want := "2 LLn 19,3 n 6,4 n 12,5 n 12,6 n 12,7 n 10,8 n 8,9 n 8,10 n 8,11 n 6,12 n 12,13 n 4,14 n 6,15 n 4,22 n 3,24 n 3,25 n 2,32 LLn 11,35 LLans 37,37 ans 12,38 ans 6,39 n 3,41 n 8,42 n 15,46 LLLans 999,49 n 3,52 LLb 8,54 LLLans 120,55 LLLb 255,62 LLLans 999,64 ans 8,70 n 3"
	var got []string
	for _, f := range smartVistaOwn() {
		got = append(got, strings.Join([]string{strconv.Itoa(f.ID), f.Type(), strconv.Itoa(f.Length)}, " "))
		if d, _ := SmartVista.Field(f.ID); d != f {
			t.Errorf("smartVista field %d is %+v, not its own %+v", f.ID, d, f)
		}
	}
	if strings.Join(got, ",") != want {
		t.Fatalf("smartVista table:\n%s", strings.Join(got, ","))
	}
	for _, d := range []*Dialect{SmartVista, OpenWay} {
		for id := 2; id <= 128; id++ {
			if _, ok := d.Field(id); ok == (id == 65) {
				t.Errorf("%s field %d defined: %v", d.Name, id, ok)
			}
		}
	}
}
