package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// The report is first turned into a format-neutral view (sections of
// blocks: facts, tables, charts, notes), which the HTML and Markdown
// renderers then print. Both formats therefore always show the same
// sections with the same numbers.

// Cell states, shown as colours in HTML and as marks in Markdown.
const (
	statePass = "pass"
	stateFail = "fail"
	stateNA   = "na" // a check that could not be decided (NaN value)
)

type view struct {
	RunID     string
	Generated string // "" if unknown
	Verdict   string
	Sections  []section
}

type section struct {
	ID, Title string
	// Disabled, when set, replaces the section's content: the feature was
	// not enabled for this run.
	Disabled string
	Blocks   []block
}

// block is one piece of a section; the renderers print the fields that are
// set, in the order of the struct.
type block struct {
	Heading      string
	HeadingState string // badge next to the heading
	Note         string // a paragraph
	Facts        []fact
	Table        *table
	Charts       []chart // more than one: small multiples sharing a scale
}

type fact struct {
	Label, Value string
	State        string
	Mono         bool // hashes and identifiers
}

type table struct {
	Columns []column
	Rows    [][]cell
}

type column struct {
	Title string
	Num   bool // right-aligned
}

type cell struct {
	Text  string
	State string
	Mono  bool
}

func text(s string) cell { return cell{Text: orNA(s)} }
func num(v Float) cell   { return cell{Text: formatFloat(float64(v))} }
func integer(n int64) cell {
	return cell{Text: strconv.FormatInt(n, 10)}
}

