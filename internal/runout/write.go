package runout

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cohortfl/cohort/internal/fsutil"
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
		if err := fsutil.WriteAtomic(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return fmt.Errorf("runout: write %s: %w", f.name, err)
		}
	}
	syncDir(dir)
	return nil
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
