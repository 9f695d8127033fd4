package isocodec

// SmartVistaEncodings: ASCII MTI, digits and length prefixes; a binary
// bitmap; binary fields with packed-decimal length prefixes.
var SmartVistaEncodings = Encodings{
	Numeric:     EncASCII,
	Track2:      EncASCII,
	NumericPref: PrefixASCII,
	TextPref:    PrefixASCII,
	BinaryPref:  PrefixBCD,
	Bitmap:      EncBinary,
	MTI:         EncASCII,
}

// smartVistaFields is ISO 8583:1987 in ASCII as jPOS's
// ISO87APackagerBBitmap has it, under smartVista's own fields (docs/wire.md).
// ISO87A's binary fields are hex text on the wire, so 96 and 128 are
// that text; an amount with its sign (28-31, 97) is its sign and digits
// in ASCII (IFA_AMOUNT).
func smartVistaFields() []FieldDef {
	e := SmartVistaEncodings
	own := []FieldDef{
		e.mustField(96, "Message Security Code", "ans", 32),
		e.mustField(128, "Message Authentication Code", "ans", 16),
	}
	return iso87Fields(e, func(n int) (string, int, bool) { return "xn", n, true }, append(own, smartVistaOwn()...))
}

// smartVistaOwn are the fields as smartVista documents them.
func smartVistaOwn() []FieldDef {
	e := SmartVistaEncodings
	return []FieldDef{
		e.mustField(2, "Primary Account Number", "LLn", 19),
		e.mustField(3, "Processing Code", "n", 6),
		e.mustField(4, "Amount, Transaction", "n", 12),
		e.mustField(5, "Amount, Settlement", "n", 12),
		e.mustField(6, "Amount, Cardholder Billing", "n", 12),
		e.mustField(7, "Transmission Date and Time", "n", 10),
		e.mustField(8, "Amount, Cardholder Billing Fee", "n", 8),
		e.mustField(9, "Conversion Rate, Settlement", "n", 8),
		e.mustField(10, "Conversion Rate, Cardholder Billing", "n", 8),
		e.mustField(11, "System Trace Audit Number", "n", 6),
		e.mustField(12, "Time, Local Transaction", "n", 12),
		e.mustField(13, "Date, Local Transaction", "n", 4),
		e.mustField(14, "Date, Expiration", "n", 6),
		e.mustField(15, "Date, Settlement", "n", 4),
		e.mustField(22, "POS Entry Mode", "n", 3),
		e.mustField(24, "Function Code", "n", 3),
		e.mustField(25, "POS Condition Code", "n", 2),
		e.mustField(32, "Acquiring Institution Id", "LLn", 11),
		e.mustField(35, "Track 2 Data", "LLans", 37),
		e.mustField(37, "Retrieval Reference Number", "ans", 12),
		e.mustField(38, "Approval Code", "ans", 6),
		e.mustField(39, "Response Code", "n", 3),
		e.mustField(41, "Card Acceptor Terminal Identification", "n", 8),
		e.mustField(42, "Merchant Id", "n", 15),
		e.mustField(46, "Amount, Fees", "LLLans", 999),
		e.mustField(49, "Currency Code, Transaction", "n", 3),
		// LL with a BCD prefix is one byte of length, as the host sends it.
		e.mustField(52, "PIN Data", "LLb", 8),
		e.mustField(54, "Additional Amounts", "LLLans", 120),
		e.mustField(55, "EMV Data", "LLLb", 255),
		e.mustField(62, "Customer Defined Response", "LLLans", 999),
		e.mustField(64, "Message Authentication Code", "ans", 8),
		e.mustField(70, "Network Management Information Code", "n", 3),
	}
}

func smartVistaRules() Rules {
	request := []int{0, 1, 3, 4, 7, 11, 12, 22, 24, 25, 41, 42, 49}
	return Rules{
		Mandatory: map[string][]int{
			"0800": {0, 1, 3, 7, 11, 24, 41},
			"0200": request,
			"0400": request,
		},
		ApprovedCode:  "000",
		SystemErrors:  []string{"005", "120", "902", "903", "907", "910", "912"},
		ResponseCodes: responseCodes3,
		LocalTime:     LocalTimeField12Full,
		// The reversal as smartVista documents it: 24 = 400, no 90.
		ReversalFunctionCode: "400",
		// The original's "n" fields came out of its unpacker as numbers,
		// but for 0, 7, 11, 12, 22, 41 and 42, which it padded again:
		// its README's reply has "3":0, "4":1000, "39":0 beside
		// "11":"618160", "41":"00992468".
		JSONNumbers: []int{3, 4, 5, 6, 8, 9, 10, 13, 14, 15, 24, 25, 39, 49, 70},
		EntryModes:  entryModes,
		AuthMethods: authMethods,
	}
}

// responseCodes3 are the three-digit (ISO 8583:1993 style) codes SmartVista
// answers with.
var responseCodes3 = map[string]string{
	"000": "Successful Transaction",
	"001": "Honour with identification",
	"003": "Approved (VIP)",
	"005": "System error",
	"100": "Do not honour",
	"101": "Expired card",
	"102": "Suspected fraud",
	"103": "Card acceptor contact acquirer",
	"104": "Restricted card",
	"106": "Allowable PIN tries exceeded",
	"107": "Refer to card issuer",
	"109": "Invalid merchant",
	"110": "Invalid amount",
	"111": "Invalid card number",
	"114": "No account of type requested",
	"115": "Requested function not supported",
	"116": "Not sufficient funds",
	"117": "Incorrect PIN",
	"118": "No card record",
	"119": "Transaction not permitted to cardholder",
	"120": "Transaction not permitted to terminal",
	"121": "Exceeds withdrawal amount limit",
	"123": "Exceeds withdrawal frequency limit",
	"125": "Card not effective",
	"200": "Do not honour, pick up card",
	"400": "Reversal accepted",
	"902": "Invalid transaction",
	"903": "Re-enter transaction",
	"904": "Format error",
	"907": "Card issuer or switch inoperative",
	"908": "Transaction destination cannot be found for routing",
	"909": "System malfunction",
	"910": "Card issuer signed off",
	"911": "Card issuer timed out",
	"912": "Card issuer unavailable",
	"913": "Duplicate transmission",
	"914": "Not able to trace back to original transaction",
}

// entryModes caption the first two digits of field 22.
var entryModes = map[string]string{
	"00": "Unknown",
	"01": "Manual; no terminal",
	"02": "Magnetic stripe read; CVV may be unreliable",
	"03": "Bar code",
	"04": "OCR",
	"05": "Integrated circuit card read; CVV data reliable",
	"07": "Contactless integrated circuit card",
	"10": "Credential on file",
	"79": "Chip card fallback to manual entry",
	"80": "Chip card fallback to magnetic stripe",
	"81": "E-commerce",
	"90": "Magnetic stripe read; CVV data reliable",
	"91": "Contactless magnetic stripe",
	"95": "Integrated circuit card read; CVV may be unreliable",
}

// authMethods caption the third digit of field 22.
var authMethods = map[byte]string{
	'0': "Unknown",
	'1': "PIN",
	'2': "PIN pad inoperative",
	'5': "Electronic signature",
	'6': "Signature Based",
	'8': "No cardholder verification",
	'9': "Other",
}
