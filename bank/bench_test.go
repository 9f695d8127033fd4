package bank

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// purchases makes n distinct framed purchases over many cards, so the
// balances last for any b.N.
func purchases(b *testing.B, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		f := purchase(fmt.Sprintf("%06d", i), fmt.Sprintf("%08d", i%512),
			fmt.Sprintf("485078123%07d=19082012232800000037", i), "000000000001")
		msg, err := isocodec.SmartVista.Pack(f)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = append(fmt.Appendf(nil, "%04d", len(msg)), msg...)
	}
	return out
}

func BenchmarkHostAnswerPurchase(b *testing.B) {
	host, err := NewHost(HostConfig{Dialect: isocodec.SmartVista})
	if err != nil {
		b.Fatal(err)
	}
	reqs := purchases(b, 4096)
	var s isocodec.Scan
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst, _, err = host.Answer(dst[:0], reqs[i%len(reqs)][4:], &s)
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkHostAnswerEcho(b *testing.B) {
	host, err := NewHost(HostConfig{Dialect: isocodec.SmartVista})
	if err != nil {
		b.Fatal(err)
	}
	msg, err := isocodec.SmartVista.Pack(echo("000001", "00992468"))
	if err != nil {
		b.Fatal(err)
	}
	var s isocodec.Scan
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		dst, _, _ = host.Answer(dst[:0], msg, &s)
	}
}

// BenchmarkServerPipelined: one connection, up to 256 purchases in
// flight, replies counted as they come. msgs/s is the figure to compare
// with what the gateway relays.
func BenchmarkServerPipelined(b *testing.B) {
	srv := startBank(b, isocodec.SmartVista, Faults{}, 1)
	reqs := purchases(b, 4096)
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	const window = 256
	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	done := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		r := bufio.NewReaderSize(conn, 64<<10)
		var hdr [4]byte
		body := make([]byte, 1024)
		for i := 0; i < b.N; i++ {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				done <- err
				return
			}
			n := int(hdr[0]-'0')*1000 + int(hdr[1]-'0')*100 + int(hdr[2]-'0')*10 + int(hdr[3]-'0')
			if _, err := io.ReadFull(r, body[:n]); err != nil {
				done <- err
				return
			}
			credits <- struct{}{}
		}
		done <- nil
	}()
	w := bufio.NewWriterSize(conn, 64<<10)
	for i := 0; i < b.N; i++ {
		select {
		case <-credits:
		default:
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			<-credits
		}
		w.Write(reqs[i%len(reqs)])
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
