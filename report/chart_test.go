package report

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// checkGeometry fails if any coordinate of g is not finite or lies far
// outside the canvas.
func checkGeometry(t *testing.T, name string, g svgChart) {
	t.Helper()
	in := func(what string, vs ...float64) {
		for _, v := range vs {
			if !finite(v) || v < -1 || v > max(g.Width, g.Height)+1 {
				t.Errorf("%s: %s coordinate %v outside the %vx%v canvas", name, what, v, g.Width, g.Height)
			}
		}
	}
	in("size", g.Width, g.Height)
	for _, l := range append(slices.Clone(g.Grid), g.Lines...) {
		in("line", l.X1, l.Y1, l.X2, l.Y2)
	}
	for _, r := range g.Rects {
		in("rect", r.X, r.Y, r.X+r.W, r.Y+r.H)
	}
	for _, d := range g.Dots {
		in("dot", d.X, d.Y)
	}
	for _, tx := range g.Texts {
		in("text "+tx.Text, tx.X, tx.Y)
	}
	for _, p := range g.Paths {
		if strings.Contains(p.D, "NaN") || strings.Contains(p.D, "Inf") {
			t.Errorf("%s: path %q", name, p.D)
		}
	}
}

func hasText(g svgChart, s string) bool {
	return slices.ContainsFunc(g.Texts, func(t svgText) bool { return t.Text == s })
}

func seriesPaths(g svgChart) []svgPath {
	var out []svgPath
	for _, p := range g.Paths {
		if p.Class == "series" {
			out = append(out, p)
		}
	}
	return out
}

func pts(ys ...float64) []point {
	out := make([]point, len(ys))
	for i, y := range ys {
		out[i] = point{X: float64(i + 1), Y: y}
	}
	return out
}

func TestLineChart(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name     string
		c        chart
		empty    bool
		paths    int // series paths
		moves    int // segments (M commands) over all paths
		dots     int
		hasThres bool
	}{
		{name: "no series", c: chart{}, empty: true},
		{name: "empty series", c: chart{Series: []series{{Name: "a"}}}, empty: true},
		{name: "all NaN", c: chart{Series: []series{{Name: "a", Points: pts(nan, nan)}}}, empty: true},
		{name: "single point", c: chart{IntegerX: true, Series: []series{{Name: "a", Points: pts(0.5)}}}, paths: 1, moves: 1, dots: 1},
		{name: "gap", c: chart{IntegerX: true, Series: []series{{Name: "a", Points: pts(0.1, 0.2, nan, 0.4, 0.5)}}}, paths: 1, moves: 2, dots: 4},
		{name: "isolated point between gaps", c: chart{Series: []series{{Name: "a", Points: pts(0.1, nan, 0.3, nan, 0.5, 0.6)}}}, paths: 1, moves: 3, dots: 4},
		{name: "Inf is a gap", c: chart{Series: []series{{Name: "a", Points: pts(1, math.Inf(1), 3)}}}, paths: 1, moves: 2, dots: 2},
		{name: "two series and a threshold", c: chart{IntegerX: true, IncludeZero: true,
			Series:    []series{{Name: "sex", Points: pts(0.7, 0.9)}, {Name: "age", Points: pts(nan, 0.95)}},
			Threshold: &threshold{Value: 0.8, Label: "DI >= 0.8"}}, paths: 2, moves: 2, dots: 3, hasThres: true},
		{name: "constant series", c: chart{Series: []series{{Name: "a", Points: pts(2, 2, 2)}}}, paths: 1, moves: 1, dots: 3},
		{name: "huge range", c: chart{Series: []series{{Name: "a", Points: pts(-1e308, 1e308)}}}, paths: 1, moves: 1, dots: 2},
	}
	for _, tt := range tests {
		g := tt.c.layout()
		checkGeometry(t, tt.name, g)
		if got := hasText(g, "no data"); got != tt.empty {
			t.Errorf("%s: shows \"no data\" = %v; want %v", tt.name, got, tt.empty)
		}
		if tt.c.hasData() == tt.empty {
			t.Errorf("%s: hasData() = %v", tt.name, !tt.empty)
		}
		if tt.empty {
			continue
		}
		ps := seriesPaths(g)
		moves := 0
		for _, p := range ps {
			moves += strings.Count(p.D, "M")
		}
		if len(ps) != tt.paths || moves != tt.moves || len(g.Dots) != tt.dots {
			t.Errorf("%s: %d paths, %d segments, %d dots; want %d, %d, %d", tt.name, len(ps), moves, len(g.Dots), tt.paths, tt.moves, tt.dots)
		}
		thr := slices.ContainsFunc(g.Lines, func(l svgLine) bool { return l.Class == "thr" })
		if thr != tt.hasThres {
			t.Errorf("%s: threshold line drawn = %v; want %v", tt.name, thr, tt.hasThres)
		}
		if !hasText(g, tt.c.Series[0].Name) {
			t.Errorf("%s: legend has no %q", tt.name, tt.c.Series[0].Name)
		}
	}
}

