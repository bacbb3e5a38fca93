// Package purity checks that a package's non-test code keeps to a set of rules: no
// forbidden imports, no goroutines, no wall clock, no files beyond what the rules allow
// (STYLE.md section 1, "Pure cores, I/O at the edge"; modelled on tailscale's
// tstest/deptest).
//
// It is a test-only package: a core package calls [Check] from a TestPure in one of
// its _test.go files, with its own [Rules] or with [Core]. The check parses source
// files and needs no build, so it runs in a few milliseconds.
package purity

import (
	"slices"
	"strings"
)

// Rules says what a package's non-test code must not do. The zero value allows
// everything.
type Rules struct {
	// Why is said with every impurity, e.g. "crdt is a pure core".
	Why string

	// Imports are forbidden import paths. A path with a trailing slash forbids the whole
	// tree ("k8s.io/" forbids every k8s.io module); otherwise it forbids the package and
	// its subpackages ("net" forbids net and net/http, not netip's neighbour "network").
	Imports []string

	// StdlibOnly forbids every module: any path whose first element has a dot, the go
	// command's mark of a path outside the standard library. A module path without a dot,
	// like atoll's own, must still be forbidden in Imports ("atoll/").
	StdlibOnly bool

	// MathRandV1 forbids math/rand (global, seeded state) while allowing math/rand/v2
	// with an injected *rand.Rand. Listing "math/rand" in Imports forbids both.
	MathRandV1 bool

	// OSAllowed, when not nil, are the only identifiers of package os the code may use
	// (e.g. ReadFile and Stat); a blank import of os is then an impurity too. When nil,
	// package os is governed by Imports alone.
	OSAllowed []string

	// TimeFuncs are identifiers of package time the code must not use, called or not,
	// under whatever name time is imported. Values (time.Time, time.Duration) stay
	// allowed unless "time" is in Imports.
	TimeFuncs []string

	// NoGo forbids go statements.
	NoGo bool

	// NoDotImports forbids dot imports, which would hide uses of forbidden identifiers.
	NoDotImports bool
}

// ClockFuncs are the functions of package time that read the wall clock or own a timer.
var ClockFuncs = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"}

// Core is the rule set of a pure state machine driven by the site (site/core and its
// kind): no sockets, files, locks, loggers, test code, global randomness, Kubernetes,
// etcd or hashicorp libraries, none of the site's edge packages, no goroutines and no
// wall clock. Time enters as values: time.Time and time.Duration are allowed.
// Extend it with [Rules.Forbid]; it is never modified in place.
var Core = Rules{
	Why: "a pure core",
	Imports: []string{
		"net", "os", "sync", "log", "testing",
		"k8s.io/", "go.etcd.io/", "github.com/hashicorp/",
		"atoll/site/transport", "atoll/site/store", "atoll/site/kube",
	},
	MathRandV1:   true,
	TimeFuncs:    ClockFuncs,
	NoGo:         true,
	NoDotImports: true,
}

// Forbid returns a copy of r that also forbids paths, following the Imports convention.
// r itself is not changed.
func (r Rules) Forbid(paths ...string) Rules {
	r.Imports = append(slices.Clip(r.Imports), paths...)
	return r
}

// forbidsImport reports whether r forbids importing path.
func (r Rules) forbidsImport(path string) bool {
	if r.StdlibOnly && strings.Contains(strings.SplitN(path, "/", 2)[0], ".") {
		return true
	}
	if r.MathRandV1 && path == "math/rand" {
		return true
	}
	for _, bad := range r.Imports {
		if strings.HasSuffix(bad, "/") {
			if strings.HasPrefix(path, bad) {
				return true
			}
		} else if path == bad || strings.HasPrefix(path, bad+"/") {
			return true
		}
	}
	return false
}
