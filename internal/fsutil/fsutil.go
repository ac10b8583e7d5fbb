// Package fsutil holds file-writing helpers shared by the packages that
// write key material, signed artifacts and run outputs.
package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// WriteAtomic replaces path with data and mode perm: it writes a temporary
// file in the same directory, syncs it and renames it over path, so readers
// see the old or the new contents, never a mix. On failure the temporary
// file is removed, path is left untouched, and the error is returned
// unwrapped for the caller to annotate.
func WriteAtomic(path string, data []byte, perm fs.FileMode) error {
	// The name both contains ".tmp-" and ends in ".tmp", so it is
	// recognisable as a leftover either way.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
