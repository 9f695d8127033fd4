package bank

import "github.com/socketqueue/socketqueue-go/isocodec"

// Codes are the response codes the emulator answers with. The rules are
// the same for every dialect; only the codes' spelling differs.
type Codes struct {
	Approved       string
	NoFunds        string // balance below the amount
	NoCardOrAmount string // no PAN in 2 or 35, or no amount in 4
	Invalid        string // a request that fails validation
	NotFound       string // a reversal whose original cannot be traced
	NotSupported   string // an MTI or processing code the host does not do
}

// smartVistaCodes are the original Socket Bank's codes.
var smartVistaCodes = Codes{
	Approved:       "000",
	NoFunds:        "116",
	NoCardOrAmount: "005",
	Invalid:        "120",
	NotFound:       "914",
	NotSupported:   "115",
}

// iso87Codes are the ISO 8583:1987 two-character equivalents.
var iso87Codes = Codes{
	Approved:       "00",
	NoFunds:        "51",
	NoCardOrAmount: "06",
	Invalid:        "30",
	NotFound:       "25",
	NotSupported:   "40",
}

// CodesFor picks the code set whose spelling matches the dialect's
// approved code: three characters for smartVista and its derivatives, two
// for the ISO 8583:1987 family.
func CodesFor(d *isocodec.Dialect) Codes {
	if len(d.Rules.ApprovedCode) == 3 {
		return smartVistaCodes
	}
	c := iso87Codes
	c.Approved = d.Rules.ApprovedCode
	return c
}

// codeBytes are Codes as the byte slices replies are built from, made
// once so that no reply converts a string.
type codeBytes struct {
	approved, noFunds, noCardOrAmount, invalid, notFound, notSupported []byte
}

func (c Codes) bytes() codeBytes {
	return codeBytes{[]byte(c.Approved), []byte(c.NoFunds), []byte(c.NoCardOrAmount),
		[]byte(c.Invalid), []byte(c.NotFound), []byte(c.NotSupported)}
}
