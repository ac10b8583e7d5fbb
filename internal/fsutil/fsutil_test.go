package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteNew(t *testing.T) {
	errExists := errors.New("exists")
	p := filepath.Join(t.TempDir(), "f")
	if err := WriteNew(p, []byte("a"), 0o600, errExists); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
	if err := WriteNew(p, []byte("a"), 0o600, errExists); err != nil {
		t.Errorf("same contents: %v", err)
	}
	if err := WriteNew(p, []byte("b"), 0o600, errExists); !errors.Is(err, errExists) {
		t.Errorf("other contents: %v, want the exists sentinel", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "a" {
		t.Errorf("file replaced: %q", b)
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "new" {
		t.Errorf("contents %q, %v; want \"new\"", b, err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", st.Mode(), err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "f" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q; want only the file (no temporary file left)", names)
	}
}

func TestWriteAtomicMissingDir(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "missing", "f")
	if err := WriteAtomic(p, []byte("x"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v; want one wrapping fs.ErrNotExist", err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("directory holds %d entries, %v; want none", len(ents), err)
	}
}
