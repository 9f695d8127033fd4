package logging

import (
	"bytes"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

func TestLevels(t *testing.T) {
	tests := []struct {
		opts       Options
		info, warn bool
	}{
		{Options{Level: 0}, false, true},
		{Options{Level: 1}, true, true},
		{Options{Level: 2}, true, true},
		{Options{Level: 2, Silent: true}, false, false},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		tc.opts.Out, tc.opts.JSON = &buf, true
		l := New(tc.opts)
		l.Info().Msg("info line")
		l.Warn().Msg("warn line")
		if got := strings.Contains(buf.String(), "info line"); got != tc.info {
			t.Errorf("%+v: info logged %v", tc.opts, got)
		}
		if got := strings.Contains(buf.String(), "warn line"); got != tc.warn {
			t.Errorf("%+v: warn logged %v", tc.opts, got)
		}
	}
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	l := New(Options{Level: 1, Out: &buf, JSON: true})
	l.Info().Str("peer", "127.0.0.1:1").Msg("hello")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["message"] != "hello" || m["peer"] != "127.0.0.1:1" || m["time"] == nil {
		t.Fatalf("%s: %v", buf.String(), err)
	}
}

func TestGnetAdapter(t *testing.T) {
	var buf bytes.Buffer
	g := Gnet(New(Options{Level: 1, Out: &buf, JSON: true}))
	g.Infof("started %d loops", 2) // gnet chatter: debug only
	g.Errorf("failed: %s", "x")
	if strings.Contains(buf.String(), "started") || !strings.Contains(buf.String(), "failed: x") {
		t.Fatalf("got %s", buf.String())
	}
}
