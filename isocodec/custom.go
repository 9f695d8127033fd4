package isocodec

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
)

// DialectFile is a custom dialect as JSON: a built-in base plus the fields
// and rules that differ, so that a new host needs no code. Example:
//
//	{"name": "myBank", "base": "smartVista",
//	 "fields": {"48": {"type": "LLLans", "length": 999, "name": "Additional Data"},
//	            "41": {"type": "ans", "length": 8}},
//	 "mandatory": {"0100": [0, 1, 2, 3, 4, 11, 41]},
//	 "approvedCode": "000"}
//
// A field's encoding and prefix default to the base's for its type;
// "encoding" (ascii, bcd, track2bcd, binary) and "prefix" (ascii, bcd,
// binary) override them. "remove" drops base fields.
type DialectFile struct {
	Name          string               `json:"name"`
	Base          string               `json:"base"`
	Fields        map[string]FieldFile `json:"fields"`
	Remove        []int                `json:"remove"`
	Mandatory     map[string][]int     `json:"mandatory"`
	ApprovedCode  string               `json:"approvedCode"`
	SystemErrors  []string             `json:"systemErrors"`
	ResponseCodes map[string]string    `json:"responseCodes"`
	// Bitmap is "binary" (8 bytes a bitmap), "hex" (16 ASCII hex
	// digits, upper case, as jPOS writes them) or "hex-lower" (as the
	// original SocketQueue did); empty keeps the base's.
	Bitmap string `json:"bitmap"`
}

// FieldFile is one field of a DialectFile.
type FieldFile struct {
	Type     string `json:"type"`
	Length   int    `json:"length"`
	Name     string `json:"name"`
	Encoding string `json:"encoding"`
	Prefix   string `json:"prefix"`
}

// LoadDialect reads a dialect file. Unknown keys, types, encodings or
// impossible lengths are refused with a message naming the field.
func LoadDialect(path string) (*Dialect, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dialect file: %w", err)
	}
	var df DialectFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&df); err != nil {
		return nil, fmt.Errorf("dialect file %s: %w", path, err)
	}
	d, err := df.Build()
	if err != nil {
		return nil, fmt.Errorf("dialect file %s: %w", path, err)
	}
	return d, nil
}

// Build makes the dialect the file describes.
func (df DialectFile) Build() (*Dialect, error) {
	base, err := Builtin(df.Base)
	if err != nil {
		return nil, err
	}
	if df.Name == "" {
		df.Name = base.Name + "+custom"
	}
	return base.derive(df)
}

func (ff FieldFile) def(base *Dialect, id int, old FieldDef) (FieldDef, error) {
	name := ff.Name
	if name == "" {
		name = old.Name
	}
	if name == "" {
		name = "Field " + strconv.Itoa(id)
	}
	length := ff.Length
	if length == 0 {
		length = old.Length
	}
	if ff.Type == "" {
		return FieldDef{}, fmt.Errorf("field %d: no type", id)
	}
	def, err := base.Enc.NewFieldDef(id, name, ff.Type, length)
	if err != nil {
		return FieldDef{}, err
	}
	switch strings.ToLower(ff.Encoding) {
	case "":
	case "ascii":
		def.Enc = EncASCII
	case "bcd":
		def.Enc = EncBCD
	case "track2bcd":
		def.Enc = EncTrack2BCD
	case "binary":
		def.Enc = EncBinary
	default:
		return FieldDef{}, fmt.Errorf("field %d: encoding %q: want ascii, bcd, track2bcd or binary", id, ff.Encoding)
	}
	switch strings.ToLower(ff.Prefix) {
	case "":
	case "ascii":
		def.Prefix = PrefixASCII
	case "bcd":
		def.Prefix = PrefixBCD
	case "binary":
		def.Prefix = PrefixBinary
	default:
		return FieldDef{}, fmt.Errorf("field %d: prefix %q: want ascii, bcd or binary", id, ff.Prefix)
	}
	if (def.Enc == EncBinary) != (def.Charset == CharsetB) {
		return FieldDef{}, fmt.Errorf("field %d: binary encoding goes with type b, and only with it", id)
	}
	if err := def.validate(); err != nil {
		return FieldDef{}, err
	}
	return def, nil
}

