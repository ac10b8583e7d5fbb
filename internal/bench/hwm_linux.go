package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// readHWM returns the peak resident set size (VmHWM) of process pid in bytes.
//
// It reads /proc/PID/status while the process runs. The rusage ru_maxrss of
// a child is no substitute: Go starts children with vfork semantics, so the
// child's high-water mark starts at the parent's resident size.
func readHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// "VmHWM:	  123456 kB"
		if f := bytes.Fields(sc.Bytes()); len(f) == 3 && string(f[0]) == "VmHWM:" && string(f[2]) == "kB" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bench: /proc/%d/status: VmHWM %q: %w", pid, f[1], err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("bench: /proc/%d/status has no VmHWM line", pid)
}
