// Command isodump prints ISO-8583 messages the way the gateway's verbose
// log shows them, card data masked, or as the HTTP API's JSON.
//
//	isodump [--dialect smartVista|openWay|FILE.json] [--overrides LIST]
//	        [--framing none|ascii4|bin2|hex4|bcd2|tpdu|HEADERFORMAT]
//	        [--lengthIncludeHeader] [--hex] [--json] [--dangerous] FILE|-
//	isodump --describe [--dialect ...] [--overrides ...]
//	isodump --pack [--dialect ...] [--framing ...] [--hex] FILE|-
//
// --pack is the inverse: each JSON object of the input, in the HTTP API's
// request form ({"0": "0200", "4": 1000, ...}), becomes the message the
// gateway would send, framed as asked, written as bytes or, with --hex,
// one line of hex a message: a test frame without a gateway.
//
// A message that does not parse is reported with its number, the field and
// the byte offset in the input, and isodump exits 1.
package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("isodump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dialectName := fs.String("dialect", "smartVista", "smartVista, openWay, or a dialect file (JSON)")
	overrides := fs.String("overrides", "", "field overrides, <field>:<type>[:length],...")
	framing := fs.String("framing", "none", "none (bare messages), ascii4, bin2, hex4, bcd2, tpdu, or a header format such as tic:an:8:A4M04000,length:n:4")
	inclHeader := fs.Bool("lengthIncludeHeader", false, "the frame length counts the header too")
	hexIn := fs.Bool("hex", false, "the input is hex text (white space ignored); with --pack, the output")
	asJSON := fs.Bool("json", false, "print each message as the HTTP API's JSON")
	dangerous := fs.Bool("dangerous", false, "show card data unmasked")
	describe := fs.Bool("describe", false, "print the dialect's field table and exit")
	pack := fs.Bool("pack", false, "pack JSON objects (the HTTP API's request form) into messages; with --hex, write hex")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: isodump [options] FILE|-")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	d, err := isocodec.OpenDialect(*dialectName, *overrides)
	if err != nil {
		fmt.Fprintln(stderr, "isodump:", err)
		return 2
	}
	if *describe {
		fmt.Fprint(stdout, d.Describe())
		return 0
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	fr, err := isocodec.FramingByName(*framing, isocodec.FramingConfig{Layout: d.Layout, LengthIncludeHeader: *inclHeader, MaxFrame: isocodec.MaxMessage})
	if err != nil {
		fmt.Fprintln(stderr, "isodump:", err)
		return 2
	}
	data, err := readInput(fs.Arg(0), stdin, *hexIn && !*pack)
	if err == nil && *pack {
		if err := packAll(data, d, fr, *hexIn, stdout); err != nil {
			fmt.Fprintln(stderr, "isodump:", err)
			return 1
		}
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "isodump:", err)
		return 2
	}
	if len(data) == 0 {
		fmt.Fprintln(stderr, "isodump: the input is empty: no message to decode")
		return 1
	}
	if err := dump(data, d, fr, *asJSON, *dangerous, stdout); err != nil {
		fmt.Fprintln(stderr, "isodump:", err)
		if hint := framingHint(data, *framing); hint != "" {
			fmt.Fprintln(stderr, "isodump:", hint)
		}
		return 1
	}
	return 0
}

// framingHint, for bare input that does not decode, names the framing
// its first bytes look like: a length header counting the rest of the
// input (or, with lengthIncludeHeader, all of it).
func framingHint(data []byte, framing string) string {
	if framing != "none" || len(data) < 4 {
		return ""
	}
	fits := func(n, header int) bool { return n == len(data)-header || n == len(data) }
	if n, err := strconv.ParseUint(string(data[:4]), 10, 16); err == nil && fits(int(n), 4) {
		return "its first 4 bytes are ASCII digits giving its length: try --framing ascii4"
	}
	if fits(int(data[0])<<8|int(data[1]), 2) {
		return "its first 2 bytes are a binary length: try --framing bin2"
	}
	if n, err := strconv.ParseUint(string(data[:4]), 16, 16); err == nil && fits(int(n), 4) {
		return "its first 4 bytes are hex digits giving its length: try --framing hex4"
	}
	return ""
}

func readInput(path string, stdin io.Reader, hexIn bool) ([]byte, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, 64<<20))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	if !hexIn {
		return data, nil
	}
	clean := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, data)
	out := make([]byte, hex.DecodedLen(len(clean)))
	if _, err := hex.Decode(out, clean); err != nil {
		return nil, fmt.Errorf("hex input: %w", err)
	}
	return out, nil
}

// dump prints every message in data; it stops at the first that does not
// parse and says where, counting offsets from the start of the input.
func dump(data []byte, d *isocodec.Dialect, fr *isocodec.Framing, asJSON, dangerous bool, w io.Writer) error {
	var s isocodec.Scan
	for n, at := 1, 0; at < len(data); n++ {
		adv, msg, err := fr.Split(data[at:], true, nil)
		msgStart := at // where offsets inside err count from
		if err == nil && adv == 0 {
			err = isocodec.ErrTruncated
		}
		if err == nil && len(msg) > 0 {
			msgStart = at + adv - len(msg)
			if err = d.Layout.Scan(msg, &s); err == nil && s.Len != len(msg) {
				err = fmt.Errorf("%d bytes after the message's last field", len(msg)-s.Len)
			}
		}
		if err != nil {
			return fmt.Errorf("message %d at input offset %d: %w", n, at, locate(err, msgStart))
		}
		at += adv
		if len(msg) == 0 {
			continue // keep-alive frame
		}
		if asJSON {
			f, err := d.Unpack(msg)
			if err != nil {
				return fmt.Errorf("message %d: %w", n, err)
			}
			if !dangerous {
				d.MaskFields(f)
			}
			fmt.Fprintf(w, "%s\n", isocodec.AppendJSON(nil, f))
			continue
		}
		fmt.Fprintln(w, d.Dump(msg, isocodec.DumpOptions{Dangerous: dangerous}))
	}
	return nil
}

// locate restates a field error's offset as an offset in the whole input.
func locate(err error, msgStart int) error {
	var fe isocodec.FieldError
	if !errors.As(err, &fe) || fe.Offset < 0 {
		return err
	}
	return fmt.Errorf("field %d at input offset %d: %w", fe.Field, msgStart+fe.Offset, fe.Err)
}

// packAll packs each JSON object in data and writes it framed by fr, as
// bytes or a line of hex. An object that does not pack stops it, with its
// number and every field at fault.
func packAll(data []byte, d *isocodec.Dialect, fr *isocodec.Framing, asHex bool, w io.Writer) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			if n == 1 {
				return errors.New("no JSON object in the input")
			}
			return nil
		} else if err != nil {
			return fmt.Errorf("object %d: %w", n, err)
		}
		f, err := isocodec.FieldsFromJSON(raw)
		if err != nil {
			return fmt.Errorf("object %d: %w", n, err)
		}
		msg, err := d.Pack(f)
		if err != nil {
			return fmt.Errorf("object %d: %w", n, err)
		}
		if msg, err = fr.Append(nil, msg); err != nil {
			return fmt.Errorf("object %d: %w", n, err)
		}
		if asHex {
			_, err = fmt.Fprintln(w, hex.EncodeToString(msg))
		} else {
			_, err = w.Write(msg)
		}
		if err != nil {
			return err
		}
	}
}
