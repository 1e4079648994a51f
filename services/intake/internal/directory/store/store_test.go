package store_test

import (
	"os"
	"testing"

	"github.com/vcci-dev/vcci/pkg/testsupport"
	dirstore "github.com/vcci-dev/vcci/services/intake/internal/directory/store"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// env is the directory's store (st) over what intake's upload pipeline
// stores.
type env struct {
	intaketest.Pipeline
	st *dirstore.Store
}

// paths are the two ways the pipeline stores an upload.
var paths = intaketest.Paths()

func setupPath(t *testing.T, small int64) env {
	t.Helper()
	p := intaketest.NewPipeline(t, small)
	return env{Pipeline: p, st: dirstore.New(p.Pool)}
}

func drain(t *testing.T, e env) { intaketest.Drain(t, e.Pool, e.Worker) }

const header = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"
