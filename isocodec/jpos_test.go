package isocodec

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/socketqueue/socketqueue-go/internal/jposcorpus"
)

// jposFrame is one golden frame packed by jPOS (testdata/jpos/README.md)
// and the field values jPOS reads from it.
type jposFrame struct {
	name   string
	bin    []byte
	fields Fields
}

// jposFrames reads a set.
func jposFrames(t *testing.T, set string, d *Dialect) []jposFrame {
	t.Helper()
	frames, err := jposcorpus.Load(filepath.Join("testdata", "jpos", set), func(id int) bool {
		def, ok := d.Field(id)
		return ok && def.Charset == CharsetB
	})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]jposFrame, 0, len(frames))
	for _, fr := range frames {
		out = append(out, jposFrame{name: fr.Name, bin: fr.Bin, fields: Fields(fr.Fields)})
	}
	return out
}

// TestJPOSCorpus: every frame jPOS packed reads as jPOS reads it, field
// for field, and packing jPOS's values gives jPOS's bytes; a difference
// names the frame and the field.
func TestJPOSCorpus(t *testing.T) {
	for _, set := range []struct {
		dir string
		d   *Dialect
	}{{"ow", OpenWay}, {"sv", SmartVista}} {
		for _, fr := range jposFrames(t, set.dir, set.d) {
			t.Run(set.dir+"/"+fr.name, func(t *testing.T) {
				got, err := set.d.Unpack(fr.bin)
				if err != nil {
					t.Errorf("unpack: %v", err)
				} else {
					for id, want := range fr.fields {
						g := got[id]
						if def, ok := set.d.Field(id); ok && def.Charset == CharsetB {
							g, want = strings.ToUpper(g), strings.ToUpper(want)
						}
						if g != want {
							t.Errorf("unpack field %d: %q, jPOS reads %q", id, g, want)
						}
					}
					for id := range got {
						if _, ok := fr.fields[id]; !ok && id > 1 {
							t.Errorf("unpack field %d: %q, jPOS reads no such field", id, got[id])
						}
					}
				}
				packed, err := set.d.Pack(fr.fields)
				switch {
				case err != nil:
					t.Errorf("pack: %v", err)
				case !bytes.Equal(packed, fr.bin):
					t.Errorf("pack differs from jPOS's bytes%s\n got %x\nwant %x", firstDiff(set.d, packed, fr.bin), packed, fr.bin)
				}
			})
		}
	}
}

// firstDiff says in which field two packings of a message part.
func firstDiff(d *Dialect, a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	var s Scan
	if d.Layout.Scan(b, &s) != nil {
		return " at byte " + strconv.Itoa(i)
	}
	field := -1
	s.Present.Each(func(id int) bool {
		if id > 1 && int(s.start[id]) <= i+4 {
			field = id
		}
		return true
	})
	return " at byte " + strconv.Itoa(i) + ", about field " + strconv.Itoa(field)
}
