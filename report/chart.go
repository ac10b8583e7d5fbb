package report

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file lays out the report's charts as plain geometry (svgChart),
// which the HTML template prints as inline SVG. Labels stay data, so
// html/template escapes them like any other text.

type chartKind int

const (
	lineKind chartKind = iota // Series over X, optional horizontal Threshold
	barKind                   // horizontal Bars
)

type point struct{ X, Y float64 }

type series struct {
	Name   string
	Points []point // sorted by X; a non-finite Y is a gap in the line
}

type threshold struct {
	Value float64
	Label string
}

type bar struct {
	Label string
	Value float64 // non-finite: no bar, shown as n/a
}

// chart is a format-neutral chart: HTML draws it, Markdown prints its values.
type chart struct {
	Kind          chartKind
	Title         string
	XLabel        string
	YLabel        string
	Series        []series   // lineKind
	Threshold     *threshold // lineKind
	IntegerX      bool       // lineKind: X values are integers (rounds)
	IncludeZero   bool       // lineKind: the Y axis starts at or below 0
	Bars          []bar      // barKind
	Max           float64    // barKind: scale maximum shared by small multiples; 0 = from the data
	Compact       bool       // barKind: narrower, for small multiples
	CategoryTitle string     // barKind: heading of the label column in tables; "" = "Feature"
}

// hasData reports whether c has at least one finite value to draw.
func (c chart) hasData() bool {
	for _, s := range c.Series {
		for _, p := range s.Points {
			if finite(p.X) && finite(p.Y) {
				return true
			}
		}
	}
	for _, b := range c.Bars {
		if finite(b.Value) {
			return true
		}
	}
	return false
}

// palette is the Okabe–Ito colour-blind-safe palette.
var palette = []string{"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"}

const thresholdColor = "#b00020"

func seriesColor(i int) string { return palette[i%len(palette)] }

// svgChart is the geometry of one chart, drawn in field order (grid lines
// first, texts last). Coordinates are in SVG user units (pixels at 100%).
type svgChart struct {
	Title         string
	Width, Height float64
	Grid          []svgLine
	Rects         []svgRect
	Lines         []svgLine
	Paths         []svgPath
	Dots          []svgDot
	Texts         []svgText
}

type svgLine struct {
	X1, Y1, X2, Y2 float64
	Class          string // "axis", "grid", "tick", "thr"
}

type svgRect struct {
	X, Y, W, H float64
	Fill       string
	Tip        string
}

type svgPath struct {
	D      string
	Stroke string
	Class  string // "series", "thr"
}

type svgDot struct {
	X, Y float64
	Fill string
	Tip  string
}

type svgText struct {
	X, Y   float64
	Anchor string // "start", "middle", "end"
	Class  string // "tick", "label", "value", "legend", "empty", "thr"
	Rotate bool   // -90°, for the Y axis label
	Text   string
	Tip    string
}

// layout returns the geometry of c.
func (c chart) layout() svgChart {
	if c.Kind == barKind {
		return c.layoutBars()
	}
	return c.layoutLines()
}

// Line chart geometry.
const (
	lineW, lineH        = 640.0, 300.0
	lineL, lineR        = 60.0, 20.0
	lineT, lineB        = 34.0, 46.0
	maxDots             = 60 // series longer than this are drawn without markers
	approxCharWidth     = 6.6
	legendSwatch        = 14.0
	maxTickCount        = 100
	targetYTicks        = 5
	targetXTicks        = 8
	barRow, barRowC     = 22.0, 18.0
	barWidth, barWidthC = 640.0, 440.0
)

// emptyChart is a frame with a "no data" message.
func emptyChart(title string, w, h float64) svgChart {
	return svgChart{
		Title: title, Width: w, Height: h,
		Lines: []svgLine{{X1: 0.5, Y1: 0.5, X2: w - 0.5, Y2: 0.5, Class: "grid"}, {X1: 0.5, Y1: h - 0.5, X2: w - 0.5, Y2: h - 0.5, Class: "grid"}},
		Texts: []svgText{{X: w / 2, Y: h / 2, Anchor: "middle", Class: "empty", Text: "no data"}},
	}
}

