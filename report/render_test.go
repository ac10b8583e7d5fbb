package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var sectionIDs = []string{
	"summary", "rounds", "participation", "utility", "privacy",
	"fairness", "gate", "explanations", "lineage", "verification",
}

func render(t *testing.T, d Data, f Format) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, d, f); err != nil {
		t.Fatalf("Render(%s): %v", f, err)
	}
	return buf.String()
}

// htmlSections splits a rendered page into the text of each section by id.
func htmlSections(t *testing.T, page string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range sectionIDs {
		start := strings.Index(page, `<section id="`+id+`">`)
		if start < 0 {
			t.Fatalf("no section %q", id)
		}
		end := strings.Index(page[start:], "</section>")
		if end < 0 {
			t.Fatalf("section %q is not closed", id)
		}
		out[id] = page[start : start+end]
	}
	return out
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		ok   bool
	}{
		{"html", HTML, true},
		{"md", Markdown, true},
		{"json", JSON, true},
		{" JSON ", JSON, true},
		{"HTML", HTML, true},
		{"markdown", "", false},
		{"pdf", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil {
			if !errors.Is(err, ErrUnknownFormat) {
				t.Errorf("ParseFormat(%q) error %v does not wrap ErrUnknownFormat", tt.in, err)
			}
			for _, name := range []string{"html", "md", "json", `"` + tt.in + `"`} {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("ParseFormat(%q) error %q does not mention %s", tt.in, err, name)
				}
			}
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return 0, errors.New("disk full")
}

func TestRenderErrors(t *testing.T) {
	w := &failWriter{}
	if err := Render(w, sampleData(), "pdf"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Render(pdf) = %v; want ErrUnknownFormat", err)
	}
	if w.n != 0 {
		t.Errorf("Render(pdf) wrote %d bytes", w.n)
	}
	if err := Render(w, sampleData(), HTML); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Render to a failing writer = %v; want the write error", err)
	}
}

func TestJSONRoundTripNonFinite(t *testing.T) {
	d := sampleData()
	d.Rounds[0].Metrics["inf"] = Float(math.Inf(1))
	d.Fairness.Rounds[0].DisparateImpact = Float(math.Inf(1))
	d.Privacy.EpsilonBudget = Float(math.NaN())
	out := render(t, d, JSON)

	if !json.Valid([]byte(out)) {
		t.Fatal("JSON output is not valid JSON")
	}
	for _, want := range []string{`"eval_auc": null`, `"inf": null`, `"disparate_impact": null`, `"epsilon_budget": null`, `"verdict": "verified"`} {
		if !strings.Contains(out, want) {
			t.Errorf("JSON does not contain %s", want)
		}
	}
	var back Data
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatalf("decoding the report: %v", err)
	}
	for name, v := range map[string]Float{
		"rounds[0].metrics.eval_auc": back.Rounds[0].Metrics[MetricEvalAUC],
		"rounds[0].metrics.inf":      back.Rounds[0].Metrics["inf"],
		"fairness.rounds[0].di":      back.Fairness.Rounds[0].DisparateImpact,
		"fairness.rounds[3].di":      back.Fairness.Rounds[3].DisparateImpact,
		"fairness.groups[3].fpr":     back.Fairness.Groups[3].FPR,
		"privacy.epsilon_budget":     back.Privacy.EpsilonBudget,
	} {
		if !math.IsNaN(float64(v)) {
			t.Errorf("%s decoded as %v; want NaN", name, v)
		}
	}
	if got, want := float64(back.Rounds[1].Metrics[MetricEvalAccuracy]), float64(d.Rounds[1].Metrics[MetricEvalAccuracy]); got != want {
		t.Errorf("eval_accuracy decoded as %v; want %v", got, want)
	}
	if again := render(t, back, JSON); again != out {
		t.Error("JSON → Data → JSON is not the identity")
	}
}

func TestJSONEmptyData(t *testing.T) {
	out := render(t, Data{}, JSON)
	for _, want := range []string{`"rounds": []`, `"participation": []`, `"gate": []`, `"lineage": []`,
		`"privacy": null`, `"fairness": null`, `"explanations": null`, `"checks": []`, `"verdict": "not verified"`} {
		if !strings.Contains(out, want) {
			t.Errorf("JSON of empty Data does not contain %s:\n%s", want, out)
		}
	}
}

