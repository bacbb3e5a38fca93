package site

import (
	"strings"
	"testing"
)

func TestParseRelease(t *testing.T) {
	for _, tc := range []struct {
		in      string
		version string
		format  int
	}{
		{ReleaseValue("v1.4.0", 3), "v1.4.0", 3},
		{"dev format=2", "dev", 2},
		{"v0.9.0", "v0.9.0", 0},
		{"", "", 0},
		{"x format=zero", "x format=zero", 0},
		{"x format=-1", "x format=-1", 0},
	} {
		v, f := ParseRelease(tc.in)
		if v != tc.version || f != tc.format {
			t.Errorf("ParseRelease(%q) = %q, %d; want %q, %d", tc.in, v, f, tc.version, tc.format)
		}
	}
}

// TestCheckLevel: a level is proposed only if every site published a release that
// implements it; the error names each site behind.
func TestCheckLevel(t *testing.T) {
	sites := map[string]string{"eu": ReleaseValue("v2", 3), "us": ReleaseValue("v1", 2), "ap": ""}
	if err := CheckLevel(2, map[string]string{"eu": sites["eu"], "us": sites["us"]}); err != nil {
		t.Fatal(err)
	}
	err := CheckLevel(3, sites)
	if err == nil {
		t.Fatal("level 3 with a site at 2 and one silent: accepted")
	}
	for _, want := range []string{"ap (has published no level)", "us (v1 implements up to 2)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: missing %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "eu") {
		t.Errorf("%v names a site that implements the level", err)
	}
}
