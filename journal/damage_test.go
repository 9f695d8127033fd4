package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDamage: twenty purchases left open, each in a commit of its own,
// then the segment damaged in each way a journal can be. Open refuses
// with the file and the offset; with SkipDamage it replays every intact
// record before and after the damage, says what it skipped, and keeps
// the damaged file aside.
func TestDamage(t *testing.T) {
	const n = 20
	for _, tc := range []struct {
		name string
		// damage spoils the segment at path, whose records start at
		// offsets at[0..n-1] (at[n]: the end mark).
		damage func(t *testing.T, path string, at []int64)
		offset func(at []int64) int64 // where Open must say the damage is (-1: whole file)
		intact int                    // purchases SkipDamage brings back
	}{
		{"a byte flipped in the first record", func(t *testing.T, path string, at []int64) {
			edit(t, path, func(b []byte) []byte { b[at[0]+recordHeader+5] ^= 0x01; return b })
		}, func(at []int64) int64 { return at[0] }, n - 1},
		{"the header flipped", func(t *testing.T, path string, at []int64) {
			edit(t, path, func(b []byte) []byte { b[recordHeader+1] ^= 0x01; return b })
		}, func([]int64) int64 { return 0 }, n},
		{"cut mid-record", func(t *testing.T, path string, at []int64) {
			edit(t, path, func(b []byte) []byte { return b[:at[9]+20] })
		}, func(at []int64) int64 { return at[9] }, 9},
		{"empty file", func(t *testing.T, path string, at []int64) {
			edit(t, path, func(b []byte) []byte { return nil })
		}, func([]int64) int64 { return 0 }, 0},
		{"random bytes", func(t *testing.T, path string, at []int64) {
			edit(t, path, func(b []byte) []byte {
				r := rand.New(rand.NewPCG(1, 2))
				for i := range b {
					b[i] = byte(r.Uint32())
				}
				return b
			})
		}, func([]int64) int64 { return 0 }, 0},
		{"a record length of 1 GiB", func(t *testing.T, path string, at []int64) {
			edit(t, path, func(b []byte) []byte { binary.BigEndian.PutUint32(b[at[4]+4:], 1<<30); return b })
		}, func(at []int64) int64 { return at[4] }, n - 1},
		{"the end mark overwritten", func(t *testing.T, path string, at []int64) {
			edit(t, path, func(b []byte) []byte { b[at[n]] = 0x55; return b })
		}, func(at []int64) int64 { return -2 }, n}, // a torn tail: opens as it is
		{"the segment deleted", func(t *testing.T, path string, at []int64) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, func([]int64) int64 { return -1 }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "journal")
			j := open(t, dir, Options{SegmentSize: 64 << 10})
			durableSignals(t, j)
			var at []int64
			var ids []uint64
			for i := range n {
				at = append(at, j.off)
				ids = append(ids, begin(t, j, fmt.Sprintf("purchase %02d", i)))
			}
			at = append(at, j.off)
			path := j.path
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, path, at)
			want := tc.offset(at)

			_, err := Open(dir, Options{SegmentSize: 64 << 10})
			var d *Damage
			if want == -2 {
				if err != nil {
					t.Fatalf("a torn tail refused: %v", err)
				}
				return
			}
			if !errors.As(err, &d) || !errors.Is(err, ErrDamaged) || d.File != path || d.Offset != want {
				t.Fatalf("Open: %v; want damage in %s at %d", err, path, want)
			}
			for _, name := range dirNames(t, dir) {
				if name == filepath.Base(path)+damagedSuffix {
					t.Fatal("a refused open moved the damaged file")
				}
			}

			j, err = Open(dir, Options{SegmentSize: 64 << 10, SkipDamage: true})
			if err != nil {
				t.Fatalf("SkipDamage: %v", err)
			}
			defer j.Close()
			if len(j.Skipped()) == 0 {
				t.Fatal("SkipDamage reports nothing skipped")
			}
			pend, err := j.Pending()
			if err != nil {
				t.Fatal(err)
			}
			if len(pend) != tc.intact {
				t.Fatalf("%d purchases back, want %d (skipped %v)", len(pend), tc.intact, j.Skipped())
			}
			for _, e := range pend {
				if !slices.Contains(ids, e.ID) || string(e.Msg) != fmt.Sprintf("purchase %02d", slices.Index(ids, e.ID)) {
					t.Fatalf("purchase back as %+v", e)
				}
			}
			if _, err := os.Stat(path); err == nil && tc.name != "the segment deleted" {
				if _, err := os.Stat(path + damagedSuffix); err != nil {
					t.Fatalf("the damaged file was not kept aside: %v", err)
				}
			}
			// What came back is the journal now: it opens without the option.
			j.Close()
			j = open(t, dir, Options{SegmentSize: 64 << 10})
			if pend, _ := j.Pending(); len(pend) != tc.intact {
				t.Fatalf("reopened: %d purchases", len(pend))
			}
		})
	}
}

func edit(t *testing.T, path string, fn func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o600); err != nil {
		t.Fatal(err)
	}
}
