package jobs_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite"

	"github.com/autodebit/autodebit/jobs"
)

func TestNew_Config(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	driver := riversqlite.New(db)
	for name, tc := range map[string]struct {
		cfg  jobs.Config
		want string
	}{
		"no driver":               {jobs.Config{}, "Driver is required"},
		"rescue before timeout":   {jobs.Config{Driver: driver, JobTimeout: time.Minute, RescueAfter: 30 * time.Second}, "must exceed JobTimeout"},
		"rescue equal to timeout": {jobs.Config{Driver: driver, JobTimeout: time.Minute, RescueAfter: time.Minute}, "must exceed JobTimeout"},
	} {
		if _, err := jobs.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
	if _, err := jobs.New(jobs.Config{Driver: driver}); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
