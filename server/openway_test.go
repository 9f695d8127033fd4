package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/reversal"
)

// TestJPOSFramesThroughOpenWay: purchases jPOS packed with ISO87BPackager
// (a 19-digit PAN; 55 of 300 bytes; 49 in ASCII) go through the gateway
// in openWay to the emulator and back with the PAN as sent; the reversal
// the gateway would make of each reads back, in the dialect that agrees
// with jPOS byte for byte, as the purchase with MTI 0400, field 7 now,
// 90 the original data elements, 24 as it was, and no PIN block.
func TestJPOSFramesThroughOpenWay(t *testing.T) {
	ow := isocodec.OpenWay
	framing := func(name string) *isocodec.Framing {
		f, err := isocodec.FramingByName(name, isocodec.FramingConfig{Layout: ow.Layout})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	host, err := bank.NewHost(bank.HostConfig{Dialect: ow, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bank.Start(bank.Config{Addr: "127.0.0.1:0", Host: host, Framing: framing("ascii4"), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopBank(t, b) })
	g := startGateway(t, b.Addr().String(), func(c *Config) {
		c.Dialect, c.HostFraming, c.POSFraming = ow, framing("ascii4"), framing("bare")
	})
	for _, name := range []string{"0200-refund-pan19", "0200-purchase-emv300"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "isocodec", "testdata", "jpos", "ow", name+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			// Its clock fields now, or the gateway refuses it as stale;
			// every other byte is jPOS's.
			var s isocodec.Scan
			if err := ow.Layout.Scan(raw, &s); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			var clock [10]byte
			msg, err := ow.Layout.AppendEdited(nil, s.MTI, raw, &s,
				isocodec.Set(7, isocodec.AppendTransmissionTime(clock[:0], now.UTC())),
				isocodec.Set(12, []byte(now.Format("150405"))), isocodec.Set(13, []byte(now.Format("0102"))))
			if err != nil {
				t.Fatal(err)
			}
			sent, err := ow.Unpack(msg)
			if err != nil {
				t.Fatal(err)
			}
			reply, err := bareExchange(g.POSAddr().String(), msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ow.Unpack(reply)
			if err != nil {
				t.Fatalf("reply does not unpack: %v", err)
			}
			if got[0] != "0210" || got[2] != sent[2] || got[11] != sent[11] || got[39] == "" {
				t.Fatalf("reply %v to a purchase with PAN %s", got, sent[2])
			}

			rev, err := reversal.Message(ow, msg, false, isocodec.MTIReversalRepeat, now)
			if err != nil {
				t.Fatal(err)
			}
			rf, err := ow.Unpack(rev)
			if err != nil {
				t.Fatalf("the reversal does not unpack: %v", err)
			}
			if again, err := ow.Pack(rf); err != nil || string(again) != string(rev) {
				t.Fatalf("the reversal does not repack to itself: %v", err)
			}
			want90 := "0200" + sent[11] + sent[7] + "0000000000000000000000"
			if rf[0] != "0400" || rf[90] != want90 || rf[24] != sent[24] {
				t.Fatalf("reversal 0=%s 24=%q 90=%s, want 0400, %q, %s", rf[0], rf[24], rf[90], sent[24], want90)
			}
			if _, ok := rf[52]; ok {
				t.Fatal("the reversal repeats the PIN block")
			}
			for id, v := range sent {
				if id > 1 && id != 7 && id != 52 && rf[id] != v {
					t.Errorf("reversal field %d %q, purchase had %q", id, rf[id], v)
				}
			}
		})
	}
}
