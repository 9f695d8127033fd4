package isocodec

import "time"

// AppendTransmissionTime appends t as field 7 (transmission date and time)
// wants it: ten digits, month to second. Callers pass UTC, as ISO 8583
// means field 7.
func AppendTransmissionTime(dst []byte, t time.Time) []byte {
	_, mo, d := t.Date()
	hh, mi, ss := t.Clock()
	for _, v := range [...]int{int(mo), d, hh, mi, ss} {
		dst = append(dst, '0'+byte(v/10), '0'+byte(v%10))
	}
	return dst
}
