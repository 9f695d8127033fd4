// Command load drives a gateway or the bank emulator with ISO-8583
// traffic and prints what it measured, as a table row and a JSON line.
//
//	go run ./bench/load --mode=framed --addr=127.0.0.1:2014 --conns=64 --duration=10s
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/bench/loadgen"
	"github.com/socketqueue/socketqueue-go/internal/tlsconf"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

func main() {
	mode := flag.String("mode", "framed", "bare, framed, pipelined or http")
	addr := flag.String("addr", "127.0.0.1:2014", "target host:port (the HTTP port for --mode=http)")
	conns := flag.Int("conns", 64, "connections (http: clients)")
	inflight := flag.Int("inflight", 64, "requests in flight per connection (pipelined)")
	shared := flag.Bool("sharedTid", false, "every request on one terminal")
	mix := flag.String("mix", "purchase", "purchase, echo or mixed (purchases, echoes, refunds)")
	duration := flag.Duration("duration", 10*time.Second, "measured time")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured time first")
	dialect := flag.String("dialect", "smartVista", "smartVista, openWay or a dialect file")
	framing := flag.String("framing", "ascii4", "framing of the framed modes: ascii4, bin2, hex4, bcd2, tpdu or a header format")
	useTLS := flag.Bool("tls", false, "connect over TLS (with session resumption)")
	tlsCA := flag.String("tlsCa", "", "PEM CA file the target's certificate must chain to (default: the system's roots)")
	tlsCert := flag.String("tlsCert", "", "PEM client certificate (mutual TLS)")
	tlsKey := flag.String("tlsKey", "", "PEM key of tlsCert")
	cpuProfile := flag.String("cpuprofile", "", "write the generator's CPU profile to this file (is it the limit?)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "load: --cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	d, err := isocodec.OpenDialect(*dialect, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	fr, err := isocodec.FramingByName(*framing, isocodec.FramingConfig{Layout: d.Layout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	var conf *tls.Config
	if *useTLS {
		host, _, _ := net.SplitHostPort(*addr)
		c, err := tlsconf.NewClient(tlsconf.ClientFiles{CA: *tlsCA, Cert: *tlsCert, Key: *tlsKey})
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(2)
		}
		conf = c.For(host)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := loadgen.Run(ctx, loadgen.Config{Mode: loadgen.Mode(*mode), Addr: *addr, Conns: *conns, InFlight: *inflight,
		SharedTID: *shared, Mix: *mix, Duration: *duration, Warmup: *warmup, Dialect: d, Framing: fr, TLS: conf})
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	fmt.Println(res)
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	if res.Failures > 0 {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}
