package isocodec

import (
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"strings"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
)

// Dialect is everything the gateway knows about one host's ISO-8583: the
// moov-io spec (how fields are written) and the rules around it. A Dialect
// is read-only after construction and safe to share between goroutines.
type Dialect struct {
	Name string
	// Spec is the moov-io message spec built from the field definitions.
	Spec *iso8583.MessageSpec
	// Layout is the scanner's view of Spec.
	Layout *Layout
	Enc    Encodings
	Rules  Rules

	fields      [129]FieldDef // index = field id; ID 0 = not defined
	mandatory   map[MTI]FieldSet
	jsonNumbers FieldSet
}

// JSONNumbers is Rules.JSONNumbers as a set, of fixed numeric fields only.
func (d *Dialect) JSONNumbers() FieldSet { return d.jsonNumbers }

// Rules are the parts of a dialect that are not about encoding.
type Rules struct {
	// Mandatory lists, per MTI ("0200"), the fields a client request of
	// that type must carry. 0 and 1 (MTI and bitmap) are always present.
	Mandatory map[string][]int
	// ApprovedCode is field 39 of an approval, as on the wire ("000").
	ApprovedCode string
	// SystemErrors are the field 39 codes after which a reversal is
	// retried: the host failed, not the card.
	SystemErrors []string
	// ResponseCodes gives the meaning of each field 39 code, for dumps.
	ResponseCodes map[string]string
	// LocalTime says where the client's local transaction time is, for
	// the expiry check.
	LocalTime LocalTimeRule
	// EntryModes captions the card data input mode (first two digits of
	// field 22); AuthMethods the cardholder authentication method (third).
	EntryModes  map[string]string
	AuthMethods map[byte]string
	// ReversalFunctionCode, when set, goes into field 24 of the
	// gateway's reversals (smartVista: 400); where 24 means something
	// else (openWay: the network international identifier) it is empty
	// and 24 is kept as the purchase had it.
	ReversalFunctionCode string
	// ReversalOriginalData: the gateway's reversals carry field 90, the
	// original data elements (ISO 8583:1987 hosts).
	ReversalOriginalData bool
	// JSONNumbers are the fields the HTTP API's replies give as JSON
	// numbers (their digits without leading zeros), as the original
	// SocketQueue did: its numeric fields, but for those it kept padded.
	// Every other field is the wire's string.
	JSONNumbers []int
}

// LocalTimeRule names the fields that carry the client's local time.
type LocalTimeRule uint8

const (
	// LocalTimeNone: the dialect has no usable local time; no expiry check.
	LocalTimeNone LocalTimeRule = iota
	// LocalTimeField12Full: field 12 is YYMMDDhhmmss (smartVista).
	LocalTimeField12Full
	// LocalTimeField12And13: field 12 is hhmmss and field 13 MMDD
	// (ISO-8583:1987); the year is the one that puts the date nearest now.
	LocalTimeField12And13
)

// MTI is a message type as four ASCII digits, comparable and free to copy.
type MTI [4]byte

func (m MTI) String() string { return string(m[:]) }

// Number is the MTI as a number, 0 to 9999, for tables indexed by it;
// false when it is not four digits.
func (m MTI) Number() (int, bool) { return num(m[:]) }

// The message types the gateway and the emulator act on by name.
var (
	MTIPurchase         = MTI{'0', '2', '0', '0'} // financial request
	MTIPurchaseResponse = MTI{'0', '2', '1', '0'}
	MTIReversal         = MTI{'0', '4', '0', '0'}
	MTIReversalRepeat   = MTI{'0', '4', '0', '1'}
	MTIReversalAdvice   = MTI{'0', '4', '2', '0'}
	MTIReversalAdviceRp = MTI{'0', '4', '2', '1'}
	MTINetwork          = MTI{'0', '8', '0', '0'} // network management (echo, sign-on)
	MTINetworkResponse  = MTI{'0', '8', '1', '0'}
)

// ParseMTI reads "0200" (or "200", left-padded) into an MTI.
func ParseMTI(s string) (MTI, error) {
	var m MTI
	if len(s) == 0 || len(s) > 4 {
		return m, fmt.Errorf("MTI %q: want 4 digits", s)
	}
	copy(m[:], "0000"[:4-len(s)])
	copy(m[4-len(s):], s)
	for _, c := range m {
		if c < '0' || c > '9' {
			return m, fmt.Errorf("MTI %q: want 4 digits", s)
		}
	}
	return m, nil
}

