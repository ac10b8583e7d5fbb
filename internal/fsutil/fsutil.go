// Package fsutil holds file-writing helpers shared by the packages that
// write key material and signed artifacts.
package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// WriteNew creates path with data and mode perm, never replacing a file. If
// path already exists with exactly data it succeeds without touching it;
// with other contents it returns an error wrapping exists (the caller's
// sentinel). A failed write leaves no partial file.
func WriteNew(path string, data []byte, perm fs.FileMode, exists error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		old, rerr := os.ReadFile(path)
		if rerr == nil && bytes.Equal(old, data) {
			return nil
		}
		return fmt.Errorf("%w with different contents: %s", exists, path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
