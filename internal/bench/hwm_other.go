//go:build !linux

package bench

import "errors"

// readHWM is implemented on Linux only.
func readHWM(int) (int64, error) {
	return 0, errors.New("bench: peak memory is measured on Linux only (/proc/PID/status VmHWM)")
}
