package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
