package metrics

import (
	"testing"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// TestCountingAllocatesNothing: once a label set is seen, counting it
// is an atomic add.
func TestCountingAllocatesNothing(t *testing.T) {
	m := New()
	mti := isocodec.MTIPurchaseResponse
	code := []byte("000")
	m.Message(mti, FromBank)
	m.Code(mti, code)
	if n := testing.AllocsPerRun(100, func() {
		m.Message(mti, FromBank)
		m.Code(mti, code)
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
	var nilM *Metrics // a gateway without metrics
	nilM.Message(mti, FromBank)
	nilM.Code(mti, code)
	nilM.Timeout()
}

func TestCodeSlots(t *testing.T) {
	a, _ := codeSlot(isocodec.MTIPurchaseResponse, []byte("116"))
	b, _ := codeSlot(isocodec.MTI{'0', '4', '1', '0'}, []byte("116"))
	if a == b {
		t.Fatal("0210 and 0410 share a slot")
	}
	if _, ok := codeSlot(isocodec.MTIPurchaseResponse, []byte("A1")); ok {
		t.Fatal("a letter code got a numeric slot")
	}
}

func BenchmarkMessage(b *testing.B) {
	m := New()
	mti := isocodec.MTIPurchase
	b.ReportAllocs()
	for b.Loop() {
		m.Message(mti, FromClient)
	}
}
