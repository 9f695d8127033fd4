package isocodec

// OpenWayEncodings: the binary ISO-8583 family (jPOS ISO87BPackager): BCD
// MTI, digits and length prefixes, fixed digits left-padded and variable
// ones right-padded to whole bytes, a binary bitmap, text in ASCII.
var OpenWayEncodings = Encodings{
	Numeric:     EncBCD,
	NumericVar:  EncTrack2BCD,
	Track2:      EncTrack2BCD,
	NumericPref: PrefixBCD,
	TextPref:    PrefixBCD,
	BinaryPref:  PrefixBCD,
	Bitmap:      EncBinary,
	MTI:         EncBCD,
}

// openWayFields is ISO87BPackager field for field; its amounts with a
// sign (28-31, 97) have the C or D as an ASCII byte before the digits
// packed (EncSignedBCD).
func openWayFields() []FieldDef {
	return iso87Fields(OpenWayEncodings, func(n int) (string, int, bool) { return "xn", n, true }, nil)
}

func openWayRules() Rules {
	request := []int{0, 1, 3, 4, 7, 11, 12, 13, 22, 25, 41, 42, 49}
	return Rules{
		Mandatory: map[string][]int{
			"0800": {0, 1, 3, 7, 11, 41, 63},
			"0200": request,
			"0400": request,
		},
		ApprovedCode:         "00",
		SystemErrors:         []string{"06", "68", "91", "92", "96"},
		ResponseCodes:        responseCodes2,
		LocalTime:            LocalTimeField12And13,
		ReversalOriginalData: true,
		EntryModes:           entryModes,
		AuthMethods:          authMethods,
	}
}

// responseCodes2 are the two-character ISO 8583:1987 codes.
var responseCodes2 = map[string]string{
	"00": "Approved",
	"01": "Refer to card issuer",
	"03": "Invalid merchant",
	"04": "Pick up card",
	"05": "Do not honour",
	"06": "Error",
	"12": "Invalid transaction",
	"13": "Invalid amount",
	"14": "Invalid card number",
	"25": "Unable to locate record",
	"30": "Format error",
	"40": "Requested function not supported",
	"41": "Lost card, pick up",
	"43": "Stolen card, pick up",
	"51": "Not sufficient funds",
	"54": "Expired card",
	"55": "Incorrect PIN",
	"57": "Transaction not permitted to cardholder",
	"58": "Transaction not permitted to terminal",
	"61": "Exceeds withdrawal amount limit",
	"68": "Response received too late",
	"75": "Allowable PIN tries exceeded",
	"91": "Issuer or switch inoperative",
	"92": "Routing error",
	"94": "Duplicate transmission",
	"96": "System malfunction",
}
