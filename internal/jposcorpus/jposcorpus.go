// Package jposcorpus reads the golden frames packed by jPOS
// (isocodec/testdata/jpos): each frame's bytes and the field values jPOS
// read from it, in the form the gateway's JSON takes them. It is for
// tests; it imports nothing of the gateway's so that isocodec's own tests
// can use it.
package jposcorpus

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
)

// Frame is one frame and jPOS's values, by field number.
type Frame struct {
	Name   string
	Bin    []byte
	Fields map[int]string
}

// Load reads every frame in dir (NAME.json beside NAME.bin). binary says
// which fields the dialect holds as bytes: their values are hex in the
// .json, except where jPOS holds one character a byte (openWay's 55, an
// IFB_LLLCHAR), whose characters become the bytes' hex, upper case.
func Load(dir string, binary func(field int) bool) ([]Frame, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("jposcorpus: no frames in %s: %v", dir, err)
	}
	var out []Frame
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Fields map[string]string `json:"fields"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("jposcorpus: %s: %w", p, err)
		}
		name := strings.TrimSuffix(p, ".json")
		bin, err := os.ReadFile(name + ".bin")
		if err != nil {
			return nil, err
		}
		f := map[int]string{}
		for k, v := range doc.Fields {
			id, err := strconv.Atoi(k)
			if err != nil {
				return nil, fmt.Errorf("jposcorpus: %s: key %q", p, k)
			}
			if binary(id) && !isHex(v) {
				b := make([]byte, 0, len(v))
				for _, r := range v {
					b = append(b, byte(r))
				}
				v = strings.ToUpper(hex.EncodeToString(b))
			}
			f[id] = v
		}
		out = append(out, Frame{Name: filepath.Base(name), Bin: bin, Fields: f})
	}
	return out, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s)%2 == 0
}