// Class is the message class digit (the 2 of 0200).
func (m MTI) Class() byte { return m[1] }

// IsResponse reports whether the function digit says response (0210, 0410, 0810).
func (m MTI) IsResponse() bool { return (m[2]-'0')%2 == 1 }

// Response is the MTI of the reply to m (0200 -> 0210). A repeat is
// answered as its first sending is (0401 -> 0410, 0421 -> 0430): the
// origin's repeat bit does not carry into the reply.
func (m MTI) Response() MTI {
	r := m
	if !m.IsResponse() {
		r[2]++
		if r[3] >= '0' && r[3] <= '9' {
			r[3] = '0' + (r[3]-'0')&^1
		}
	}
	return r
}

// IsRepeat reports whether m is the repeat of a message sent before
// (the odd origins of ISO 8583:1987: 0401, 0421, 0201).
func (m MTI) IsRepeat() bool { return m[3] >= '0' && m[3] <= '9' && (m[3]-'0')%2 == 1 }

// FieldSet is a set of field numbers 1..128, comparable and free to copy.
type FieldSet [2]uint64

// Add puts field id in the set.
func (s *FieldSet) Add(id int) { s[(id-1)>>6] |= 1 << (uint(id-1) & 63) }

// Has reports whether field id is in the set.
func (s FieldSet) Has(id int) bool {
	if id < 1 || id > 128 {
		return false
	}
	return s[(id-1)>>6]&(1<<(uint(id-1)&63)) != 0
}

// Each calls fn for every field id in the set, in ascending order.
func (s FieldSet) Each(fn func(id int) bool) {
	for w := range 2 {
		for b := s[w]; b != 0; b &= b - 1 {
			if !fn(w*64 + bits.TrailingZeros64(b) + 1) {
				return
			}
		}
	}
}

// NewDialect builds a dialect from field definitions and checks that it is
// usable: every field encodable, the spec accepted by moov-io, the layout
// derivable from the spec.
func NewDialect(name string, enc Encodings, defs []FieldDef, rules Rules) (*Dialect, error) {
	d := &Dialect{Name: name, Enc: enc, Rules: rules, mandatory: map[MTI]FieldSet{}}
	for _, f := range defs {
		if err := f.validate(); err != nil {
			return nil, fmt.Errorf("dialect %s: %w", name, err)
		}
		d.fields[f.ID] = f
	}
	spec, err := d.buildSpec()
	if err != nil {
		return nil, fmt.Errorf("dialect %s: %w", name, err)
	}
	d.Spec = spec
	if d.Layout, err = layoutFromSpec(spec, d.fields); err != nil {
		return nil, fmt.Errorf("dialect %s: %w", name, err)
	}
	d.Layout.bitmapLower = enc.BitmapLowerHex
	for mtiText, ids := range rules.Mandatory {
		mti, err := ParseMTI(mtiText)
		if err != nil {
			return nil, fmt.Errorf("dialect %s: mandatory fields: %w", name, err)
		}
		var set FieldSet
		for _, id := range ids {
			if id == 0 || id == 1 {
				continue // MTI and bitmap are there by construction
			}
			if id < 0 || id > 128 || d.fields[id].ID == 0 {
				return nil, fmt.Errorf("dialect %s: mandatory field %d for %s is not defined", name, id, mtiText)
			}
			set.Add(id)
		}
		d.mandatory[mti] = set
	}
	for _, id := range rules.JSONNumbers {
		if id > 1 && id <= 128 && d.fields[id].Charset == CharsetN && d.fields[id].Fixed() {
			d.jsonNumbers.Add(id)
		}
	}
	return d, nil
}

// Field returns the definition of field id, and false if the dialect has none.
func (d *Dialect) Field(id int) (FieldDef, bool) {
	if id < 2 || id > 128 || d.fields[id].ID == 0 {
		return FieldDef{}, false
	}
	return d.fields[id], true
}

