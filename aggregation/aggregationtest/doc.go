// Package aggregationtest checks that an aggregation.Strategy honours the
// contract in package aggregation, in the way testing/fstest checks an fs.FS.
//
//	func TestMyStrategy(t *testing.T) {
//		aggregationtest.TestStrategy(t, func() aggregation.Strategy { return newMine() })
//	}
//
// The checks use 9 clients and a 7-dimensional model with fixed seeds, so a
// Krum-like strategy must accept 9 updates (f ≤ 3).
package aggregationtest
