package isocodec

// OpenWayEncodings: the binary ISO-8583 family (jPOS ISO87BPackager): BCD
// MTI, digits and length prefixes, a binary bitmap, text in ASCII.
var OpenWayEncodings = Encodings{
	Numeric:     EncBCD,
	Track2:      EncTrack2BCD,
	NumericPref: PrefixBCD,
	TextPref:    PrefixBCD,
	BinaryPref:  PrefixBCD,
	Bitmap:      EncBinary,
	MTI:         EncBCD,
}

func openWayFields() []FieldDef {
	e := OpenWayEncodings
	return []FieldDef{
		e.mustField(2, "Primary Account Number", "LLn", 19),
		e.mustField(3, "Processing Code", "n", 6),
		e.mustField(4, "Amount, Transaction", "n", 12),
		e.mustField(5, "Amount, Settlement", "n", 12),
		e.mustField(6, "Amount, Cardholder Billing", "n", 12),
		e.mustField(7, "Transmission Date and Time", "n", 10),
		e.mustField(9, "Conversion Rate, Settlement", "n", 8),
		e.mustField(10, "Conversion Rate, Cardholder Billing", "n", 8),
		e.mustField(11, "System Trace Audit Number", "n", 6),
		e.mustField(12, "Time, Local Transaction", "n", 6),
		e.mustField(13, "Date, Local Transaction", "n", 4),
		e.mustField(14, "Date, Expiration", "n", 4),
		e.mustField(15, "Date, Settlement", "n", 4),
		e.mustField(18, "Merchant Type", "n", 4),
		e.mustField(22, "POS Entry Mode", "n", 3),
		e.mustField(23, "Card Sequence Number", "n", 3),
		e.mustField(24, "Network International Identifier", "n", 3),
		e.mustField(25, "POS Condition Code", "n", 2),
		e.mustField(32, "Acquiring Institution Id", "LLn", 11),
		e.mustField(35, "Track 2 Data", "LLz", 37),
		e.mustField(37, "Retrieval Reference Number", "an", 12),
		e.mustField(38, "Approval Code", "an", 6),
		e.mustField(39, "Response Code", "an", 2),
		e.mustField(41, "Card Acceptor Terminal Identification", "ans", 8),
		e.mustField(42, "Merchant Id", "ans", 15),
		e.mustField(43, "Card Acceptor Name/Location", "ans", 40),
		e.mustField(45, "Track 1 Data", "LLans", 76),
		e.mustField(48, "Additional Data, Private", "LLLans", 999),
		e.mustField(49, "Currency Code, Transaction", "n", 3),
		e.mustField(52, "PIN Data", "b", 8),
		e.mustField(53, "Security Related Control Information", "n", 16),
		e.mustField(54, "Additional Amounts", "LLLans", 120),
		e.mustField(55, "EMV Data", "LLLb", 255),
		e.mustField(60, "Reserved, Private", "LLLans", 999),
		e.mustField(61, "Reserved, Private", "LLLans", 999),
		e.mustField(62, "Reserved, Private", "LLLans", 999),
		e.mustField(63, "Reserved, Private", "LLLans", 999),
		e.mustField(64, "Message Authentication Code", "b", 8),
		e.mustField(70, "Network Management Information Code", "n", 3),
		e.mustField(90, "Original Data Elements", "n", 42),
		e.mustField(128, "Message Authentication Code", "b", 8),
	}
}

func openWayRules() Rules {
	request := []int{0, 1, 3, 4, 7, 11, 12, 13, 22, 25, 41, 42, 49}
	return Rules{
		Mandatory: map[string][]int{
			"0800": {0, 1, 3, 7, 11, 41, 63},
			"0200": request,
			"0400": request,
		},
		ApprovedCode:  "00",
		SystemErrors:  []string{"06", "68", "91", "92", "96"},
		ResponseCodes: responseCodes2,
		LocalTime:     LocalTimeField12And13,
		EntryModes:    entryModes,
		AuthMethods:   authMethods,
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
