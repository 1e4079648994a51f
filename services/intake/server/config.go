package server

import (
	"net"
	"os"
	"time"

	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// Config is everything intake reads from its environment: what every gRPC
// service reads, where the calculator is, and its own upload settings.
type Config struct {
	config.Service
	CalculatorAddr string // CALCULATOR_ADDR: where accepted rows are calculated
	EngagementAddr string // ENGAGEMENT_ADDR: where upload events are published
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
	// CalculatorWait is how long an upload waits for an unavailable
	// calculator before its attempts count (UPLOAD_CALCULATOR_WAIT).
	CalculatorWait time.Duration
	// WorkerID names this replica's River client (UPLOAD_WORKER_ID; by
	// default intake-<hostname>-<gRPC port>, the same across a restart of
	// one pod or container): a restart takes back the uploads it was
	// working when it died. Two live replicas must not share it.
	WorkerID string
	// SpoolDir holds upload bodies over a megabyte while they arrive
	// (UPLOAD_SPOOL_DIR, default the system's temporary directory): room
	// for MAX_UPLOAD_BYTES times the uploads received at once.
	SpoolDir string
}

// LoadConfig returns intake's Config: env.Cfg, as its launcher read it, the
// calculator's and engagement's addresses (env.Peers may set them), and intake's own settings;
// an error names the variable that is malformed.
func LoadConfig(env service.Env) (Config, error) {
	maxUpload, err := config.Int("MAX_UPLOAD_BYTES", 2<<30)
	if err != nil {
		return Config{}, err
	}
	c := Config{Service: env.Cfg, CalculatorAddr: env.Peer("calculator"), EngagementAddr: env.Peer("engagement"), MaxUploadBytes: int64(maxUpload)}
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
	if c.CalculatorWait, err = config.Duration("UPLOAD_CALCULATOR_WAIT", intake.DefaultCalculatorWait); err != nil {
		return Config{}, err
	}
	if c.CalculatorWait == 0 {
		c.CalculatorWait = -1 // none: the worker's zero is its default
	}
	c.WorkerID = config.String("UPLOAD_WORKER_ID", defaultWorkerID(env.GRPC))
	c.SpoolDir = config.String("UPLOAD_SPOOL_DIR", "")
	return c, nil
}

// defaultWorkerID is intake-<hostname>-<port of lis>, or empty (a random
// id) when either is unknown.
func defaultWorkerID(lis net.Listener) string {
	host, err := os.Hostname()
	if err != nil || lis == nil {
		return ""
	}
	_, port, err := net.SplitHostPort(lis.Addr().String())
	if err != nil {
		return ""
	}
	id := "intake-" + host + "-" + port
	if len(id) > 100 { // River's limit
		return ""
	}
	return id
}
