package service

import (
	"math"
	"runtime/debug"
	"testing"
)

// TuneGC and limitMemory set the collector's defaults only where the
// environment is silent.
func TestTuneGCKeepsWhatTheEnvironmentSets(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	TuneGC()
	limitMemory()
	if got := debug.SetGCPercent(-1); got != DefaultGOGC {
		t.Errorf("GOGC unset: percent %d, want %d", got, DefaultGOGC)
	}
	if got := debug.SetMemoryLimit(-1); got != DefaultMemoryLimit {
		t.Errorf("GOMEMLIMIT unset: limit %d, want %d", got, DefaultMemoryLimit)
	}

	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "1GiB")
	TuneGC()
	limitMemory()
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("GOGC set: percent %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: limit %d, want it left alone", got)
	}
}
