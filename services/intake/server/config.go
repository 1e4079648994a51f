package server

import (
	"time"

	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// Config is what intake reads from the environment besides every service's
// settings (service.Env).
type Config struct {
	// MaxUploadBytes bounds one spend file (MAX_UPLOAD_BYTES).
	MaxUploadBytes int64
	// Uploads are River jobs in two queues, each with its workers: files up
	// to store.SmallUpload (UPLOAD_WORKERS), and larger ones
	// (UPLOAD_LARGE_WORKERS).
	SmallWorkers, LargeWorkers int
	// MaxAttempts is how many times an upload's job runs before the upload
	// fails (UPLOAD_MAX_ATTEMPTS).
	MaxAttempts int
	// UploadTimeout bounds one attempt at an upload (UPLOAD_TIMEOUT).
	UploadTimeout time.Duration
}

// LoadConfig reads intake's Config; an error names the variable that is
// malformed.
func LoadConfig() (Config, error) {
	maxUpload, err := config.Int("MAX_UPLOAD_BYTES", 2<<30)
	if err != nil {
		return Config{}, err
	}
	c := Config{MaxUploadBytes: int64(maxUpload)}
	if c.SmallWorkers, err = config.Int("UPLOAD_WORKERS", store.DefaultSmallWorkers); err != nil {
		return Config{}, err
	}
	if c.LargeWorkers, err = config.Int("UPLOAD_LARGE_WORKERS", 2); err != nil {
		return Config{}, err
	}
	if c.MaxAttempts, err = config.Int("UPLOAD_MAX_ATTEMPTS", store.DefaultMaxAttempts); err != nil {
		return Config{}, err
	}
	if c.UploadTimeout, err = config.Duration("UPLOAD_TIMEOUT", intake.DefaultTimeout); err != nil {
		return Config{}, err
	}
	return c, nil
}
