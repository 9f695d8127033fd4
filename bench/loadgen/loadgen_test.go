package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

func emulator(t *testing.T, framing string, f bank.Faults) string {
	t.Helper()
	d := isocodec.SmartVista
	host, err := bank.NewHost(bank.HostConfig{Dialect: d, Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	fr, _ := isocodec.FramingByName(framing, isocodec.FramingConfig{Layout: d.Layout})
	srv, err := bank.Start(bank.Config{Addr: "127.0.0.1:0", Host: host, Framing: fr, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv.Addr().String()
}

// TestModes: every socket mode drives the emulator without a failure.
func TestModes(t *testing.T) {
	d := isocodec.SmartVista
	ascii4, _ := isocodec.FramingByName("ascii4", isocodec.FramingConfig{Layout: d.Layout})
	framed, bare := emulator(t, "ascii4", bank.Faults{}), emulator(t, "bare", bank.Faults{})
	for _, tc := range []Config{
		{Mode: Framed, Addr: framed, Conns: 4, Mix: "mixed"},
		{Mode: Pipelined, Addr: framed, Conns: 2, InFlight: 8},
		{Mode: Bare, Addr: bare, Conns: 2},
	} {
		t.Run(string(tc.Mode), func(t *testing.T) {
			tc.Dialect, tc.Framing, tc.Duration, tc.Warmup = d, ascii4, 200*time.Millisecond, 50*time.Millisecond
			res, err := Run(context.Background(), tc)
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests == 0 || res.Failures != 0 || res.P50 <= 0 || res.Max < res.P99 {
				t.Fatalf("%s", res)
			}
		})
	}
}

// TestFailuresCount: replies that are not approvals are failures, with
// the reason.
func TestFailuresCount(t *testing.T) {
	d := isocodec.SmartVista
	ascii4, _ := isocodec.FramingByName("ascii4", isocodec.FramingConfig{Layout: d.Layout})
	addr := emulator(t, "ascii4", bank.Faults{Code: "116"})
	res, err := Run(context.Background(), Config{Mode: Framed, Addr: addr, Conns: 2, Dialect: d, Framing: ascii4,
		Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failures == 0 || res.Requests != 0 || res.FailReason != "response code 116" {
		t.Fatalf("%s", res)
	}
}