func TestLineChartScales(t *testing.T) {
	c := chart{IntegerX: true, Series: []series{{Name: "acc", Points: pts(0.70, 0.75, 0.8, 0.82, 0.85, 0.86, 0.87, 0.92)}}}
	g := c.layout()
	// The accuracy ticks cover [0.70, 0.92] at a step of 0.05 and the
	// rounds 1..8 one by one.
	for _, want := range []string{"0.70", "0.75", "0.90", "0.95", "1", "8"} {
		if !hasText(g, want) {
			t.Errorf("no tick %q", want)
		}
	}
	// Higher values are drawn higher (smaller SVG y).
	if !(g.Dots[0].Y > g.Dots[7].Y) || !(g.Dots[0].X < g.Dots[7].X) {
		t.Errorf("dots not increasing: first %+v, last %+v", g.Dots[0], g.Dots[7])
	}
	// A series longer than maxDots has no markers except isolated points.
	long := make([]float64, 3*maxDots)
	for i := range long {
		long[i] = float64(i)
	}
	long[10] = math.NaN()
	long[12] = math.NaN()
	g = chart{Series: []series{{Name: "long", Points: pts(long...)}}}.layout()
	if len(g.Dots) != 1 {
		t.Errorf("long series with one isolated point has %d dots; want 1", len(g.Dots))
	}
}

func TestBarChart(t *testing.T) {
	long := strings.Repeat("very_long_feature_name_", 4)
	c := chart{Kind: barKind, XLabel: "mean |SHAP|", Bars: []bar{
		{Label: "age", Value: 0.4}, {Label: long, Value: 0.1}, {Label: "bmi", Value: math.NaN()}, {Label: "neg", Value: -0.05},
	}}
	g := c.layout()
	checkGeometry(t, "bars", g)
	if len(g.Rects) != 3 {
		t.Errorf("%d bars drawn; want 3 (no bar for NaN)", len(g.Rects))
	}
	if !hasText(g, notAvailable) {
		t.Error("the NaN bar is not labelled n/a")
	}
	if !slices.ContainsFunc(g.Texts, func(tx svgText) bool {
		return tx.Tip == long && strings.HasSuffix(tx.Text, "…") && len([]rune(tx.Text)) == 32
	}) {
		t.Error("long label not truncated to 32 runes with the full name as tooltip")
	}
	// Bars are proportional and start at 0.
	age, other := g.Rects[0], g.Rects[1]
	if r := age.W / other.W; math.Abs(r-4) > 0.01 {
		t.Errorf("bar widths %v and %v are not in ratio 4", age.W, other.W)
	}
	if neg := g.Rects[2]; neg.X+neg.W > age.X+0.01 || neg.X >= age.X {
		t.Errorf("negative bar %+v does not extend left of zero at %v", neg, age.X)
	}
	if g := (chart{Kind: barKind}).layout(); !hasText(g, "no data") {
		t.Error("empty bar chart does not say no data")
	}
	// A shared scale: the same value gets the same width whatever the
	// chart's own maximum.
	a := chart{Kind: barKind, Compact: true, Max: 1, Bars: []bar{{Label: "x", Value: 0.5}}}.layout()
	b := chart{Kind: barKind, Compact: true, Max: 1, Bars: []bar{{Label: "x", Value: 0.5}, {Label: "y", Value: 1}}}.layout()
	if a.Rects[0].W != b.Rects[0].W {
		t.Errorf("shared scale: widths %v and %v differ", a.Rects[0].W, b.Rects[0].W)
	}
}

func TestNiceScale(t *testing.T) {
	tests := []struct {
		lo, hi         float64
		wantLo, wantHi float64
		wantTicks      int
	}{
		{0, 1, 0, 1, 6},
		{0.7024, 0.9198, 0.7, 0.95, 6},
		{0, 3.934, 0, 4, 5},
		{0.8, 1.02, 0.8, 1.05, 6},
		{3, 3, 2.6, 3.4, 5},
		{0, 0, -1, 1, 5},
		{-0.128, 0.188, -0.2, 0.2, 5},
		{-1e308, 1e308, -1e308, 1e308, 2},
	}
	for _, tt := range tests {
		lo, hi, ts := niceScale(tt.lo, tt.hi, 5)
		if math.Abs(lo-tt.wantLo) > 1e-9 || math.Abs(hi-tt.wantHi) > 1e-9 || len(ts) != tt.wantTicks {
			t.Errorf("niceScale(%v, %v) = %v, %v, %v; want %v, %v and %d ticks", tt.lo, tt.hi, lo, hi, ts, tt.wantLo, tt.wantHi, tt.wantTicks)
		}
	}
	if got := tickLabel(-1e-17, 0.05); got != "0.00" {
		t.Errorf("tickLabel(-1e-17, 0.05) = %q; want 0.00", got)
	}
}

func TestTopFeatures(t *testing.T) {
	var fs []FeatureImportance
	for i := range 20 {
		fs = append(fs, FeatureImportance{Feature: string(rune('a' + i)), MeanAbsSHAP: Float(i)})
	}
	fs[19].MeanAbsSHAP = Float(math.NaN()) // "t", would be the largest
	fs = append(fs, FeatureImportance{Feature: "z", MeanAbsSHAP: 18})
	top := topFeatures(fs, maxBars)
	if len(top) != maxBars {
		t.Fatalf("topFeatures returned %d; want %d", len(top), maxBars)
	}
	var names []string
	for _, f := range top {
		names = append(names, f.Feature)
	}
	if got, want := strings.Join(names, ""), "szrqponmlkjihgf"; got != want {
		t.Errorf("topFeatures order %q; want %q (ties by name, NaN last)", got, want)
	}
	if fs[0].Feature != "a" {
		t.Error("topFeatures reordered its input")
	}
	all := topFeatures(fs[15:], maxBars)
	if all[len(all)-1].Feature != "t" {
		t.Errorf("NaN feature not last: %v", all)
	}
}
