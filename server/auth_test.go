package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAPITokens(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body, err string
	}{
		{"good", "# comment\n\nshop1 0123456789abcdef\nshop2  fedcba9876543210xyz\n", ""},
		{"short", "shop1 short\n", "shorter than 16"},
		{"three words", "shop1 0123456789abcdef extra\n", "line 1: want NAME TOKEN"},
		{"name twice", "a 0123456789abcdef\na 0123456789abcdeX\n", "name a twice"},
		{"token twice", "a 0123456789abcdef\nb 0123456789abcdef\n", "another's too"},
		{"empty", "# nothing\n", "no token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			os.WriteFile(path, []byte(tc.body), 0o600)
			tokens, err := LoadAPITokens(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for header, want := range map[string]string{
				"Bearer 0123456789abcdef": "shop1", "Bearer fedcba9876543210xyz": "shop2",
				"Bearer 0123456789abcdeg": "", "0123456789abcdef": "", "bearer 0123456789abcdef": "", "": "",
			} {
				if name, ok := authorize(tokens, []byte(header)); name != want || ok != (want != "") {
					t.Errorf("%q: %q %v, want %q", header, name, ok, want)
				}
			}
		})
	}
	if _, err := LoadAPITokens(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a missing file: %v", err)
	}
}