// WithOverrides applies the original's overrides option,
// "<field>:<type>[:length],...", e.g. "48:LLLans:999,41:ans:8". The
// length may be left out for a field the dialect already has.
func (d *Dialect) WithOverrides(spec string) (*Dialect, error) {
	if strings.TrimSpace(spec) == "" {
		return d, nil
	}
	df := DialectFile{Name: d.Name, Fields: map[string]FieldFile{}}
	for _, item := range strings.Split(spec, ",") {
		parts := strings.Split(strings.TrimSpace(item), ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("overrides %q: want <field>:<type>[:length]", item)
		}
		ff := FieldFile{Type: parts[1]}
		if len(parts) == 3 {
			n, err := strconv.Atoi(parts[2])
			if err != nil {
				return nil, fmt.Errorf("overrides %q: field %s: length %q is not a number", item, parts[0], parts[2])
			}
			ff.Length = n
		}
		if parts[0] == "1" {
			switch strings.ToLower(parts[1]) {
			case "bitmap":
				df.Bitmap = "binary"
			case "bitmap-hex":
				df.Bitmap = "hex-lower" // the original's bytes
			default:
				return nil, fmt.Errorf("overrides %q: field 1 is the bitmap: bitmap or bitmap-hex", item)
			}
			continue
		}
		if orig, ok := originalType(ff); ok {
			ff = orig
		} else if strings.Contains(parts[1], "-") {
			return nil, fmt.Errorf("overrides %q: the original's type %q is not one this gateway can write (ll-n, ll-an, ll-bin-n, ll-bin-an, bitmap-hex, bitmap), nor one of ours (L's then n, an, ans, z or b)", item, parts[1])
		}
		df.Fields[parts[0]] = ff
	}
	return d.derive(df)
}

// originalType reads an override in the original SocketQueue's
// hyphenated type names (its packers), whose encodings are their own
// whatever the dialect: "ll-n", "ll-an" with an ASCII length, "ll-bin-n",
// "ll-bin-an" with a packed one (two digits up to 99, three past it), the
// value in ASCII. Its "n", "an", "ans" and "b" are ours too and read as
// ours (in the ASCII family, the same bytes); "a" is "an". ok is false
// for anything else.
func originalType(ff FieldFile) (FieldFile, bool) {
	ls := "LL"
	if ff.Length > 99 {
		ls = "LLL"
	}
	out := FieldFile{Length: ff.Length, Encoding: "ascii"}
	switch strings.ToLower(ff.Type) {
	case "a":
		return FieldFile{Type: "an", Length: ff.Length}, true
	case "ll-n":
		out.Type, out.Prefix = ls+"n", "ascii"
	case "ll-an":
		out.Type, out.Prefix = ls+"ans", "ascii"
	case "ll-bin-n":
		out.Type, out.Prefix = ls+"n", "bcd"
	case "ll-bin-an":
		out.Type, out.Prefix = ls+"ans", "bcd"
	default:
		return ff, false
	}
	return out, true
}

// derive applies a DialectFile's changes to d (built-in or custom).
func (d *Dialect) derive(df DialectFile) (*Dialect, error) {
	fields := map[int]FieldDef{}
	for _, f := range d.FieldDefs() {
		fields[f.ID] = f
	}
	for _, id := range df.Remove {
		delete(fields, id)
	}
	for key, ff := range df.Fields {
		id, err := strconv.Atoi(key)
		if err != nil {
			return nil, fmt.Errorf("field %q: not a field number", key)
		}
		def, err := ff.def(d, id, fields[id])
		if err != nil {
			return nil, err
		}
		fields[id] = def
	}
	rules := d.Rules
	if df.Mandatory != nil {
		rules.Mandatory = map[string][]int{}
		for k, v := range d.Rules.Mandatory {
			rules.Mandatory[k] = v
		}
		for k, v := range df.Mandatory {
			rules.Mandatory[k] = v
		}
	}
	if df.ApprovedCode != "" {
		rules.ApprovedCode = df.ApprovedCode
	}
	if df.SystemErrors != nil {
		rules.SystemErrors = df.SystemErrors
	}
	if df.ResponseCodes != nil {
		rules.ResponseCodes = df.ResponseCodes
	}
	enc := d.Enc
	switch strings.ToLower(df.Bitmap) {
	case "":
	case "binary":
		enc.Bitmap = EncBinary
	case "hex":
		enc.Bitmap, enc.BitmapLowerHex = EncASCII, false
	case "hex-lower":
		enc.Bitmap, enc.BitmapLowerHex = EncASCII, true
	default:
		return nil, fmt.Errorf("bitmap %q: want binary, hex or hex-lower", df.Bitmap)
	}
	return NewDialect(df.Name, enc, sortedDefs(fields), rules)
}

func sortedDefs(m map[int]FieldDef) []FieldDef {
	out := make([]FieldDef, 0, len(m))
	for id := 2; id <= 128; id++ {
		if f, ok := m[id]; ok {
			out = append(out, f)
		}
	}
	return out
}

// OpenDialect is a built-in dialect by name, or a dialect file when name
// ends in .json, with the original's --overrides applied.
func OpenDialect(name, overrides string) (*Dialect, error) {
	var d *Dialect
	var err error
	if strings.HasSuffix(name, ".json") {
		d, err = LoadDialect(name)
	} else {
		d, err = Builtin(name)
	}
	if err != nil {
		return nil, err
	}
	return d.WithOverrides(overrides)
}
