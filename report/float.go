package report

import (
	"math"
	"strconv"
	"strings"

	"github.com/cohortfl/cohort/internal/jsonx"
)

// Float is a metric value: a float64 that may be NaN or ±Inf (an undefined
// rate, a metric that was not computed). JSON, which has no such numbers,
// encodes them as null, and null decodes as NaN (jsonx.Float); HTML and
// Markdown show them as "n/a".
type Float = jsonx.Float

// FloatMap converts a metrics map such as store.RoundRecord.Metrics. It
// returns nil for a nil map.
func FloatMap(m map[string]float64) map[string]Float {
	if m == nil {
		return nil
	}
	out := make(map[string]Float, len(m))
	for k, v := range m {
		out[k] = Float(v)
	}
	return out
}

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// notAvailable is how HTML and Markdown show a non-finite value.
const notAvailable = "n/a"

// formatFloat shows v with about four significant digits, "n/a" if v is not
// finite.
func formatFloat(v float64) string {
	if !finite(v) {
		return notAvailable
	}
	a := math.Abs(v)
	if a == 0 {
		return "0"
	}
	if a < 1e-3 || a >= 1e7 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	dec := 3 - int(math.Floor(math.Log10(a)))
	if dec < 0 {
		dec = 0
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	return trimZeros(s)
}

// trimZeros removes trailing zeros after a decimal point, and the point.
func trimZeros(s string) string {
	if !strings.ContainsRune(s, '.') {
		return s
	}
	i := len(s)
	for i > 0 && s[i-1] == '0' {
		i--
	}
	if i > 0 && s[i-1] == '.' {
		i--
	}
	return s[:i]
}