func orNA(s string) string {
	if s == "" {
		return notAvailable
	}
	return s
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return notAvailable
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func formatDuration(d time.Duration) string {
	if d <= 0 {
		return notAvailable
	}
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.String()
}

func passState(ok bool) string {
	if ok {
		return statePass
	}
	return stateFail
}

func passText(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

// notEnabled ends the note of a section whose feature the run did not use.
const notEnabled = "not enabled for this run."

// chartBlock is a block with chart c, or with note instead if c has no
// finite value to draw.
func chartBlock(c chart, note string) block {
	if !c.hasData() {
		return block{Note: note}
	}
	return block{Charts: []chart{c}}
}

func buildView(d Data) view {
	v := view{
		RunID:   orNA(d.Summary.RunID),
		Verdict: d.Verification.Verdict(),
	}
	if !d.GeneratedAt.IsZero() {
		v.Generated = formatTime(d.GeneratedAt)
	}
	v.Sections = []section{
		summarySection(d),
		roundsSection(d),
		participationSection(d),
		utilitySection(d),
		privacySection(d),
		fairnessSection(d),
		gateSection(d),
		explanationsSection(d),
		lineageSection(d),
		verificationSection(d),
	}
	return v
}

func summarySection(d Data) section {
	s := d.Summary
	secagg := "none"
	switch s.SecureAggregation.Mode {
	case SecAggHE:
		secagg = fmt.Sprintf("threshold homomorphic encryption, %d of %d sites decrypt",
			s.SecureAggregation.Threshold, s.SecureAggregation.Parties)
	case "", SecAggNone:
	default:
		secagg = s.SecureAggregation.Mode
	}
	stateState := ""
	switch s.State {
	case "completed":
		stateState = statePass
	case "failed", "stopped":
		stateState = stateFail
	}
	facts := []fact{
		{Label: "Run", Value: orNA(s.RunID), Mono: true},
		{Label: "State", Value: orNA(s.State), State: stateState},
	}
	if s.Error != "" {
		facts = append(facts, fact{Label: "Error", Value: s.Error})
	}
	facts = append(facts,
		fact{Label: "Created", Value: formatTime(s.CreatedAt)},
		fact{Label: "Updated", Value: formatTime(s.UpdatedAt)},
		fact{Label: "Dataset", Value: orNA(s.Dataset)},
		fact{Label: "Dataset hash", Value: orNA(s.DatasetHash), Mono: true},
		fact{Label: "Schema hash", Value: orNA(s.SchemaHash), Mono: true},
		fact{Label: "Model", Value: orNA(s.Model)},
		fact{Label: "Strategy", Value: orNA(s.Strategy)},
		fact{Label: "Rounds", Value: fmt.Sprintf("%d of %d completed", s.RoundsCompleted, s.RoundsTotal)},
		fact{Label: "Secure aggregation", Value: secagg},
		fact{Label: "Differential privacy", Value: orNA(s.DPMode)},
		fact{Label: "Verification", Value: d.Verification.Verdict(), State: verdictState(d.Verification.Verdict())},
	)
	return section{ID: "summary", Title: "Summary", Blocks: []block{{Facts: facts}}}
}

func verdictState(v string) string {
	switch v {
	case VerdictVerified:
		return statePass
	case VerdictFailed:
		return stateFail
	}
	return stateNA
}

// metricColumns returns the metric keys used by any round: the well-known
// ones first in a fixed order, then the others sorted.
func metricColumns(rounds []Round) []string {
	known := []string{MetricEvalAccuracy, MetricEvalAUC, MetricEvalLoss, MetricTrainLoss, MetricEpsilon}
	seen := map[string]bool{}
	for _, r := range rounds {
		for k := range r.Metrics {
			seen[k] = true
		}
	}
	var cols, other []string
	for _, k := range known {
		if seen[k] {
			cols = append(cols, k)
			delete(seen, k)
		}
	}
	for k := range seen {
		other = append(other, k)
	}
	slices.Sort(other)
	return append(cols, other...)
}

func roundsSection(d Data) section {
	s := section{ID: "rounds", Title: "Rounds"}
	if len(d.Rounds) == 0 {
		s.Blocks = []block{{Note: "No rounds were recorded for this run."}}
		return s
	}
	metrics := metricColumns(d.Rounds)
	t := &table{Columns: []column{
		{Title: "Round", Num: true}, {Title: "Attempt", Num: true}, {Title: "Status"},
		{Title: "Accepted/selected", Num: true}, {Title: "Duration", Num: true},
	}}
	for _, m := range metrics {
		t.Columns = append(t.Columns, column{Title: m, Num: true})
	}
	reasons := slices.ContainsFunc(d.Rounds, func(r Round) bool { return r.Reason != "" })
	if reasons {
		t.Columns = append(t.Columns, column{Title: "Reason"})
	}
	for _, r := range d.Rounds {
		status := text(r.Status)
		switch r.Status {
		case RoundCommitted:
			status.State = statePass
		case RoundFailed:
			status.State = stateFail
		}
		row := []cell{
			integer(int64(r.Round)), integer(int64(r.Attempt)), status,
			{Text: fmt.Sprintf("%d/%d", r.Accepted, r.Selected)},
			{Text: formatDuration(r.Duration)},
		}
		for _, m := range metrics {
			v, ok := r.Metrics[m]
			if !ok {
				v = Float(math.NaN())
			}
			row = append(row, num(v))
		}
		if reasons {
			row = append(row, cell{Text: r.Reason})
		}
		t.Rows = append(t.Rows, row)
	}
	s.Blocks = []block{{Table: t}}
	return s
}

func participationSection(d Data) section {
	s := section{ID: "participation", Title: "Participation"}
	if len(d.Participation) == 0 {
		s.Blocks = []block{{Note: "No site participation was recorded for this run."}}
		return s
	}
	var total int64
	for _, p := range d.Participation {
		total += p.Examples
	}
	t := &table{Columns: []column{
		{Title: "Site"}, {Title: "Rounds participated", Num: true},
		{Title: "Examples", Num: true}, {Title: "Share of examples", Num: true},
	}}
	share := func(n int64) cell {
		if total <= 0 {
			return cell{Text: notAvailable}
		}
		return cell{Text: fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))}
	}
	for _, p := range d.Participation {
		t.Rows = append(t.Rows, []cell{text(p.Name), integer(int64(p.Rounds)), integer(p.Examples), share(p.Examples)})
	}
	t.Rows = append(t.Rows, []cell{{Text: "Total"}, {}, integer(total), share(total)})
	s.Blocks = []block{{Table: t}}
	return s
}

