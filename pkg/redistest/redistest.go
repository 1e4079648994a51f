// Package redistest is where testsupport's private Redis used to live. It
// forwards to it until the tests that import it have moved.
//
// Deprecated: use testsupport.
package redistest

import (
	"testing"

	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// Server is testsupport.Redis.
type Server = testsupport.Redis

// Start is testsupport.StartRedis.
func Start(t testing.TB) *Server {
	t.Helper()
	return testsupport.StartRedis(t)
}
