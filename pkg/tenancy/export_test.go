package tenancy

import "time"

// SetRefresh makes s read the credentials again every d, for tests that
// cannot wait CredentialRefresh.
func (s *ServiceTokens) SetRefresh(d time.Duration) { s.every = d }

// AnswerExpires is when a's remembered answer about key expires (zero if
// none is remembered).
func (a *Authenticator) AnswerExpires(key string) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cache[string(Hash(key))].expires
}