// committedSeries returns the metric key of every committed round as a
// series over round numbers (a later committed attempt of the same round
// replaces an earlier one).
func committedSeries(rounds []Round, key string) []point {
	byRound := map[int]float64{}
	for _, r := range rounds {
		if r.Status != RoundCommitted && r.Status != "" {
			continue
		}
		v, ok := r.Metrics[key]
		if !ok {
			v = Float(math.NaN())
		}
		byRound[r.Round] = float64(v)
	}
	pts := make([]point, 0, len(byRound))
	for r, v := range byRound {
		pts = append(pts, point{X: float64(r), Y: v})
	}
	slices.SortFunc(pts, func(a, b point) int { return cmp.Compare(a.X, b.X) })
	return pts
}

func utilitySection(d Data) section {
	s := section{ID: "utility", Title: "Utility"}
	c := chart{
		Kind:   lineKind,
		Title:  "Evaluation accuracy and AUC per committed round",
		XLabel: "round", YLabel: "value", IntegerX: true,
		Series: []series{
			{Name: "accuracy", Points: committedSeries(d.Rounds, MetricEvalAccuracy)},
			{Name: "AUC", Points: committedSeries(d.Rounds, MetricEvalAUC)},
		},
	}
	s.Blocks = []block{chartBlock(c, "No evaluation accuracy or AUC was recorded for a committed round.")}
	return s
}

func privacySection(d Data) section {
	s := section{ID: "privacy", Title: "Privacy"}
	p := d.Privacy
	if p == nil {
		s.Disabled = "Differential privacy was " + notEnabled
		return s
	}
	final := math.NaN()
	for _, e := range p.Epsilon {
		if finite(float64(e.Value)) {
			final = float64(e.Value)
		}
	}
	facts := []fact{
		{Label: "Mode", Value: orNA(d.Summary.DPMode)},
		{Label: "Accountant", Value: orNA(p.Accountant)},
		{Label: "δ", Value: formatFloat(float64(p.Delta))},
		{Label: "ε budget", Value: formatFloat(float64(p.EpsilonBudget))},
		{Label: "ε spent", Value: formatFloat(final)},
	}
	if finite(final) && finite(float64(p.EpsilonBudget)) {
		facts[len(facts)-1].State = passState(final <= float64(p.EpsilonBudget))
	}
	pts := make([]point, len(p.Epsilon))
	for i, e := range p.Epsilon {
		pts[i] = point{X: float64(e.Round), Y: float64(e.Value)}
	}
	c := chart{
		Kind: lineKind, Title: "Cumulative ε per round", XLabel: "round", YLabel: "ε",
		IntegerX: true, IncludeZero: true,
		Series: []series{{Name: "ε", Points: pts}},
	}
	if finite(float64(p.EpsilonBudget)) {
		c.Threshold = &threshold{Value: float64(p.EpsilonBudget), Label: "budget " + formatFloat(float64(p.EpsilonBudget))}
	}
	ledger := block{Heading: "Privacy ledger"}
	if len(p.Ledger) == 0 {
		ledger.Note = "No ledger entries were recorded."
	} else {
		t := &table{Columns: []column{
			{Title: "Party"}, {Title: "Round", Num: true}, {Title: "Attempt", Num: true},
			{Title: "Purpose"}, {Title: "Mechanism"}, {Title: "σ", Num: true}, {Title: "q", Num: true},
			{Title: "Steps", Num: true}, {Title: "ε after", Num: true}, {Title: "Status"},
		}}
		for _, e := range p.Ledger {
			st := text(e.Status)
			if e.Status == "pending" {
				st.State = stateNA
			}
			t.Rows = append(t.Rows, []cell{
				text(e.Party), integer(int64(e.Round)), integer(int64(e.Attempt)),
				text(e.Purpose), text(e.Mechanism), num(e.Sigma), num(e.Q),
				integer(int64(e.Steps)), num(e.EpsilonAfter), st,
			})
		}
		ledger.Table = t
	}
	s.Blocks = []block{{Facts: facts}, chartBlock(c, "No ε values were recorded."), ledger}
	return s
}

