package ratelimit

import "time"

// SetRedisTimeouts shortens the Redis timeout and the backoff after a
// failure, so that tests can watch the limiter leave Redis and come back.
func SetRedisTimeouts(l *Limiter, timeout, backoff time.Duration) {
	l.timeout, l.backoff = timeout, backoff
}
