package redisx

import "github.com/redis/go-redis/v9"

// Unguarded returns a client with Connect's options but without its
// breaker: what the breaker saves is measured against it.
func Unguarded(url string) (*redis.Client, error) {
	opt, err := options(url)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}