// fairnessMetrics are the columns of the per-round fairness table.
var fairnessMetrics = []struct {
	key, title, name string
	get              func(FairnessRound) Float
}{
	{MetricDisparateImpact, "DI", "Disparate impact (DI)",
		func(r FairnessRound) Float { return r.DisparateImpact }},
	{MetricStatisticalParityDifference, "SPD", "Statistical parity difference (SPD)",
		func(r FairnessRound) Float { return r.StatisticalParityDifference }},
	{MetricEqualOpportunityDifference, "EOD", "Equal opportunity difference (EOD)",
		func(r FairnessRound) Float { return r.EqualOpportunityDifference }},
	{MetricEqualizedOddsDifference, "Equalized odds diff.", "Equalized odds difference",
		func(r FairnessRound) Float { return r.EqualizedOddsDifference }},
	{MetricAverageOddsDifference, "AOD", "Average odds difference (AOD)",
		func(r FairnessRound) Float { return r.AverageOddsDifference }},
}

// check returns statePass, stateFail or stateNA for v against t, and ""
// if t's operator is unknown.
func (t Threshold) check(v float64) string {
	if math.IsNaN(v) || math.IsNaN(float64(t.Value)) {
		return stateNA
	}
	if t.Abs {
		v = math.Abs(v)
	}
	lim := float64(t.Value)
	var ok bool
	switch t.Op {
	case ">=":
		ok = v >= lim
	case ">":
		ok = v > lim
	case "<=":
		ok = v <= lim
	case "<":
		ok = v < lim
	default:
		return ""
	}
	return passState(ok)
}

// String shows t as a condition on the value, e.g. "|value| <= 0.1".
func (t Threshold) String() string {
	lhs := "value"
	if t.Abs {
		lhs = "|value|"
	}
	return fmt.Sprintf("%s %s %s", lhs, t.Op, formatFloat(float64(t.Value)))
}

// metricTitle names a fairness metric for people.
func metricTitle(key string) string {
	for _, m := range fairnessMetrics {
		if m.key == key {
			return m.name
		}
	}
	return key
}

// checkAll combines the states of every threshold on metric: fail if any
// fails, n/a if any is undecided, pass if all pass, "" if there are none.
func checkAll(ts []Threshold, metric string, v float64) string {
	out := ""
	for _, t := range ts {
		if t.Metric != metric {
			continue
		}
		switch st := t.check(v); {
		case st == stateFail:
			return stateFail
		case st == stateNA:
			out = stateNA
		case st == statePass && out == "":
			out = statePass
		}
	}
	return out
}