func (c chart) layoutLines() svgChart {
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !finite(p.X) || !finite(p.Y) {
				continue
			}
			xmin, xmax = min(xmin, p.X), max(xmax, p.X)
			ymin, ymax = min(ymin, p.Y), max(ymax, p.Y)
		}
	}
	if xmin > xmax {
		return emptyChart(c.Title, lineW, lineH)
	}
	if c.Threshold != nil && finite(c.Threshold.Value) {
		ymin, ymax = min(ymin, c.Threshold.Value), max(ymax, c.Threshold.Value)
	}
	if c.IncludeZero {
		ymin, ymax = min(ymin, 0), max(ymax, 0)
	}
	var xs []float64
	if c.IntegerX {
		if xmin == xmax {
			xmin, xmax = xmin-1, xmax+1
		}
		xs = ticks(xmin, xmax, max(1, niceStep((xmax-xmin)/targetXTicks)))
	} else {
		xmin, xmax, xs = niceScale(xmin, xmax, targetXTicks)
	}
	ymin, ymax, ys := niceScale(ymin, ymax, targetYTicks)

	x0, x1, y0, y1 := lineL, lineW-lineR, lineT, lineH-lineB
	px := func(x float64) float64 { return x0 + frac(x, xmin, xmax)*(x1-x0) }
	py := func(y float64) float64 { return y1 - frac(y, ymin, ymax)*(y1-y0) }

	g := svgChart{Title: c.Title, Width: lineW, Height: lineH}
	for _, y := range ys {
		g.Grid = append(g.Grid, svgLine{X1: x0, Y1: py(y), X2: x1, Y2: py(y), Class: "grid"})
		g.Texts = append(g.Texts, svgText{X: x0 - 6, Y: py(y) + 4, Anchor: "end", Class: "tick", Text: tickLabel(y, step(ys))})
	}
	for _, x := range xs {
		g.Lines = append(g.Lines, svgLine{X1: px(x), Y1: y1, X2: px(x), Y2: y1 + 5, Class: "tick"})
		g.Texts = append(g.Texts, svgText{X: px(x), Y: y1 + 18, Anchor: "middle", Class: "tick", Text: tickLabel(x, step(xs))})
	}
	g.Lines = append(g.Lines,
		svgLine{X1: x0, Y1: y1, X2: x1, Y2: y1, Class: "axis"},
		svgLine{X1: x0, Y1: y0, X2: x0, Y2: y1, Class: "axis"})
	g.Texts = append(g.Texts,
		svgText{X: (x0 + x1) / 2, Y: lineH - 8, Anchor: "middle", Class: "label", Text: c.XLabel},
		svgText{X: 14, Y: (y0 + y1) / 2, Anchor: "middle", Class: "label", Rotate: true, Text: c.YLabel})

	legendX := x0
	addLegend := func(color, name string, dashed bool) {
		if dashed {
			g.Paths = append(g.Paths, svgPath{D: "M" + px2(legendX) + " 15H" + px2(legendX+legendSwatch), Stroke: color, Class: "thr"})
		} else {
			g.Rects = append(g.Rects, svgRect{X: legendX, Y: 10, W: legendSwatch, H: 10, Fill: color})
		}
		g.Texts = append(g.Texts, svgText{X: legendX + legendSwatch + 5, Y: 19, Anchor: "start", Class: "legend", Text: name})
		legendX += legendSwatch + 5 + approxCharWidth*float64(utf8.RuneCountInString(name)) + 18
	}

	for i, s := range c.Series {
		color := seriesColor(i)
		addLegend(color, s.Name, false)
		pts := slices.Clone(s.Points)
		slices.SortStableFunc(pts, func(a, b point) int { return cmp.Compare(a.X, b.X) })
		var d strings.Builder
		run := 0 // points in the current segment
		for j, p := range pts {
			if !finite(p.X) || !finite(p.Y) {
				run = 0
				continue
			}
			if run == 0 {
				d.WriteString("M")
			} else {
				d.WriteString("L")
			}
			d.WriteString(px2(px(p.X)) + " " + px2(py(p.Y)))
			run++
			isolated := run == 1 && (j+1 == len(pts) || !finite(pts[j+1].X) || !finite(pts[j+1].Y))
			if len(pts) <= maxDots || isolated {
				g.Dots = append(g.Dots, svgDot{X: px(p.X), Y: py(p.Y), Fill: color,
					Tip: s.Name + ", " + c.XLabel + " " + tickLabel(p.X, 0) + ": " + formatFloat(p.Y)})
			}
		}
		if d.Len() > 0 {
			g.Paths = append(g.Paths, svgPath{D: d.String(), Stroke: color, Class: "series"})
		}
	}
	if t := c.Threshold; t != nil && finite(t.Value) {
		y := py(t.Value)
		g.Lines = append(g.Lines, svgLine{X1: x0, Y1: y, X2: x1, Y2: y, Class: "thr"})
		g.Texts = append(g.Texts, svgText{X: x1 - 4, Y: y - 5, Anchor: "end", Class: "thr", Text: t.Label})
		addLegend(thresholdColor, t.Label, true)
	}
	return g
}

