package server

import (
	"bytes"
	"testing"

	json "github.com/goccy/go-json"
	"github.com/rs/zerolog"
)

// TestDumpAsFields: at --vv a message is one log line with each field a
// JSON field of "iso", card data masked unless --dangerous.
func TestDumpAsFields(t *testing.T) {
	msg := pack(t, purchaseFields(7, tid(7), "000000000100"))
	for _, tc := range []struct {
		name      string
		dangerous bool
		track2    string
	}{
		{"masked", false, "485078******7891=********************"},
		{"dangerous", true, "4850781234567891=19082012232800000037"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			rl := &relay{cfg: &Config{Dialect: sv, Dangerous: tc.dangerous}}
			log := zerolog.New(&out)
			rl.dump(log.Debug(), "to bank", msg)
			var line struct {
				Message string
				Iso     map[string]string
			}
			if err := json.Unmarshal(out.Bytes(), &line); err != nil {
				t.Fatalf("%s: %v", out.Bytes(), err)
			}
			if line.Message != "to bank: Purchase Request" || line.Iso["0"] != "0200" || line.Iso["11"] != "000007" || line.Iso["35"] != tc.track2 {
				t.Errorf("%s", out.Bytes())
			}
			if !tc.dangerous && bytes.Contains(out.Bytes(), []byte("4850781234567891")) {
				t.Errorf("card number in the log: %s", out.Bytes())
			}
		})
	}
}
