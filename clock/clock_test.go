package clock

import (
	"context"
	"testing"
	"time"
)

func TestManual(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	m := NewManual(t0)
	if !m.Now().Equal(t0) {
		t.Fatal("start")
	}
	m.Advance(-time.Hour)
	if !m.Now().Equal(t0) {
		t.Fatal("went backwards")
	}
	if got := m.Advance(35 * time.Second); !got.Equal(t0.Add(35*time.Second)) || !m.Now().Equal(got) {
		t.Fatal("advance")
	}
}

func TestSleepStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("slept through a cancelled context")
	}
	if !Sleep(context.Background(), 0) {
		t.Fatal("a zero sleep is complete")
	}
}
