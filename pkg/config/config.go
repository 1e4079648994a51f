// Package config reads settings from environment variables with defaults.
package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// String returns the variable's value, or def when it is unset or empty.
func String(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Int returns the variable as an int, or def; a malformed value is an error
// naming the variable.
func Int(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("config: %s=%q is not an integer", key, v)
	}
	return n, nil
}

// Bool returns the variable as a bool ("true", "false", "1", "0"), or
// def; a malformed value is an error naming the variable.
func Bool(key string, def bool) (bool, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("config: %s=%q is not true or false", key, v)
	}
	return b, nil
}

// Keys returns the variable as keys of size bytes, each in standard
// base64 ("openssl rand -base64 32"), separated by commas; none when it is
// unset. A malformed value is an error naming the variable and which key,
// never showing the value.
func Keys(key string, size int) ([][]byte, error) {
	v := os.Getenv(key)
	if v == "" {
		return nil, nil
	}
	var out [][]byte
	for i, s := range strings.Split(v, ",") {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil || len(k) != size {
			return nil, fmt.Errorf("config: %s: key %d is not %d bytes in base64", key, i+1, size)
		}
		out = append(out, k)
	}
	return out, nil
}

// KeyPair reads a signing key, key (at most one, nil when unset), and the
// older ones still accepted, key+"_PREVIOUS", as Keys reads them.
func KeyPair(key string, size int) (current []byte, previous [][]byte, err error) {
	keys, err := Keys(key, size)
	switch {
	case err != nil:
		return nil, nil, err
	case len(keys) > 1:
		return nil, nil, fmt.Errorf("config: %s holds %d keys: one is current, older ones go in %s_PREVIOUS", key, len(keys), key)
	case len(keys) == 1:
		current = keys[0]
	}
	previous, err = Keys(key+"_PREVIOUS", size)
	return current, previous, err
}

// Duration returns the variable as a time.Duration ("30s"), or def.
func Duration(key string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("config: %s=%q is not a duration", key, v)
	}
	return d, nil
}

// Timeout is Duration for a limit, where 0 means none: a negative value is
// an error too.
func Timeout(key string, def time.Duration) (time.Duration, error) {
	d, err := Duration(key, def)
	if err == nil && d < 0 {
		err = fmt.Errorf("config: %s=%q is negative", key, os.Getenv(key))
	}
	return d, err
}

// Process is what every deployable reads at start, the gRPC services and
// the REST gateway alike.
type Process struct {
	Name            string        // the deployable's name, also the OTel service name default
	RedisURL        string        // REDIS_URL; empty means probe 127.0.0.1:6379
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT
	LogLevel        string        // LOG_LEVEL: debug, info, warn, error
}

// LoadProcess reads the settings every deployable shares.
func LoadProcess(name string) (Process, error) {
	timeout, err := Duration("SHUTDOWN_TIMEOUT", 15*time.Second)
	if err != nil {
		return Process{}, err
	}
	return Process{
		Name:            name,
		RedisURL:        os.Getenv("REDIS_URL"),
		ShutdownTimeout: timeout,
		LogLevel:        String("LOG_LEVEL", "info"),
	}, nil
}

// Service is what every gRPC service reads at start.
type Service struct {
	Process
	GRPCAddr    string // GRPC_ADDR
	MetricsAddr string // METRICS_ADDR: /metrics, /livez, /readyz
	DatabaseURL string // DATABASE_URL
}

// Load reads the settings every gRPC service shares; grpcAddr and
// metricsAddr are the service's default addresses.
func Load(name, grpcAddr, metricsAddr string) (Service, error) {
	p, err := LoadProcess(name)
	if err != nil {
		return Service{}, err
	}
	return Service{
		Process:     p,
		GRPCAddr:    String("GRPC_ADDR", grpcAddr),
		MetricsAddr: String("METRICS_ADDR", metricsAddr),
		DatabaseURL: String("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vcci?sslmode=disable"),
	}, nil
}

// Redact returns a connection string (DATABASE_URL, REDIS_URL,
// RIVER_UI_DATABASE_URL) fit for an error or a log line: a URL's password,
// and any password or sslpassword setting in its query or in a key=value
// string, become "xxxxx". A URL that does not parse loses all of its user
// information, since where its password ends is then a guess.
func Redact(dsn string) string {
	scheme, rest, isURL := strings.Cut(dsn, "://")
	if !isURL {
		return redactSettings(dsn)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = "xxxxx" + rest[at:]
		}
		return scheme + "://" + redactSettings(rest)
	}
	if q := u.Query(); len(q) > 0 {
		changed := false
		for k := range q {
			if isPasswordSetting(k) {
				q.Set(k, "xxxxx")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// passwordSetting matches a password setting of a key=value connection
// string (quoted or not) or of a URL's query.
var passwordSetting = regexp.MustCompile(`(?i)\b((?:ssl)?password)(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]*)`)

func redactSettings(s string) string { return passwordSetting.ReplaceAllString(s, "${1}${2}xxxxx") }

func isPasswordSetting(k string) bool {
	return strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword")
}
