package isocodec

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// Card data chosen so that none of it can be mistaken for another field.
const (
	secretPAN    = "4000009876543210" // shows 400000 and 3210
	secretMiddle = "987654"
	secretAfter  = "2912201135792468" // track 2 after its separator
	secretPIN    = "a1b2c3d4e5f60718"
	secretName   = "SMITH/JOHN"
)

// secretEMV: 5A (PAN), 57 and 9F6B (track 2), 5F20 (name), around an
// amount (9F02) that may show.
var secretEMV = "9f0206000000001000" + "5a08" + secretPAN + "5711" + secretPAN + "d" + secretAfter + "f" +
	"5f200a" + hex.EncodeToString([]byte(secretName)) + "9f6b11" + secretPAN + "d" + secretAfter + "f"

// cardFields is a purchase with card data in every field that can hold
// it in d, and a card number in a text field that is not meant for one.
func cardFields(d *Dialect) Fields {
	f := Fields{0: "0200", 2: secretPAN, 3: "000000", 4: "000000001000", 7: "1125120000", 11: "000042",
		12: "251125120000", 22: "051", 24: "200", 25: "00", 35: secretPAN + "=" + secretAfter, 41: "00770001",
		42: "000124642124643", 49: "643", 52: secretPIN, 55: secretEMV}
	for id, v := range map[int]string{45: "B" + secretPAN + "^" + secretName + "^" + secretAfter, 48: "REF " + secretPAN + " END"} {
		if _, ok := d.Field(id); ok {
			f[id] = v
		}
	}
	for id := range f {
		fd, ok := d.Field(id)
		switch {
		case !ok && id > 1:
			delete(f, id)
		case ok && id == 12 && fd.Length == 6: // hhmmss
			f[id] = "120000"
		}
	}
	return f
}

// leaks lists the card data found in out, a masked hex dump or text.
func leaks(out string) []string {
	var found []string
	windows := func(what, s string, n int, enc func(string) string) {
		for i := 0; i+n <= len(s); i++ {
			if w := enc(s[i : i+n]); strings.Contains(out, w) {
				found = append(found, what+" "+s[i:i+n]+" as "+w)
				return
			}
		}
	}
	ascii := func(s string) string { return hex.EncodeToString([]byte(s)) }
	same := func(s string) string { return s }
	windows("PAN", secretMiddle, 6, ascii)
	windows("PAN", secretMiddle, 6, same) // packed digits, or text
	windows("track data", secretAfter, 6, ascii)
	windows("track data", secretAfter, 6, same)
	windows("PIN block", secretPIN, 8, same)
	windows("PIN block", secretPIN, 8, strings.ToUpper)
	windows("name", secretName, 4, ascii)
	windows("name", secretName, 4, same)
	return found
}

// brokenAtEveryField: the message cut after every byte, a length prefix
// spoilt at every field that has one, and the message inside a stream
// from every offset (as a bad-frame log shows it).
func brokenAtEveryField(t *testing.T, d *Dialect, msg []byte) map[string][]byte {
	t.Helper()
	var s Scan
	if err := d.Layout.Scan(msg, &s); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{"whole": msg}
	for n := 1; n < len(msg); n++ {
		cases["cut at "+itoa(n)] = msg[:n]
	}
	s.Present.Each(func(id int) bool {
		f := &d.Layout.fields[id]
		if id < 2 || f.prefix == 0 {
			return true
		}
		bad := append([]byte(nil), msg...)
		at := int(s.start[id]) - int(f.prefixLen)
		for k := at; k < int(s.start[id]); k++ {
			bad[k] = 0xff
		}
		cases["bad length of field "+itoa(id)] = bad
		return true
	})
	return cases
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestMaskingAtEveryFailure: whatever breaks a message, and wherever a
// log starts reading it, no card data shows in its masked hex or dump;
// with Dangerous the dump shows it.
func TestMaskingAtEveryFailure(t *testing.T) {
	for _, d := range []*Dialect{SmartVista, OpenWay} {
		t.Run(d.Name, func(t *testing.T) {
			f := cardFields(d)
			msg, err := d.Pack(f)
			if err != nil {
				t.Fatal(err)
			}
			if found := leaks(hex.EncodeToString(msg)); len(found) < 5 {
				t.Fatalf("the test's own card data is not found unmasked: %v", found)
			}
			for name, b := range brokenAtEveryField(t, d, msg) {
				if found := leaks(d.MaskedHex(b)); len(found) > 0 {
					t.Errorf("%s: masked hex shows %v", name, found)
				}
				if found := leaks(d.Dump(b, DumpOptions{})); len(found) > 0 {
					t.Errorf("%s: dump shows %v", name, found)
				}
				if len(d.MaskedHex(b)) != 2*len(b) {
					t.Fatalf("%s: masked hex is not the length of the hex", name)
				}
				if found := leaks(MaskedStreamHex(b)); len(found) > 0 {
					t.Errorf("%s: masked stream shows %v", name, found)
				}
			}
			// A stream read from any offset, as around a bad frame.
			for n := 0; n < len(msg); n++ {
				stream := append(append([]byte("0123"), msg[n:]...), msg...)
				for _, lo := range []int{0, n % 7, n % 13} {
					if found := leaks(MaskedStreamHex(stream[lo:])); len(found) > 0 {
						t.Errorf("stream from %d+%d: %v", n, lo, found)
					}
				}
			}
			if found := leaks(d.Dump(msg, DumpOptions{Dangerous: true})); len(found) == 0 {
				t.Error("a dangerous dump hides the card data")
			}
			for id, v := range f {
				if found := leaks(d.MaskField(id, v)); len(found) > 0 {
					t.Errorf("MaskField(%d) shows %v", id, found)
				}
			}
		})
	}
}

// What masking leaves: enough to read a message by.
func TestMaskingKeepsWhatIsNotCardData(t *testing.T) {
	msg, err := SmartVista.Pack(cardFields(SmartVista))
	if err != nil {
		t.Fatal(err)
	}
	h := SmartVista.MaskedHex(msg)
	for _, keep := range []string{"0200", "00770001", "000124642124643", "400000", "3210"} {
		if !strings.Contains(h, hex.EncodeToString([]byte(keep))) {
			t.Errorf("masked hex lost %q", keep)
		}
	}
	// Cut inside field 52: the fields before it still read, the text
	// after the cut still shows, the binary does not.
	var s Scan
	if err := SmartVista.Layout.Scan(msg, &s); err != nil {
		t.Fatal(err)
	}
	cut := msg[:int(s.start[52])+3]
	if h := SmartVista.MaskedHex(cut); !strings.Contains(h, hex.EncodeToString([]byte("00770001"))) || !strings.HasSuffix(h, "******") {
		t.Errorf("cut in the PIN block: %s", h)
	}
}
