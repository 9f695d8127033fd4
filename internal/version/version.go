// Package version says which build is running: the module version the
// go tool stamped (a release when installed with `go install …@v1.2.3`;
// built in a checkout, a pseudo-version naming the commit, "+dirty" when
// the tree had changes), with the VCS revision beside it; "devel" when
// the build carries neither. Read once; safe from any goroutine.
package version

import (
	"runtime/debug"
	"sync"
)

// Info is what the binary knows of its build.
type Info struct {
	Version  string // v1.2.3, or devel
	Revision string // the commit, 12 hex digits, "-dirty" added; or unknown
	Go       string // the Go release it was built with
}

var read = sync.OnceValue(func() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "devel", Revision: "unknown", Go: "unknown"}
	}
	return fromBuild(bi)
})

// Get returns the build's Info.
func Get() Info { return read() }

// String is the version as one word: v1.2.3, or devel+<revision>.
func (i Info) String() string {
	if i.Version != "devel" || i.Revision == "unknown" {
		return i.Version
	}
	return i.Version + "+" + i.Revision
}

func fromBuild(bi *debug.BuildInfo) Info {
	info := Info{Version: bi.Main.Version, Revision: "unknown", Go: bi.GoVersion}
	if info.Version == "" || info.Version == "(devel)" {
		info.Version = "devel"
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && info.Revision != "unknown" {
		info.Revision += "-dirty"
	}
	return info
}
