package server

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// fuzzFront is the HTTP API's request path without the network: what
// parse and validate accept is exactly what would be queued for the bank.
func fuzzFront() *httpFront {
	g := &Gateway{cfg: Config{Dialect: sv, Location: time.UTC, ExpiryWindow: 30 * time.Second, Clock: clock.System{}}}
	g.relay = &relay{cfg: &g.cfg} // its clock: a request's errors are checked in full, field 12 against now
	return &httpFront{g: g}
}

// FuzzHTTPJSON: a JSON body never panics the API; one it accepts packs
// to a message that scans to its end, and that message read back as JSON
// packs to the same bytes (no value changes on the way).
func FuzzHTTPJSON(f *testing.F) {
	f.Add([]byte(seedCurl()))
	f.Add([]byte(`{"0": "0800", "3": "990000", "7": "0818160933", "11": 1, "24": "831", "41": 992468}`))
	f.Add([]byte(`{"0":"0200","4":1000,"04":999999}`))
	f.Add([]byte(`{"0":"0200","55":{"a":[1,2,{"b":null}]}}`))
	f.Add([]byte(`{"0":"0800","11":1e3}`))
	h := fuzzFront()
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, status, errs := h.parse(body, false)
		if status != 0 {
			if len(errs) == 0 {
				t.Fatalf("refused with %d and no error", status)
			}
			return
		}
		var s isocodec.Scan
		if err := sv.Layout.Scan(msg, &s); err != nil || s.Len != len(msg) {
			t.Fatalf("packed message does not scan: %v (%d of %d)", err, s.Len, len(msg))
		}
		_ = h.validate(msg, &s, time.Now())
		back, err := sv.Unpack(msg)
		if err != nil {
			t.Fatalf("packed message does not unpack: %v", err)
		}
		again, status, errs := h.parse(isocodec.AppendJSON(nil, back), false)
		if status != 0 {
			t.Fatalf("its own JSON is refused: %d %v", status, errs)
		}
		if !bytes.Equal(again, msg) {
			t.Fatalf("round trip changed the message:\n%x\n%x", msg, again)
		}
	})
}

// FuzzHTTPRaw: a /raw body never panics the API, and what validate
// accepts scans to the body's end.
func FuzzHTTPRaw(f *testing.F) {
	f.Add([]byte(seedRawEcho))
	f.Add([]byte(" " + strings.ToUpper(seedRawEcho) + "\n"))
	f.Add([]byte("474554202f20485454502f312e31"))
	h := fuzzFront()
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, status, _ := h.parse(body, true)
		if status != 0 {
			return
		}
		if _, err := hex.DecodeString(string(bytes.TrimSpace(body))); err != nil {
			t.Fatalf("accepted a body that is not hex: %q", body)
		}
		var s isocodec.Scan
		if h.validate(msg, &s, time.Now()) == nil && s.Len != len(msg) {
			t.Fatalf("validated a message that ends at %d of %d", s.Len, len(msg))
		}
	})
}
