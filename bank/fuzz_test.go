package bank

import (
	"testing"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// FuzzHostAnswer: whatever a peer sends, the host never panics, and a
// reply it makes is a well-formed response to the request.
func FuzzHostAnswer(f *testing.F) {
	for _, name := range []string{"sv_200_purchase.bin", "sv_800_echo.bin"} {
		f.Add(readTestdata(f, name))
	}
	for _, fields := range []isocodec.Fields{
		reversalOf(purchase("000001", "00992468", testTrack2, "000000001000")),
		purchase("000002", "00992468", testTrack2, "000000116777"),
		purchase("000003", "00992468", testTrack2, "000000005888"),
	} {
		msg, err := isocodec.SmartVista.Pack(fields)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	host, err := NewHost(HostConfig{Dialect: isocodec.SmartVista, Ledger: NewLedger(1024)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var s isocodec.Scan
		reply, dec, err := host.Answer(nil, msg, &s)
		if err != nil || dec.Silent {
			return
		}
		req := s.MTI
		var r isocodec.Scan
		if err := isocodec.SmartVista.Layout.Scan(reply, &r); err != nil {
			t.Fatalf("reply does not scan: %v", err)
		}
		if r.Len != len(reply) || r.MTI != req.Response() || !r.Has(39) {
			t.Fatalf("reply %s to %s, length %d of %d, has 39: %v", r.MTI, req, r.Len, len(reply), r.Has(39))
		}
	})
}
