package runout

import (
	"bytes"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size of metrics.png in pixels.
const (
	PlotWidthPx  = 960
	PlotHeightPx = 960
	plotDPI      = 96
)

// series is one line of a panel.
type series struct {
	name  string
	color color.Color
	value func(RoundMetrics) float64
}

var (
	blue   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	orange = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
)

// points returns the (round, value) pairs of s, skipping non-finite values,
// which gonum/plot rejects.
func points(rounds []RoundMetrics, value func(RoundMetrics) float64) plotter.XYs {
	xys := make(plotter.XYs, 0, len(rounds))
	for _, r := range rounds {
		v := value(r)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		xys = append(xys, plotter.XY{X: float64(r.Round), Y: v})
	}
	return xys
}

// panel builds one plot with a line (and point markers, so isolated rounds
// stay visible) per series that has at least one finite value.
func panel(rounds []RoundMetrics, title, ylabel string, ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "round"
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	for i, s := range ss {
		xys := points(rounds, s.value)
		if len(xys) == 0 {
			continue
		}
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color = s.color
		line.Width = vg.Points(1.5)
		pts.Color = s.color
		pts.Shape = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}}[i%2]
		p.Add(line, pts)
		p.Legend.Add(s.name, line, pts)
	}
	return p, nil
}

// encodePNG renders the two-panel figure: accuracy and AUC on top, losses
// below.
func encodePNG(rounds []RoundMetrics, title string) ([]byte, error) {
	if title == "" {
		title = "metrics"
	}
	top, err := panel(rounds, title+": accuracy and AUC", "accuracy / AUC", []series{
		{"eval accuracy", blue, func(r RoundMetrics) float64 { return r.EvalAccuracy }},
		{"eval AUC", orange, func(r RoundMetrics) float64 { return r.EvalAUC }},
	})
	if err != nil {
		return nil, err
	}
	top.Y.Min, top.Y.Max = 0, 1
	bottom, err := panel(rounds, title+": loss", "loss", []series{
		{"eval loss", blue, func(r RoundMetrics) float64 { return r.EvalLoss }},
		{"train loss", orange, func(r RoundMetrics) float64 { return r.TrainLoss }},
	})
	if err != nil {
		return nil, err
	}

	w := vg.Length(PlotWidthPx) * vg.Inch / plotDPI
	h := vg.Length(PlotHeightPx) * vg.Inch / plotDPI
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	tiles := draw.Tiles{
		Rows: 2, Cols: 1,
		PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(12),
		PadY: vg.Points(18),
	}
	plots := [][]*plot.Plot{{top}, {bottom}}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
