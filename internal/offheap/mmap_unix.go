//go:build unix

package offheap

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFloats maps n zeroed float64s (private, anonymous: pages become
// resident only when first written).
func mapFloats(n int) ([]float64, []byte, error) {
	mem, err := unix.Mmap(-1, 0, 8*n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(mem))), n), mem, nil
}

func unmap(mem []byte) error { return unix.Munmap(mem) }
