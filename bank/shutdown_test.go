package bank

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/internal/testconns"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// TestShutdownEndsEveryConnection: clients connect without a pause while
// the emulator (two loops: gnet's shared listener) stops; once Shutdown
// has returned, no connection a client got is left open with nobody
// serving it. With Engine.Stop alone, most rounds left some open.
func TestShutdownEndsEveryConnection(t *testing.T) {
	fr, err := isocodec.FramingByName("ascii4", isocodec.FramingConfig{Layout: isocodec.SmartVista.Layout})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		host, err := NewHost(HostConfig{Dialect: isocodec.SmartVista})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := Start(Config{Addr: "127.0.0.1:0", Host: host, Framing: fr, Log: zerolog.Nop(), Loops: 2})
		if err != nil {
			t.Fatal(err)
		}
		open, made := testconns.LeftOpen(t, srv.Addr().String(), func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Error(err)
			}
		})
		if open > 0 {
			t.Fatalf("round %d: %d of %d connections left open after Shutdown", round+1, open, made)
		}
	}
}
