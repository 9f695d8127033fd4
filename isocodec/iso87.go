package isocodec

// iso87 is ISO 8583:1987's data elements as the jPOS packagers of that
// version lay them out (ISO87BPackager, ISO87APackager): every field 2 to
// 128 but 65, which the scanner reads as the bitmap's own bit. Types are
// in the notation of dialect files; "xn" is an amount with its sign, C or
// D, before the digits (jPOS IFB_AMOUNT / IFA_AMOUNT). A dialect takes
// this table with its encodings and puts its own differences over it.
var iso87 = []struct {
	id     int
	name   string
	typ    string
	length int
}{
	{2, "Primary Account Number", "LLn", 19},
	{3, "Processing Code", "n", 6},
	{4, "Amount, Transaction", "n", 12},
	{5, "Amount, Settlement", "n", 12},
	{6, "Amount, Cardholder Billing", "n", 12},
	{7, "Transmission Date and Time", "n", 10},
	{8, "Amount, Cardholder Billing Fee", "n", 8},
	{9, "Conversion Rate, Settlement", "n", 8},
	{10, "Conversion Rate, Cardholder Billing", "n", 8},
	{11, "System Trace Audit Number", "n", 6},
	{12, "Time, Local Transaction", "n", 6},
	{13, "Date, Local Transaction", "n", 4},
	{14, "Date, Expiration", "n", 4},
	{15, "Date, Settlement", "n", 4},
	{16, "Date, Conversion", "n", 4},
	{17, "Date, Capture", "n", 4},
	{18, "Merchant Type", "n", 4},
	{19, "Acquiring Institution Country Code", "n", 3},
	{20, "PAN Extended Country Code", "n", 3},
	{21, "Forwarding Institution Country Code", "n", 3},
	{22, "POS Entry Mode", "n", 3},
	{23, "Card Sequence Number", "n", 3},
	{24, "Network International Identifier", "n", 3},
	{25, "POS Condition Code", "n", 2},
	{26, "POS PIN Capture Code", "n", 2},
	{27, "Authorization Identification Response Length", "n", 1},
	{28, "Amount, Transaction Fee", "xn", 9},
	{29, "Amount, Settlement Fee", "xn", 9},
	{30, "Amount, Transaction Processing Fee", "xn", 9},
	{31, "Amount, Settlement Processing Fee", "xn", 9},
	{32, "Acquiring Institution Id", "LLn", 11},
	{33, "Forwarding Institution Id", "LLn", 11},
	{34, "PAN Extended", "LLans", 28},
	{35, "Track 2 Data", "LLz", 37},
	{36, "Track 3 Data", "LLLans", 104},
	{37, "Retrieval Reference Number", "ans", 12},
	{38, "Approval Code", "ans", 6},
	{39, "Response Code", "ans", 2},
	{40, "Service Restriction Code", "ans", 3},
	{41, "Card Acceptor Terminal Identification", "ans", 8},
	{42, "Merchant Id", "ans", 15},
	{43, "Card Acceptor Name/Location", "ans", 40},
	{44, "Additional Response Data", "LLans", 25},
	{45, "Track 1 Data", "LLans", 76},
	{46, "Additional Data, ISO", "LLLans", 999},
	{47, "Additional Data, National", "LLLans", 999},
	{48, "Additional Data, Private", "LLLans", 999},
	{49, "Currency Code, Transaction", "ans", 3},
	{50, "Currency Code, Settlement", "ans", 3},
	{51, "Currency Code, Cardholder Billing", "ans", 3},
	{52, "PIN Data", "b", 8},
	{53, "Security Related Control Information", "n", 16},
	{54, "Additional Amounts", "LLLans", 120},
	{55, "EMV Data", "LLLb", 999},
	{56, "Reserved, ISO", "LLLans", 999},
	{57, "Reserved, National", "LLLans", 999},
	{58, "Reserved, National", "LLLans", 999},
	{59, "Reserved, National", "LLLans", 999},
	{60, "Reserved, Private", "LLLans", 999},
	{61, "Reserved, Private", "LLLans", 999},
	{62, "Reserved, Private", "LLLans", 999},
	{63, "Reserved, Private", "LLLans", 999},
	{64, "Message Authentication Code", "b", 8},
	{66, "Settlement Code", "n", 1},
	{67, "Extended Payment Code", "n", 2},
	{68, "Receiving Institution Country Code", "n", 3},
	{69, "Settlement Institution Country Code", "n", 3},
	{70, "Network Management Information Code", "n", 3},
	{71, "Message Number", "n", 4},
	{72, "Message Number, Last", "n", 4},
	{73, "Date, Action", "n", 6},
	{74, "Credits, Number", "n", 10},
	{75, "Credits, Reversal Number", "n", 10},
	{76, "Debits, Number", "n", 10},
	{77, "Debits, Reversal Number", "n", 10},
	{78, "Transfer, Number", "n", 10},
	{79, "Transfer, Reversal Number", "n", 10},
	{80, "Inquiries, Number", "n", 10},
	{81, "Authorizations, Number", "n", 10},
	{82, "Credits, Processing Fee Amount", "n", 12},
	{83, "Credits, Transaction Fee Amount", "n", 12},
	{84, "Debits, Processing Fee Amount", "n", 12},
	{85, "Debits, Transaction Fee Amount", "n", 12},
	{86, "Credits, Amount", "n", 16},
	{87, "Credits, Reversal Amount", "n", 16},
	{88, "Debits, Amount", "n", 16},
	{89, "Debits, Reversal Amount", "n", 16},
	{90, "Original Data Elements", "n", 42},
	{91, "File Update Code", "ans", 1},
	{92, "File Security Code", "ans", 2},
	{93, "Response Indicator", "ans", 6},
	{94, "Service Indicator", "ans", 7},
	{95, "Replacement Amounts", "ans", 42},
	{96, "Message Security Code", "b", 16},
	{97, "Amount, Net Settlement", "xn", 17},
	{98, "Payee", "ans", 25},
	{99, "Settlement Institution Id", "LLn", 11},
	{100, "Receiving Institution Id", "LLn", 11},
	{101, "File Name", "LLans", 17},
	{102, "Account Identification 1", "LLans", 28},
	{103, "Account Identification 2", "LLans", 28},
	{104, "Transaction Description", "LLLans", 100},
	{105, "Reserved, ISO", "LLLans", 999},
	{106, "Reserved, ISO", "LLLans", 999},
	{107, "Reserved, ISO", "LLLans", 999},
	{108, "Reserved, ISO", "LLLans", 999},
	{109, "Reserved, ISO", "LLLans", 999},
	{110, "Reserved, ISO", "LLLans", 999},
	{111, "Reserved, ISO", "LLLans", 999},
	{112, "Reserved, National", "LLLans", 999},
	{113, "Reserved, National", "LLLans", 999},
	{114, "Reserved, National", "LLLans", 999},
	{115, "Reserved, National", "LLLans", 999},
	{116, "Reserved, National", "LLLans", 999},
	{117, "Reserved, National", "LLLans", 999},
	{118, "Reserved, National", "LLLans", 999},
	{119, "Reserved, National", "LLLans", 999},
	{120, "Reserved, Private", "LLLans", 999},
	{121, "Reserved, Private", "LLLans", 999},
	{122, "Reserved, Private", "LLLans", 999},
	{123, "Reserved, Private", "LLLans", 999},
	{124, "Reserved, Private", "LLLans", 999},
	{125, "Reserved, Private", "LLLans", 999},
	{126, "Reserved, Private", "LLLans", 999},
	{127, "Reserved, Private", "LLLans", 999},
	{128, "Message Authentication Code", "b", 8},
}

// iso87Fields builds the table with e's encodings. amount gives the type
// of an "xn" field in this family (false: the family leaves them out),
// and own are the dialect's fields that differ, by id.
func iso87Fields(e Encodings, amount func(length int) (typ string, n int, ok bool), own []FieldDef) []FieldDef {
	byID := map[int]FieldDef{}
	for _, d := range own {
		byID[d.ID] = d
	}
	out := make([]FieldDef, 0, len(iso87))
	for _, f := range iso87 {
		if d, ok := byID[f.id]; ok {
			out = append(out, d)
			continue
		}
		typ, n := f.typ, f.length
		if typ == "xn" {
			var ok bool
			if typ, n, ok = amount(n); !ok {
				continue
			}
		}
		out = append(out, e.mustField(f.id, f.name, typ, n))
	}
	return out
}