func fairnessSection(d Data) section {
	s := section{ID: "fairness", Title: "Fairness"}
	f := d.Fairness
	if f == nil {
		s.Disabled = "Fairness auditing was " + notEnabled
		return s
	}
	policy := block{Heading: "Policy thresholds"}
	if len(f.Thresholds) == 0 {
		policy.Note = "The policy sets no fairness thresholds."
	} else {
		for _, t := range f.Thresholds {
			policy.Facts = append(policy.Facts, fact{Label: metricTitle(t.Metric), Value: t.String()})
		}
	}

	// DI per round, one line per family, with the DI threshold.
	var families []string
	byFamily := map[string][]point{}
	for _, r := range f.Rounds {
		if _, ok := byFamily[r.Family]; !ok {
			families = append(families, r.Family)
		}
		byFamily[r.Family] = append(byFamily[r.Family], point{X: float64(r.Round), Y: float64(r.DisparateImpact)})
	}
	c := chart{
		Kind: lineKind, Title: "Disparate impact per round", XLabel: "round", YLabel: "DI",
		IntegerX: true,
	}
	for _, fam := range families {
		pts := byFamily[fam]
		slices.SortStableFunc(pts, func(a, b point) int { return cmp.Compare(a.X, b.X) })
		c.Series = append(c.Series, series{Name: orNA(fam), Points: pts})
	}
	for _, t := range f.Thresholds {
		if t.Metric == MetricDisparateImpact && !t.Abs && finite(float64(t.Value)) {
			c.Threshold = &threshold{Value: float64(t.Value), Label: "policy: DI " + t.Op + " " + formatFloat(float64(t.Value))}
			break
		}
	}

	rounds := block{Heading: "Disparities per round and attribute family"}
	if len(f.Rounds) == 0 {
		rounds.Note = "No fairness audits were recorded."
	} else {
		t := &table{Columns: []column{{Title: "Round", Num: true}, {Title: "Family"}}}
		for _, m := range fairnessMetrics {
			t.Columns = append(t.Columns, column{Title: m.title, Num: true})
		}
		for _, r := range f.Rounds {
			row := []cell{integer(int64(r.Round)), text(r.Family)}
			for _, m := range fairnessMetrics {
				v := m.get(r)
				c := num(v)
				c.State = checkAll(f.Thresholds, m.key, float64(v))
				row = append(row, c)
			}
			t.Rows = append(t.Rows, row)
		}
		rounds.Table = t
	}

	groups := block{Heading: "Per-group metrics of the final model"}
	if len(f.Groups) == 0 {
		groups.Note = "No per-group metrics were recorded."
	} else {
		t := &table{Columns: []column{
			{Title: "Group"}, {Title: "Family"}, {Title: "n", Num: true}, {Title: "Selection rate", Num: true},
			{Title: "TPR", Num: true}, {Title: "FPR", Num: true}, {Title: "FNR", Num: true}, {Title: "Accuracy", Num: true},
		}}
		for _, g := range f.Groups {
			t.Rows = append(t.Rows, []cell{
				text(g.Group), text(g.Family), num(g.N), num(g.SelectionRate),
				num(g.TPR), num(g.FPR), num(g.FNR), num(g.Accuracy),
			})
		}
		groups.Table = t
	}
	s.Blocks = []block{policy, chartBlock(c, "No disparate impact values were recorded."), rounds, groups}
	return s
}

func gateSection(d Data) section {
	s := section{ID: "gate", Title: "Gate decisions"}
	if len(d.Gate) == 0 {
		s.Blocks = []block{{Note: "No gate decisions were recorded for this run."}}
		return s
	}
	for _, g := range d.Gate {
		outcome := "rejected"
		if g.Passed {
			outcome = "published"
		}
		b := block{
			Heading:      fmt.Sprintf("Candidate %s (round %d): %s", orNA(g.Candidate), g.Round, outcome),
			HeadingState: passState(g.Passed),
		}
		if len(g.Checks) == 0 {
			b.Note = "No checks were recorded."
		} else {
			t := &table{Columns: []column{
				{Title: "Check"}, {Title: "Value", Num: true}, {Title: "Op"}, {Title: "Threshold", Num: true},
				{Title: "Result"}, {Title: "Detail"},
			}}
			for _, c := range g.Checks {
				t.Rows = append(t.Rows, []cell{
					text(c.Name), num(c.Value), text(c.Op), num(c.Threshold),
					{Text: passText(c.Passed), State: passState(c.Passed)}, {Text: c.Detail},
				})
			}
			b.Table = t
		}
		s.Blocks = append(s.Blocks, b)
	}
	return s
}

// maxBars is how many features the importance charts show.
const maxBars = 15

