package runout

import (
	"fmt"
	"os"
	"path/filepath"
)

// File names written by WriteAll.
const (
	CSVFile  = "metrics.csv"
	JSONFile = "metrics.json"
	PNGFile  = "metrics.png"
)

// WriteAll writes rounds to dir as metrics.csv, metrics.json and
// metrics.png, creating dir (and its parents) if needed. title heads the
// figure. All three files are rendered before any is written, and each is
// replaced atomically, so readers see either the old or the new file.
func WriteAll(dir string, rounds []RoundMetrics, title string) error {
	csvData, err := encodeCSV(rounds)
	if err != nil {
		return fmt.Errorf("runout: render %s: %w", CSVFile, err)
	}
	jsonData, err := encodeJSON(rounds)
	if err != nil {
		return fmt.Errorf("runout: render %s: %w", JSONFile, err)
	}
	pngData, err := encodePNG(rounds, title)
	if err != nil {
		return fmt.Errorf("runout: render %s: %w", PNGFile, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("runout: create output directory: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{CSVFile, csvData}, {JSONFile, jsonData}, {PNGFile, pngData}} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return fmt.Errorf("runout: write %s: %w", f.name, err)
		}
	}
	syncDir(dir)
	return nil
}

// writeFileAtomic writes data to a temporary file next to path, syncs it and
// renames it over path. On failure the temporary file is removed and path is
// left untouched.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// syncDir makes the renames durable where the platform supports syncing a
// directory. It is best effort: some systems and file systems refuse, and the
// files themselves are already complete either way.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
