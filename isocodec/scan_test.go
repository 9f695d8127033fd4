package isocodec

import (
	"os"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestScanFixturesAgreeWithMoov(t *testing.T) {
	for _, name := range []string{"sv_200_purchase.bin", "sv_800_echo.bin"} {
		t.Run(name, func(t *testing.T) {
			msg := readFixture(t, name)
			var s Scan
			if err := SmartVista.Layout.Scan(msg, &s); err != nil {
				t.Fatalf("scan: %v", err)
			}
			if s.Len != len(msg) {
				t.Fatalf("scan consumed %d of %d bytes", s.Len, len(msg))
			}
			if err := agree(SmartVista, msg); err != nil {
				t.Fatal(err)
			}
		})
	}
}