func TestJSONLeavesInputAlone(t *testing.T) {
	d := Data{
		Rounds:   []Round{{Round: 1}},
		Fairness: &Fairness{},
	}
	out := render(t, d, JSON)
	if !strings.Contains(out, `"metrics": {}`) || !strings.Contains(out, `"thresholds": []`) {
		t.Errorf("nested nil collections not written as empty:\n%s", out)
	}
	if d.Rounds[0].Metrics != nil || d.Fairness.Thresholds != nil {
		t.Error("Render modified the caller's Data")
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		checks []VerificationCheck
		want   string
	}{
		{nil, VerdictNotVerified},
		{[]VerificationCheck{{OK: true}}, VerdictVerified},
		{[]VerificationCheck{{OK: true}, {OK: false}}, VerdictFailed},
	}
	for _, tt := range tests {
		if got := (Verification{Checks: tt.checks}).Verdict(); got != tt.want {
			t.Errorf("Verdict(%v) = %q; want %q", tt.checks, got, tt.want)
		}
	}
}

func TestHTMLSectionsAndCharts(t *testing.T) {
	page := render(t, sampleData(), HTML)
	secs := htmlSections(t, page)
	// Charts per section in the sample: utility, ε, DI, and the global
	// SHAP bars plus one small multiple per group.
	want := map[string]int{"utility": 1, "privacy": 1, "fairness": 1, "explanations": 1 + len(sampleGroups)}
	for _, id := range sectionIDs {
		if got := strings.Count(secs[id], "<svg"); got != want[id] {
			t.Errorf("section %s has %d <svg>; want %d", id, got, want[id])
		}
		if !strings.Contains(page, `href="#`+id+`"`) {
			t.Errorf("navigation has no link to #%s", id)
		}
	}
	if got := strings.Count(page, "<svg"); got != 4+len(sampleGroups) {
		t.Errorf("page has %d charts; want %d", got, 4+len(sampleGroups))
	}
	// 14 features: the global chart draws a bar (a <rect> with a tooltip) for each.
	if got := strings.Count(secs["explanations"], `<rect `); got < len(sampleFeatures) {
		t.Errorf("explanations draw %d bars; want at least %d", got, len(sampleFeatures))
	}
	for _, f := range sampleFeatures {
		if !strings.Contains(secs["explanations"], ">"+f+"<") {
			t.Errorf("feature %q is not labelled", f)
		}
	}
	// Pass/fail colouring in the fairness table.
	for _, class := range []string{`class="num fail"`, `class="num pass"`, `class="num na"`} {
		if !strings.Contains(secs["fairness"], class) {
			t.Errorf("fairness table has no cell %s", class)
		}
	}
}

func TestHTMLSelfContained(t *testing.T) {
	page := strings.ToLower(render(t, sampleData(), HTML))
	for _, bad := range []string{"http://", "https://", "//:", "<script", "<link", "<img", "<iframe", "src=", "url(", "@import", "@font-face"} {
		if strings.Contains(page, bad) {
			t.Errorf("HTML contains %q; it must be self-contained", bad)
		}
	}
	if !strings.Contains(page, `content="default-src 'none'; style-src 'unsafe-inline'"`) {
		t.Error("HTML has no Content Security Policy")
	}
}

// hostileData puts markup, Markdown syntax and table separators in every
// untrusted name.
func hostileData() Data {
	const x = `<script>alert(1)</script>`
	d := sampleData()
	d.Summary.RunID = "run|" + x
	d.Summary.Error = "stopped: \"><img src=x onerror=alert(2)>"
	d.Participation[0].Name = x
	d.Participation[1].Name = "a|b|c **bold** [link](javascript:alert(3)) `code`\nnext line"
	d.Explanations.Global[0].Feature = `"><img src=x onerror=alert(4)>`
	d.Explanations.Global[1].Feature = x
	d.Explanations.Groups[0].Group = `sex=<b>F</b>"'`
	d.Fairness.Rounds[0].Family = x
	d.Fairness.Groups[0].Group = x
	d.Gate[0].Checks[0].Name = x
	d.Gate[0].Candidate = "1.1.0|" + x
	d.Lineage[0].ParamsHash = "`|`" + x
	d.Verification.Checks[0].Detail = x
	return d
}

