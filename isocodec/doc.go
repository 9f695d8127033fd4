// Package isocodec turns ISO-8583 bytes into meaning and back for one host
// dialect at a time.
//
// A Dialect is one moov-io/iso8583 MessageSpec plus the rules that a spec
// cannot hold: which characters each field admits, which fields each MTI
// must carry, which response codes mean what, how field 12 tells time.
// Everything else in the package is derived from that one value:
//
//   - Layout, the per-field length table the zero-allocation Scanner walks,
//     is generated from the spec's prefixers and encoders, so the scanner
//     and moov-io can never disagree about where a field ends.
//   - Framing splits a byte stream into messages (length headers, static
//     header parts, or bare messages whose end is found by scanning).
//   - Check validates a scanned message (mandatory fields, digits, expiry)
//     in the same pass, without allocating when the message is valid.
//   - JSON mapping and the readable Dump use moov-io, where the cost of a
//     full unpack does not matter per relayed message.
//
// Invariants: nothing here keeps a slice it was given; nothing here panics
// on input; no error string and no dump carries unmasked card data unless
// the caller asked for it with Dangerous.
package isocodec
