package tenancy

import "time"

// SetRefresh makes s read the credentials again every d, for tests that
// cannot wait CredentialRefresh.
func (s *ServiceTokens) SetRefresh(d time.Duration) { s.every = d }
