package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/internal/jposcorpus"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

const fixtures = "../../isocodec/testdata/"

// buildIsodump builds the real binary once, as a user's `go run` would.
func buildIsodump(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "isodump")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestIsodumpBinary(t *testing.T) {
	bin := buildIsodump(t)
	for _, tc := range []struct {
		name     string
		args     []string
		stdin    []byte
		code     int
		want     []string
		mustNot  []string
		inStderr bool
	}{
		{
			name:    "framed purchase masked",
			args:    []string{"--framing", "ascii4", fixtures + "sv_200_purchase_header.bin"},
			want:    []string{"[Purchase Request]", "485078******7891", "00992468"},
			mustNot: []string{"4850781234567891", "19082012232800000037"},
		},
		{
			name: "dangerous shows card data",
			args: []string{"--framing", "ascii4", "--dangerous", fixtures + "sv_200_purchase_header.bin"},
			want: []string{"4850781234567891=19082012232800000037"},
		},
		{
			name: "json of the echo",
			args: []string{"--json", fixtures + "sv_800_echo.bin"},
			want: []string{`{"0":"0800","1":"2220010000c00000","3":"000000","7":"0607161700","11":"123456","24":"000","41":"00123456","42":"123567890124567"}`},
		},
		{
			name:    "json masks track 2",
			args:    []string{"--json", fixtures + "sv_200_purchase.bin"},
			want:    []string{`"35":"485078******7891=********************"`},
			mustNot: []string{"4850781234567891"},
		},
		{
			name:  "hex from stdin, two messages",
			args:  []string{"--hex", "-"},
			stdin: []byte("303830302220010000c00000303030303030303630373136313730303132333435363030303030313233343536313233353637383930313234353637\n303830302220010000c00000303030303030303630373136313730303132333435363030303030313233343536313233353637383930313234353637"),
			want:  []string{"[Echo Request]"},
		},
		{
			name:     "empty input",
			args:     []string{"-"},
			code:     1,
			want:     []string{"isodump: the input is empty: no message to decode"},
			inStderr: true,
		},
		{
			name:     "a length header read without --framing",
			args:     []string{fixtures + "sv_200_purchase_header.bin"},
			code:     1,
			want:     []string{"isodump: its first 4 bytes are ASCII digits giving its length: try --framing ascii4"},
			inStderr: true,
		},
		{
			name:     "bad length names field and offset",
			args:     []string{"-"},
			stdin:    []byte("0200\x40\x00\x00\x00\x00\x00\x00\x00x9"),
			code:     1,
			want:     []string{"field 2 at input offset 12", "bad field length"},
			inStderr: true,
		},
		{
			name:     "second framed message truncated",
			args:     []string{"--framing", "ascii4", "-"},
			stdin:    append(mustRead(t, fixtures+"sv_800_echo_header.bin"), "0060080"...),
			code:     1,
			want:     []string{"message 2 at input offset 64", "truncated"},
			inStderr: true,
		},
		{
			name: "describe with overrides",
			args: []string{"--describe", "--overrides", "48:LLans:99"},
			want: []string{" 48  LLans     99  Additional Data, Private", " 35  LLans     37  Track 2 Data", "mandatory 0800: [0 1 3 7 11 24 41]"},
		},
		{
			name:     "unknown dialect",
			args:     []string{"--dialect", "postilion", fixtures + "sv_800_echo.bin"},
			code:     2,
			want:     []string{"postilion"},
			inStderr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Stdin = bytes.NewReader(tc.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			out := stdout.String()
			if tc.inStderr {
				out = stderr.String()
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.mustNot {
				if strings.Contains(stdout.String()+stderr.String(), w) {
					t.Errorf("output shows %q", w)
				}
			}
			if tc.name == "hex from stdin, two messages" && strings.Count(out, "[Echo Request]") != 2 {
				t.Errorf("want two messages:\n%s", out)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPackJPOSCorpus: the jPOS frames' values, as a partner would write
// them for the HTTP API, packed by isodump --pack give jPOS's bytes, every
// frame of both sets; and what --pack writes, isodump reads back.
func TestPackJPOSCorpus(t *testing.T) {
	bin := buildIsodump(t)
	for _, set := range []struct{ dir, dialect string }{{"ow", "openWay"}, {"sv", "smartVista"}} {
		d, err := isocodec.OpenDialect(set.dialect, "")
		if err != nil {
			t.Fatal(err)
		}
		frames, err := jposcorpus.Load(filepath.Join(fixtures, "jpos", set.dir), func(id int) bool {
			def, ok := d.Field(id)
			return ok && def.Charset == isocodec.CharsetB
		})
		if err != nil {
			t.Fatal(err)
		}
		var in bytes.Buffer
		var want []string
		for _, fr := range frames {
			req := map[string]string{}
			for id, v := range fr.Fields {
				req[strconv.Itoa(id)] = v
			}
			obj, _ := json.Marshal(req)
			in.Write(obj)
			in.WriteByte('\n')
			want = append(want, hex.EncodeToString(fr.Bin))
		}
		cmd := exec.Command(bin, "--pack", "--hex", "--dialect", set.dialect, "-")
		cmd.Stdin = &in
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", set.dir, err, out)
		}
		got := strings.Fields(string(out))
		if len(got) != len(want) {
			t.Fatalf("%s: %d messages packed, want %d", set.dir, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: %s packs to\n%s\nwant\n%s", set.dir, frames[i].Name, got[i], want[i])
			}
		}
		back := exec.Command(bin, "--hex", "--json", "--dialect", set.dialect, "--dangerous", "-")
		back.Stdin = strings.NewReader(string(out))
		if out, err := back.CombinedOutput(); err != nil || strings.Count(string(out), "\n") != len(want) {
			t.Fatalf("%s: reading back what --pack wrote: %v\n%s", set.dir, err, out)
		}
	}
	// A value that does not fit is refused, naming the field, and nothing
	// is written.
	cmd := exec.Command(bin, "--pack", "--hex", "-")
	cmd.Stdin = strings.NewReader(`{"0":"0800","11":"1234567"}`)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "field 11") || strings.Contains(string(out), "3038") {
		t.Fatalf("too long a value: %v\n%s", err, out)
	}
}