func TestHTMLEscapesUntrustedNames(t *testing.T) {
	page := render(t, hostileData(), HTML)
	low := strings.ToLower(page)
	for _, bad := range []string{"<script", "<img", "<b>"} {
		if strings.Contains(low, bad) {
			t.Errorf("HTML contains unescaped %q", bad)
		}
	}
	// The text survives, escaped: tables, chart labels and attributes.
	if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 8 {
		t.Errorf("escaped site/feature/group name appears %d times; want at least 8", n)
	}
	if !strings.Contains(page, `aria-label="sex=&lt;b&gt;F&lt;/b&gt;&#34;&#39;"`) {
		t.Error("a group name in an SVG attribute is not escaped")
	}
}

func TestNonFiniteShownAsNA(t *testing.T) {
	d := sampleData()
	d.Fairness.Rounds[0].DisparateImpact = Float(math.Inf(1))
	d.Gate[0].Checks[0].Value = Float(math.Inf(-1))
	nonFinite := regexp.MustCompile(`\bNaN\b|\bInf\b|\+Inf|-Inf`)
	for _, f := range []Format{HTML, Markdown} {
		out := render(t, d, f)
		if m := nonFinite.FindString(out); m != "" {
			t.Errorf("%s output shows %q", f, m)
		}
		if !strings.Contains(out, notAvailable) {
			t.Errorf("%s output never shows %q", f, notAvailable)
		}
	}
}

func TestEmptySections(t *testing.T) {
	d := Data{Summary: Summary{RunID: "r1", DPMode: "none"}}
	page := render(t, d, HTML)
	secs := htmlSections(t, page)
	for _, id := range sectionIDs {
		s := secs[id]
		if strings.Contains(s, "<svg") {
			t.Errorf("empty section %s draws a chart", id)
		}
		if id != "summary" && id != "verification" && strings.Contains(s, "<table") {
			t.Errorf("empty section %s has a table", id)
		}
	}
	for _, id := range []string{"privacy", "fairness", "explanations"} {
		if !strings.Contains(secs[id], "not enabled for this run") {
			t.Errorf("section %s does not say it was not enabled:\n%s", id, secs[id])
		}
	}
	md := render(t, d, Markdown)
	if got := strings.Count(md, "not enabled for this run"); got != 3 {
		t.Errorf("Markdown says %d times that a feature was not enabled; want 3", got)
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "|") && !strings.Contains(md[:strings.Index(md, "## Rounds")], line) {
			t.Errorf("empty Markdown report has a table row outside the summary: %q", line)
		}
	}

	// Enabled but still empty: notes, no empty tables or charts.
	d.Privacy = &Privacy{Accountant: "rdp", Delta: 1e-5, EpsilonBudget: Float(math.NaN())}
	d.Fairness = &Fairness{}
	d.Explanations = &Explanations{}
	secs = htmlSections(t, render(t, d, HTML))
	for _, id := range []string{"privacy", "fairness", "explanations"} {
		if strings.Contains(secs[id], "not enabled") || strings.Contains(secs[id], "<svg") {
			t.Errorf("enabled empty section %s:\n%s", id, secs[id])
		}
		if strings.Contains(secs[id], "<thead>") {
			t.Errorf("enabled empty section %s has an empty data table", id)
		}
	}
}

// unescapedPipes counts the cell separators of a Markdown table row.
func unescapedPipes(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n
}

func TestMarkdownTables(t *testing.T) {
	for name, d := range map[string]Data{"sample": sampleData(), "hostile": hostileData(), "empty": {}} {
		md := render(t, d, Markdown)
		tables, want := 0, -1
		for i, line := range strings.Split(md, "\n") {
			if !strings.HasPrefix(line, "|") {
				want = -1
				continue
			}
			n := unescapedPipes(line)
			if want < 0 {
				tables++
				want = n
				if n < 2 {
					t.Errorf("%s: line %d: table header with %d pipes: %q", name, i+1, n, line)
				}
				continue
			}
			if n != want {
				t.Errorf("%s: line %d has %d cell separators; the table's header has %d: %q", name, i+1, n, want, line)
			}
		}
		if name != "empty" && tables < 10 {
			t.Errorf("%s: %d Markdown tables; want at least 10", name, tables)
		}
		for _, id := range []string{"Summary", "Rounds", "Participation", "Utility", "Privacy", "Fairness", "Gate decisions", "Explanations", "Lineage", "Verification"} {
			if !strings.Contains(md, "\n## "+id+"\n") {
				t.Errorf("%s: Markdown has no section %q", name, id)
			}
		}
	}
}

