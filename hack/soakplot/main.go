// Command soakplot draws the churn soak's samples as an SVG: site 0's data file and Go
// heap against the status updates written federation-wide, one panel each. It reads the
// "soak" lines TestSoak prints (round, updates, file bytes, heap bytes, soft bytes,
// elapsed) from standard input and ignores every other line:
//
//	ATOLL_SOAK=1 ATOLL_SOAK_ROUNDS=120 go test -run 'TestSoak$' -v -timeout 3h ./e2e/ | go run ./hack/soakplot > docs/soak.svg
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

type sample struct{ updates, file, heap float64 }

func main() {
	samples, err := read(os.Stdin)
	if err == nil && len(samples) < 2 {
		err = fmt.Errorf("%d soak samples on standard input, want at least 2", len(samples))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soakplot:", err)
		os.Exit(1)
	}
	draw(os.Stdout, samples)
}

func read(r io.Reader) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 5 || f[0] != "soak" {
			continue
		}
		var s sample
		for i, p := range []*float64{&s.updates, &s.file, &s.heap} {
			v, err := strconv.ParseFloat(f[i+2], 64)
			if err != nil {
				return nil, fmt.Errorf("line %q: %w", sc.Text(), err)
			}
			*p = v
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

const (
	width, panelH = 720, 220
	left, right   = 70, 20
	top, gap      = 30, 60
)

// draw writes two panels: the data file (MB) and the heap (MB) against millions of
// updates, each from 0 to its largest value.
func draw(w io.Writer, ss []sample) {
	height := top + 2*panelH + gap + 40
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	maxU := ss[len(ss)-1].updates
	panels := []struct {
		title string
		value func(sample) float64
	}{
		{"site 0: data file (MB)", func(s sample) float64 { return s.file / 1e6 }},
		{"site 0: Go heap, garbage included (MB)", func(s sample) float64 { return s.heap / 1e6 }},
	}
	for i, p := range panels {
		y0 := float64(top + i*(panelH+gap))
		maxV := 0.0
		for _, s := range ss {
			maxV = max(maxV, p.value(s))
		}
		maxV *= 1.1
		x := func(u float64) float64 { return left + u/maxU*float64(width-left-right) }
		y := func(v float64) float64 { return y0 + float64(panelH) - v/maxV*float64(panelH) }
		fmt.Fprintf(w, `<text x="%d" y="%.0f">%s</text>`+"\n", left, y0-8, p.title)
		fmt.Fprintf(w, `<rect x="%d" y="%.0f" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", left, y0, width-left-right, panelH)
		for _, f := range []float64{0, 0.5, 1} {
			v := maxV / 1.1 * f
			fmt.Fprintf(w, `<text x="%d" y="%.0f" text-anchor="end">%.0f</text>`+"\n", left-6, y(v)+4, v)
		}
		var pts []string
		for _, s := range ss {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.updates), y(p.value(s))))
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="#1f6fb4" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(pts, " "))
		for _, f := range []float64{0, 0.5, 1} {
			fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="middle">%.1f M</text>`+"\n", x(maxU*f), y0+float64(panelH)+16, maxU*f/1e6)
		}
	}
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle">status updates written, federation-wide</text>`+"\n", (width+left-right)/2, height-6)
	fmt.Fprintln(w, "</svg>")
}
