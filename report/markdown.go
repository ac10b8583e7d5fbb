package report

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
)

func renderMarkdown(buf *bytes.Buffer, d Data) error {
	v := buildView(d)
	buf.WriteString("# Training run report: " + mdEscape(orNA(v.RunID)) + "\n\n")
	buf.WriteString("Verification: **" + mdEscape(v.Verdict) + "**")
	if v.Generated != "" {
		buf.WriteString(" · Generated " + mdEscape(v.Generated))
	}
	buf.WriteString("\n")
	for _, s := range v.Sections {
		buf.WriteString("\n## " + mdEscape(s.Title) + "\n\n")
		if s.Disabled != "" {
			buf.WriteString("_" + mdEscape(s.Disabled) + "_\n")
			continue
		}
		for i, b := range s.Blocks {
			if i > 0 {
				buf.WriteString("\n")
			}
			writeMarkdownBlock(buf, b)
		}
	}
	return nil
}

func writeMarkdownBlock(buf *bytes.Buffer, b block) {
	if b.Heading != "" {
		buf.WriteString("### " + mdEscape(b.Heading))
		if b.HeadingState != "" {
			buf.WriteString(" " + stateMark(b.HeadingState))
		}
		buf.WriteString("\n\n")
	}
	if len(b.Facts) > 0 {
		for _, f := range b.Facts {
			val := mdEscape(f.Value)
			if f.Mono && f.Value != notAvailable {
				val = mdCode(f.Value)
			}
			if m := stateMark(f.State); m != "" {
				val += " " + m
			}
			buf.WriteString("- **" + mdEscape(f.Label) + ":** " + val + "\n")
		}
	}
	if b.Table != nil {
		if len(b.Facts) > 0 {
			buf.WriteString("\n")
		}
		writeMarkdownTable(buf, b.Table)
	}
	if b.Note != "" {
		if len(b.Facts) > 0 || b.Table != nil {
			buf.WriteString("\n")
		}
		buf.WriteString(mdEscape(b.Note) + "\n")
	}
	if len(b.Charts) > 0 {
		if len(b.Facts) > 0 || b.Table != nil || b.Note != "" {
			buf.WriteString("\n")
		}
		writeMarkdownCharts(buf, b.Charts)
	}
}

// writeMarkdownCharts prints charts as tables of their values. Bar charts
// (small multiples) become one table with a column per chart.
func writeMarkdownCharts(buf *bytes.Buffer, charts []chart) {
	if charts[0].Kind == barKind {
		buf.WriteString("**" + mdEscape(barsTitle(charts)) + "**\n\n")
		writeMarkdownTable(buf, barsTable(charts))
		return
	}
	for i, c := range charts {
		if i > 0 {
			buf.WriteString("\n")
		}
		buf.WriteString("**" + mdEscape(c.Title) + "**\n\n")
		writeMarkdownTable(buf, lineTable(c))
		if t := c.Threshold; t != nil && finite(t.Value) {
			buf.WriteString("\nThreshold: " + mdEscape(t.Label) + "\n")
		}
	}
}

func barsTitle(charts []chart) string {
	if len(charts) == 1 {
		return charts[0].Title
	}
	return charts[0].XLabel + " per feature and group"
}

// barsTable has one row per bar label (in the first chart's order, then
// labels only later charts have) and one value column per chart.
func barsTable(charts []chart) *table {
	cat := cmp.Or(charts[0].CategoryTitle, "Feature")
	t := &table{Columns: []column{{Title: cat}}}
	var labels []string
	seen := map[string]bool{}
	for _, c := range charts {
		title := c.Title
		if len(charts) == 1 {
			title = c.XLabel
		}
		t.Columns = append(t.Columns, column{Title: title, Num: true})
		for _, b := range c.Bars {
			if !seen[b.Label] {
				seen[b.Label] = true
				labels = append(labels, b.Label)
			}
		}
	}
	for _, l := range labels {
		row := []cell{text(l)}
		for _, c := range charts {
			i := slices.IndexFunc(c.Bars, func(b bar) bool { return b.Label == l })
			if i < 0 {
				row = append(row, cell{Text: notAvailable})
				continue
			}
			row = append(row, num(Float(c.Bars[i].Value)))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// lineTable has one row per X value and one column per series.
func lineTable(c chart) *table {
	t := &table{Columns: []column{{Title: c.XLabel, Num: true}}}
	var xs []float64
	for _, s := range c.Series {
		t.Columns = append(t.Columns, column{Title: s.Name, Num: true})
		for _, p := range s.Points {
			if !slices.Contains(xs, p.X) {
				xs = append(xs, p.X)
			}
		}
	}
	slices.Sort(xs)
	for _, x := range xs {
		row := []cell{{Text: formatFloat(x)}}
		for _, s := range c.Series {
			i := slices.IndexFunc(s.Points, func(p point) bool { return p.X == x })
			if i < 0 {
				row = append(row, cell{Text: notAvailable})
				continue
			}
			row = append(row, num(Float(s.Points[i].Y)))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func writeMarkdownTable(buf *bytes.Buffer, t *table) {
	buf.WriteString("|")
	for _, c := range t.Columns {
		buf.WriteString(" " + mdEscape(c.Title) + " |")
	}
	buf.WriteString("\n|")
	for _, c := range t.Columns {
		if c.Num {
			buf.WriteString(" ---: |")
		} else {
			buf.WriteString(" --- |")
		}
	}
	buf.WriteString("\n")
	for _, row := range t.Rows {
		buf.WriteString("|")
		for i := range t.Columns {
			var c cell
			if i < len(row) {
				c = row[i]
			}
			s := mdEscape(c.Text)
			if c.Mono && c.Text != "" && c.Text != notAvailable {
				s = mdCode(c.Text)
			}
			if m := stateMark(c.State); m != "" {
				s += " " + m
			}
			buf.WriteString(" " + s + " |")
		}
		buf.WriteString("\n")
	}
}

// stateMark shows a cell state in text: pass and fail keep their meaning
// without colour.
func stateMark(state string) string {
	switch state {
	case statePass:
		return "✓"
	case stateFail:
		return "✗"
	}
	return ""
}

// mdEscaper backslash-escapes the ASCII punctuation that Markdown (and GFM
// tables) interpret inside a line, so untrusted names render as the same
// text and can neither break a table nor inject emphasis, links, code or
// raw HTML. Line breaks become spaces. Escaped text never starts a line
// (it follows "| ", "- **Label:** " or a heading marker), so block markers
// such as "-" and "#" need no escape.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "|", `\|`, "&", `\&`, "~", `\~`,
	"\r\n", " ", "\n", " ", "\r", " ",
)

func mdEscape(s string) string { return mdEscaper.Replace(s) }

// mdCode shows an identifier (a hash) as inline code; identifiers with
// characters that code spans cannot hold safely are escaped instead.
func mdCode(s string) string {
	if strings.ContainsAny(s, "`|\\\r\n") {
		return mdEscape(s)
	}
	return "`" + s + "`"
}