func TestMarkdownEscapesUntrustedNames(t *testing.T) {
	md := render(t, hostileData(), Markdown)
	unescaped := regexp.MustCompile(`(^|[^\\])(<script|<img|<b>|\[link\]|\*\*bold|` + "`code" + `)`)
	if m := unescaped.FindString(md); m != "" {
		t.Errorf("Markdown contains unescaped %q", m)
	}
	if strings.Contains(md, "\nnext line") {
		t.Error("a line break in a name starts a new Markdown line")
	}
	if !strings.Contains(md, `\<script\>alert(1)\</script\>`) {
		t.Error("escaped site name not found in Markdown")
	}
}

func TestRenderDeterministicAndConcurrent(t *testing.T) {
	d := sampleData()
	want := map[Format]string{}
	for _, f := range Formats {
		want[f] = render(t, d, f)
	}
	var wg sync.WaitGroup
	for range 4 {
		for _, f := range Formats {
			wg.Go(func() {
				var buf bytes.Buffer
				if err := Render(&buf, d, f); err != nil {
					t.Errorf("Render(%s): %v", f, err)
					return
				}
				if buf.String() != want[f] {
					t.Errorf("Render(%s) output differs between calls", f)
				}
			})
		}
	}
	wg.Wait()
}

func TestThresholdCheck(t *testing.T) {
	tests := []struct {
		th   Threshold
		v    float64
		want string
	}{
		{Threshold{Op: ">=", Value: 0.8}, 0.8, statePass},
		{Threshold{Op: ">=", Value: 0.8}, 0.79, stateFail},
		{Threshold{Op: ">", Value: 0.8}, 0.8, stateFail},
		{Threshold{Op: "<=", Value: 0.1, Abs: true}, -0.1, statePass},
		{Threshold{Op: "<=", Value: 0.1, Abs: true}, -0.11, stateFail},
		{Threshold{Op: "<=", Value: 0.1}, -0.11, statePass},
		{Threshold{Op: "<", Value: 0.1}, 0.1, stateFail},
		{Threshold{Op: ">=", Value: 0.8}, math.NaN(), stateNA},
		{Threshold{Op: ">=", Value: 0.8}, math.Inf(1), statePass},
		{Threshold{Op: ">=", Value: Float(math.NaN())}, 1, stateNA},
		{Threshold{Op: "~", Value: 0.8}, 1, ""},
	}
	for _, tt := range tests {
		if got := tt.th.check(tt.v); got != tt.want {
			t.Errorf("%+v.check(%v) = %q; want %q", tt.th, tt.v, got, tt.want)
		}
	}
	ts := []Threshold{
		{Metric: MetricDisparateImpact, Op: ">=", Value: 0.8},
		{Metric: MetricDisparateImpact, Op: "<=", Value: 1.25},
	}
	for v, want := range map[float64]string{1: statePass, 0.7: stateFail, 1.3: stateFail} {
		if got := checkAll(ts, MetricDisparateImpact, v); got != want {
			t.Errorf("checkAll(DI in [0.8, 1.25], %v) = %q; want %q", v, got, want)
		}
	}
	if got := checkAll(ts, MetricAverageOddsDifference, 5); got != "" {
		t.Errorf("checkAll without thresholds on the metric = %q; want \"\"", got)
	}
}

func TestFormatFloat(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"}, {0.8, "0.8"}, {0.87346, "0.8735"}, {3.93412, "3.934"}, {1e-5, "1e-05"},
		{-0.128, "-0.128"}, {12345.6, "12346"}, {2e7, "2e+07"}, {1, "1"},
		{math.NaN(), "n/a"}, {math.Inf(1), "n/a"}, {math.Inf(-1), "n/a"},
	}
	for _, tt := range tests {
		if got := formatFloat(tt.v); got != tt.want {
			t.Errorf("formatFloat(%v) = %q; want %q", tt.v, got, tt.want)
		}
	}
}

func TestFloatMap(t *testing.T) {
	if FloatMap(nil) != nil {
		t.Error("FloatMap(nil) != nil")
	}
	m := FloatMap(map[string]float64{"a": 1, "b": math.NaN()})
	if m["a"] != 1 || !math.IsNaN(float64(m["b"])) || len(m) != 2 {
		t.Errorf("FloatMap = %v", m)
	}
}
