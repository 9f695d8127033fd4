package isocodec

import (
	"fmt"
	"strings"
)

// The built-in dialects, checked once at start by their constructors.
var (
	SmartVista = mustDialect(NewDialect("smartVista", SmartVistaEncodings, smartVistaFields(), smartVistaRules()))
	OpenWay    = mustDialect(NewDialect("openWay", OpenWayEncodings, openWayFields(), openWayRules()))
)

func mustDialect(d *Dialect, err error) *Dialect {
	if err != nil {
		panic(err) // a built-in table is wrong: a test fails before anyone runs this
	}
	return d
}

// Builtin returns the built-in dialect of that name (case-insensitive).
func Builtin(name string) (*Dialect, error) {
	switch strings.ToLower(name) {
	case "", "smartvista":
		return SmartVista, nil
	case "openway":
		return OpenWay, nil
	}
	return nil, fmt.Errorf("dialect %q: unknown; built in are smartVista and openWay", name)
}
