package selftest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

func startBank(t *testing.T, d *isocodec.Dialect, f bank.Faults) (*bank.Server, *isocodec.Framing) {
	t.Helper()
	host, err := bank.NewHost(bank.HostConfig{Dialect: d, Faults: f, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	fr, err := isocodec.FramingByName("ascii4", isocodec.FramingConfig{Layout: d.Layout})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bank.Start(bank.Config{Addr: "127.0.0.1:0", Host: host, Framing: fr, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, fr
}

func TestClientsAgainstBank(t *testing.T) {
	for _, tc := range []struct {
		messages string
		d        *isocodec.Dialect
	}{
		{"echo", isocodec.SmartVista},
		{"purchase", isocodec.SmartVista},
		{"mix", isocodec.SmartVista},
		{"mix", isocodec.OpenWay},
	} {
		t.Run(tc.messages+"/"+tc.d.Name, func(t *testing.T) {
			srv, fr := startBank(t, tc.d, bank.Faults{})
			sum, err := Run(context.Background(), Config{
				Addr: srv.Addr().String(), Clients: 10, Rounds: 6, Messages: tc.messages,
				Dialect: tc.d, Framing: fr, Log: zerolog.Nop(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Sent != 60 || sum.OK != 60 || sum.Failed != 0 {
				t.Fatalf("summary %s", sum)
			}
			tot := srv.Host().Ledger().Totals()
			switch tc.messages {
			case "echo":
				if tot.Echoes != 60 {
					t.Fatalf("bank saw %d echoes", tot.Echoes)
				}
			case "purchase":
				// Each client: purchases with STAN 1..5, the 5th reversed.
				if tot.Approved != 50 || tot.Reversals != 10 || sum.Reversals != 10 {
					t.Fatalf("bank: %+v; clients: %s", tot, sum)
				}
			}
		})
	}
}

// TestClientsCountFailures: against a bank that closes links and mutes
// purchases, every request is still one success or one failure with a
// reason.
func TestClientsCountFailures(t *testing.T) {
	srv, fr := startBank(t, isocodec.SmartVista, bank.Faults{RealLife: true, MuteEvery: 4})
	sum, err := Run(context.Background(), Config{
		Addr: srv.Addr().String(), Clients: 8, Rounds: 5, Messages: "purchase",
		Dialect: isocodec.SmartVista, Framing: fr, Timeout: 300 * time.Millisecond, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 40 || sum.OK+sum.Failed != sum.Sent || sum.Failed == 0 {
		t.Fatalf("summary %s", sum)
	}
	var reasons int64
	for _, n := range sum.Failures {
		reasons += n
	}
	if reasons != sum.Failed {
		t.Fatalf("failures by reason add to %d, not %d", reasons, sum.Failed)
	}
	t.Log(sum)
}

func TestClientsReportConnectFailure(t *testing.T) {
	srv, fr := startBank(t, isocodec.SmartVista, bank.Faults{})
	addr := srv.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	sum, _ := Run(ctx, Config{Addr: addr, Clients: 2, Rounds: 1, Dialect: isocodec.SmartVista, Framing: fr, Log: zerolog.Nop()})
	if sum.Failed != 2 || sum.Failures["connect: connection refused"] != 2 {
		t.Fatalf("summary %s", sum)
	}
}

// TestClientsCountDeclinesAsFailures: a reply the bank was not expected
// to give (914, not found; 116, no funds) is a failure by its code, not
// an "ok".
func TestClientsCountDeclinesAsFailures(t *testing.T) {
	for _, code := range []string{"914", "116"} {
		srv, fr := startBank(t, isocodec.SmartVista, bank.Faults{Code: code})
		sum, err := Run(context.Background(), Config{
			Addr: srv.Addr().String(), Clients: 2, Rounds: 2, Messages: "purchase",
			Dialect: isocodec.SmartVista, Framing: fr, Timeout: 2 * time.Second, Log: zerolog.Nop(),
		})
		if err != nil {
			t.Fatal(err)
		}
		var byCode int64
		for reason, n := range sum.Failures {
			if strings.HasPrefix(reason, "answered "+code+" (") {
				byCode += n
			}
		}
		if sum.OK != 0 || sum.Approved != 0 || sum.Failed != 4 || byCode != 4 {
			t.Fatalf("bank answering %s: %s", code, sum)
		}
	}
}
