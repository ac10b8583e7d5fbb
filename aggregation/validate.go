package aggregation

import "math"

// checkHeader validates everything about an update except the values of its
// coordinates: the client id, the length, the weight and distinctness. It reads
// seen and changes nothing.
func checkHeader(dim int, client string, n int, weight float64, seen map[string]struct{}) error {
	if client == "" {
		return updateErr(client, -1, ErrNoClient, "")
	}
	if n != dim {
		return updateErr(client, -1, ErrWrongLength, "got %d values, want %d", n, dim)
	}
	if !(weight > 0) || math.IsInf(weight, 1) {
		return updateErr(client, -1, ErrBadWeight, "weight %v", weight)
	}
	if _, dup := seen[client]; dup {
		return updateErr(client, -1, ErrDuplicate, "")
	}
	return nil
}

// checkFinite returns an ErrNotFinite error for the first NaN or ±Inf in delta.
func checkFinite(client string, delta []float64) error {
	for i, x := range delta {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return updateErr(client, i, ErrNotFinite, "value %v", x)
		}
	}
	return nil
}
