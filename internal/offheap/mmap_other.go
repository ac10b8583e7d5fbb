//go:build !unix

package offheap

// mapFloats falls back to the heap where there is no mmap.
func mapFloats(n int) ([]float64, []byte, error) { return make([]float64, n), nil, nil }

func unmap([]byte) error { return nil }
