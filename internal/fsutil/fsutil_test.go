package fsutil

import (
	"errors"
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
