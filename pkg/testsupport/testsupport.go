// Package testsupport holds the helpers every module's tests share, written
// once: waiting for a condition, a database cloned from a migrated template,
// a private Redis, a gRPC server to dial, and a fake API-key check.
//
// The helpers that give a test PostgreSQL or Redis skip it under -short, so
// that `go test -short` runs only the tests that need neither.
//
// It imports nothing that imports pkg/cache or pkg/grpcserver, so that the
// in-package tests of those can use it too.
package testsupport

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, and fails the test if it does not
// within the given time; what names the condition in that failure.
func WaitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
