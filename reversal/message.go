package reversal

import (
	"time"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Message builds the reversal of original for dialect d: the original's
// fields under MTI 0400 (repeatMTI for a repeat), field 7 now; field 24
// the dialect's reversal function code where it has one (smartVista:
// 400); field 90, the original data elements, where the dialect asks for
// it (ISO 8583:1987 hosts such as openWay). The PIN block is not repeated.
func Message(d *isocodec.Dialect, original []byte, repeat bool, repeatMTI isocodec.MTI, now time.Time) ([]byte, error) {
	mti := isocodec.MTIReversal
	if repeat {
		mti = repeatMTI
	}
	var s isocodec.Scan
	if err := d.Layout.Scan(original, &s); err != nil {
		return nil, err
	}
	var clock [10]byte
	edits := []isocodec.Edit{isocodec.Set(7, isocodec.AppendTransmissionTime(clock[:0], now.UTC())), isocodec.Remove(52)}
	if code := d.Rules.ReversalFunctionCode; code != "" && s.Has(24) {
		edits = append(edits, isocodec.Set(24, []byte(code)))
	}
	if f, ok := d.Field(90); ok && d.Rules.ReversalOriginalData && f.Charset == isocodec.CharsetN && f.Length == 42 {
		var ode []byte
		ode = append(ode, s.MTI[:]...)
		ode = d.Layout.AppendText(ode, &s, original, 11)
		ode = d.Layout.AppendText(ode, &s, original, 7)
		for len(ode) < 42 {
			ode = append(ode, '0')
		}
		if len(ode) == 42 {
			edits = append(edits, isocodec.Set(90, ode))
		}
	}
	return d.Layout.AppendEdited(nil, mti, original, &s, edits...)
}

// Approved reports whether code answers a reversal as done: the
// dialect's approval, or 400 ("reversal accepted", as smartVista hosts
// answer).
func Approved(d *isocodec.Dialect, code []byte) bool {
	return d.IsApproved(code) || string(code) == "400"
}