// FieldName is the field's description, with names for MTI and bitmap.
func (d *Dialect) FieldName(id int) string {
	switch id {
	case 0:
		return "Message Type Indicator"
	case 1:
		return "Bitmap"
	}
	if f, ok := d.Field(id); ok {
		return f.Name
	}
	return "Field " + strconv.Itoa(id)
}

// FieldDefs lists the defined fields in id order.
func (d *Dialect) FieldDefs() []FieldDef {
	var out []FieldDef
	for _, f := range d.fields {
		if f.ID != 0 {
			out = append(out, f)
		}
	}
	return out
}

// Mandatory is the set of fields a request of type mti must carry.
func (d *Dialect) Mandatory(mti MTI) FieldSet { return d.mandatory[mti] }

// IsSystemError reports whether a field 39 value means the host, not the
// card, failed (a reversal answered so is tried again).
func (d *Dialect) IsSystemError(code []byte) bool {
	for _, c := range d.Rules.SystemErrors {
		if c == string(code) {
			return true
		}
	}
	return false
}

// IsApproved reports whether a field 39 value means approved.
func (d *Dialect) IsApproved(code []byte) bool { return string(code) == d.Rules.ApprovedCode }

// Describe lists the dialect's fields, one per line, for --help and docs.
func (d *Dialect) Describe() string {
	var b strings.Builder
	for _, f := range d.FieldDefs() {
		fmt.Fprintf(&b, "%3d  %-7s %4d  %s\n", f.ID, f.Type(), f.Length, f.Name)
	}
	mtis := make([]string, 0, len(d.Rules.Mandatory))
	for m := range d.Rules.Mandatory {
		mtis = append(mtis, m)
	}
	sort.Strings(mtis)
	for _, m := range mtis {
		fmt.Fprintf(&b, "mandatory %s: %v\n", m, d.Rules.Mandatory[m])
	}
	return b.String()
}

func (d *Dialect) buildSpec() (*iso8583.MessageSpec, error) {
	spec := &iso8583.MessageSpec{Name: d.Name, Fields: map[int]field.Field{}}
	mti := &field.Spec{Length: 4, Description: "Message Type Indicator", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}
	if d.Enc.MTI == EncBCD {
		mti.Enc, mti.Pref = encoding.BCD, prefix.BCD.Fixed
	}
	spec.Fields[0] = field.NewString(mti)
	bitmap := &field.Spec{Length: 8, Description: "Bitmap", Enc: encoding.Binary, Pref: prefix.Binary.Fixed}
	if d.Enc.Bitmap == EncASCII {
		bitmap.Enc, bitmap.Pref = encoding.BytesToASCIIHex, prefix.Hex.Fixed
	}
	spec.Fields[1] = field.NewBitmap(bitmap)
	for _, f := range d.fields {
		if f.ID == 0 {
			continue
		}
		fs := &field.Spec{Length: f.Length, Description: f.Name}
		switch f.Enc {
		case EncASCII:
			fs.Enc = encoding.ASCII
		case EncBCD:
			fs.Enc = encoding.BCD
		case EncTrack2BCD:
			fs.Enc = Track2BCD
		case EncSignedBCD:
			fs.Enc = SignedBCD
		case EncBinary:
			fs.Enc = encoding.Binary
		default:
			return nil, fmt.Errorf("field %d: no encoding", f.ID)
		}
		var family prefix.Prefixers
		switch f.Prefix {
		case PrefixASCII:
			family = prefix.ASCII
		case PrefixBCD:
			family = prefix.BCD
		case PrefixBinary:
			family = prefix.Binary
		default:
			return nil, fmt.Errorf("field %d: no prefix encoding", f.ID)
		}
		fs.Pref = [...]prefix.Prefixer{family.Fixed, family.L, family.LL, family.LLL, family.LLLL}[f.LenDigits]
		// No padders: values are kept exactly as on the wire (moov-io's
		// padders strip leading zeros on unpack); JSON input is padded by
		// this package before it reaches moov-io.
		if f.Charset == CharsetB {
			spec.Fields[f.ID] = field.NewBinary(fs)
		} else {
			spec.Fields[f.ID] = field.NewString(fs)
		}
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("moov-io spec: %w", err)
	}
	return spec, nil
}