func (c chart) layoutBars() svgChart {
	w, row, maxRunes, maxLabelW := barWidth, barRow, 32, 230.0
	if c.Compact {
		w, row, maxRunes, maxLabelW = barWidthC, barRowC, 22, 160.0
	}
	if len(c.Bars) == 0 {
		return emptyChart(c.Title, w, 80)
	}
	labels := make([]string, len(c.Bars))
	longest := 0
	lo, hi := 0.0, c.Max
	for i, b := range c.Bars {
		labels[i] = truncate(b.Label, maxRunes)
		longest = max(longest, utf8.RuneCountInString(labels[i]))
		if finite(b.Value) {
			lo, hi = min(lo, b.Value), max(hi, b.Value)
		}
	}
	if !finite(hi) || (hi <= 0 && lo == 0) {
		hi = 1
	}
	lo, hi, xs := niceScale(lo, hi, 5)

	x0 := min(max(approxCharWidth*float64(longest)+12, 60), maxLabelW)
	x1 := w - 56
	y0 := 8.0
	y1 := y0 + row*float64(len(c.Bars))
	h := y1 + 40
	px := func(x float64) float64 { return x0 + frac(x, lo, hi)*(x1-x0) }

	g := svgChart{Title: c.Title, Width: w, Height: h}
	for _, x := range xs {
		g.Grid = append(g.Grid, svgLine{X1: px(x), Y1: y0, X2: px(x), Y2: y1, Class: "grid"})
		g.Lines = append(g.Lines, svgLine{X1: px(x), Y1: y1, X2: px(x), Y2: y1 + 5, Class: "tick"})
		g.Texts = append(g.Texts, svgText{X: px(x), Y: y1 + 17, Anchor: "middle", Class: "tick", Text: tickLabel(x, step(xs))})
	}
	barH := row * 0.68
	for i, b := range c.Bars {
		top := y0 + row*float64(i)
		mid := top + row/2
		g.Texts = append(g.Texts, svgText{X: x0 - 6, Y: mid + 4, Anchor: "end", Class: "tick", Text: labels[i], Tip: b.Label})
		if !finite(b.Value) {
			g.Texts = append(g.Texts, svgText{X: px(0) + 4, Y: mid + 4, Anchor: "start", Class: "value", Text: notAvailable})
			continue
		}
		a, z := px(min(0, b.Value)), px(max(0, b.Value))
		g.Rects = append(g.Rects, svgRect{X: a, Y: mid - barH/2, W: max(z-a, 0.5), H: barH, Fill: palette[0],
			Tip: b.Label + ": " + formatFloat(b.Value)})
		g.Texts = append(g.Texts, svgText{X: z + 4, Y: mid + 4, Anchor: "start", Class: "value", Text: formatFloat(b.Value)})
	}
	g.Lines = append(g.Lines,
		svgLine{X1: x0, Y1: y1, X2: x1, Y2: y1, Class: "axis"},
		svgLine{X1: px(0), Y1: y0, X2: px(0), Y2: y1, Class: "axis"})
	g.Texts = append(g.Texts, svgText{X: (x0 + x1) / 2, Y: h - 6, Anchor: "middle", Class: "label", Text: c.XLabel})
	return g
}

// frac is the position of v in [lo, hi] as a fraction (lo < hi). Halving
// first keeps hi − lo finite for any finite lo and hi.
func frac(v, lo, hi float64) float64 {
	return (v/2 - lo/2) / (hi/2 - lo/2)
}

// truncate shortens s to at most n runes, ending with "…" if it was cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// niceStep returns 1, 2 or 5 times a power of ten, at least raw.
func niceStep(raw float64) float64 {
	if !(raw > 0) || !finite(raw) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f <= 1:
		return mag
	case f <= 2:
		return 2 * mag
	case f <= 5:
		return 5 * mag
	}
	return 10 * mag
}

// niceScale widens [lo, hi] to multiples of a nice step giving about n
// intervals and returns the widened domain and its ticks. A degenerate
// domain is widened first; a domain too wide for float64 arithmetic keeps
// its ends as the only ticks.
func niceScale(lo, hi float64, n int) (float64, float64, []float64) {
	if lo == hi {
		d := math.Abs(lo) * 0.1
		if d == 0 {
			d = 1
		}
		lo, hi = lo-d, hi+d
	}
	span := hi - lo
	if !finite(span) {
		return lo, hi, []float64{lo, hi}
	}
	s := niceStep(span / float64(n))
	lo, hi = math.Floor(lo/s)*s, math.Ceil(hi/s)*s
	return lo, hi, ticks(lo, hi, s)
}

// ticks returns the multiples of s in [lo, hi], at most maxTickCount.
func ticks(lo, hi, s float64) []float64 {
	var out []float64
	first := math.Ceil(lo/s - 1e-9)
	for i := 0; i < maxTickCount; i++ {
		v := (first + float64(i)) * s
		if v > hi+s*1e-9 {
			break
		}
		out = append(out, v)
	}
	return out
}

// step is the spacing of ticks, 0 if there are fewer than two.
func step(ts []float64) float64 {
	if len(ts) < 2 {
		return 0
	}
	return ts[1] - ts[0]
}

// tickLabel formats v with as many decimals as the tick step s needs
// (s == 0: the shortest form).
func tickLabel(v, s float64) string {
	if s > 0 && math.Abs(v) < s*1e-6 {
		v = 0
	}
	if !(s > 0) || !finite(s) {
		return formatFloat(v)
	}
	dec := max(0, int(-math.Floor(math.Log10(s)+1e-9)))
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// px2 formats an SVG coordinate.
func px2(v float64) string {
	return trimZeros(strconv.FormatFloat(v, 'f', 1, 64))
}
