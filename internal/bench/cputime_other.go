//go:build !linux

package bench

import "time"

// threadCPU is not available here: steps are timed by wall clock only.
func threadCPU() (time.Duration, bool) { return 0, false }