// topFeatures returns the features of fs sorted by decreasing importance
// (non-finite values last, ties by name), at most n of them.
func topFeatures(fs []FeatureImportance, n int) []FeatureImportance {
	out := slices.Clone(fs)
	slices.SortStableFunc(out, func(a, b FeatureImportance) int {
		av, bv := float64(a.MeanAbsSHAP), float64(b.MeanAbsSHAP)
		switch fa, fb := finite(av), finite(bv); {
		case fa && !fb:
			return -1
		case !fa && fb:
			return 1
		case fa && fb && av != bv:
			return cmp.Compare(bv, av)
		}
		return cmp.Compare(a.Feature, b.Feature)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func explanationsSection(d Data) section {
	s := section{ID: "explanations", Title: "Explanations"}
	e := d.Explanations
	if e == nil {
		s.Disabled = "Explanations were " + notEnabled
		return s
	}
	s.Blocks = []block{{Facts: []fact{{Label: "Method", Value: orNA(e.Method)}}}}

	top := topFeatures(e.Global, maxBars)
	global := chart{Kind: barKind, Title: "Global mean |SHAP| per feature", XLabel: "mean |SHAP|"}
	if len(e.Global) > maxBars {
		global.Title = fmt.Sprintf("Global mean |SHAP|, top %d of %d features", maxBars, len(e.Global))
	}
	for _, f := range top {
		global.Bars = append(global.Bars, bar{Label: f.Feature, Value: float64(f.MeanAbsSHAP)})
	}
	s.Blocks = append(s.Blocks, chartBlock(global, "No global feature importances were recorded."))

	if len(e.Groups) == 0 {
		s.Blocks = append(s.Blocks, block{Heading: "Per protected group", Note: "No per-group explanations were recorded."})
		return s
	}
	// Small multiples: every group shows the same features in the same
	// order (the global top features, or the first group's if there is no
	// global ranking) on a shared scale.
	order := top
	if len(order) == 0 {
		order = topFeatures(e.Groups[0].Features, maxBars)
	}
	scale := 0.0
	var charts []chart
	for _, g := range e.Groups {
		vals := map[string]float64{}
		for _, f := range g.Features {
			vals[f.Feature] = float64(f.MeanAbsSHAP)
		}
		c := chart{Kind: barKind, Title: orNA(g.Group), XLabel: "mean |SHAP|", Compact: true}
		for _, f := range order {
			v, ok := vals[f.Feature]
			if !ok {
				v = math.NaN()
			}
			if finite(v) {
				scale = max(scale, v)
			}
			c.Bars = append(c.Bars, bar{Label: f.Feature, Value: v})
		}
		charts = append(charts, c)
	}
	for i := range charts {
		charts[i].Max = scale
	}
	s.Blocks = append(s.Blocks, block{Heading: "Per protected group", Note: "Same features and scale as the global chart's ranking.", Charts: charts})
	return s
}

func lineageSection(d Data) section {
	s := section{ID: "lineage", Title: "Lineage"}
	if len(d.Lineage) == 0 {
		s.Blocks = []block{{Note: "No model versions were published by this run."}}
		return s
	}
	t := &table{Columns: []column{
		{Title: "Version"}, {Title: "Parent"}, {Title: "Run"}, {Title: "Round", Num: true},
		{Title: "Created"}, {Title: "Params hash"},
	}}
	for _, v := range d.Lineage {
		parent := v.Parent
		if parent == "" {
			parent = "—"
		}
		t.Rows = append(t.Rows, []cell{
			text(v.Version), {Text: parent}, text(v.RunID), integer(int64(v.Round)),
			{Text: formatTime(v.CreatedAt)}, {Text: orNA(v.ParamsHash), Mono: true},
		})
	}
	s.Blocks = []block{{Table: t}}
	return s
}

func verificationSection(d Data) section {
	s := section{ID: "verification", Title: "Verification"}
	verdict := d.Verification.Verdict()
	b := block{Facts: []fact{{Label: "Verdict", Value: verdict, State: verdictState(verdict)}}}
	if len(d.Verification.Checks) == 0 {
		b.Note = "No signature or audit-chain checks were run for this report."
		s.Blocks = []block{b}
		return s
	}
	t := &table{Columns: []column{{Title: "Check"}, {Title: "Result"}, {Title: "Detail"}}}
	for _, c := range d.Verification.Checks {
		res := cell{Text: "ok", State: statePass}
		if !c.OK {
			res = cell{Text: "FAILED", State: stateFail}
		}
		t.Rows = append(t.Rows, []cell{text(c.Name), res, {Text: c.Detail}})
	}
	b.Table = t
	s.Blocks = []block{b}
	return s
}
