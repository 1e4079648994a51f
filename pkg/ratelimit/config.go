package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Class is the kind of request a budget is kept for: a key that is busy
// uploading still gets its reads.
type Class int

const (
	Read Class = iota
	Write
	Heavy
)

// String is the class's name in metrics, messages and Redis keys.
func (c Class) String() string {
	switch c {
	case Read:
		return "read"
	case Write:
		return "write"
	case Heavy:
		return "heavy"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// ClassOf is the default classification of a gRPC method ("/pkg.Service/Method")
// by its name: reads (and Calculate, one line not stored) are cheap,
// uploads, calculations of many lines, reports and exports are heavy, and
// the rest change state.
func ClassOf(fullMethod string) Class {
	m := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	switch {
	case m == "UploadSpend" || m == "CalculateEmissions" || m == "BatchCalculate" || m == "StreamCalculate" ||
		hasVerb(m, "Generate", "Export"):
		return Heavy
	case m == "Calculate" || hasVerb(m, "Get", "List", "BatchGet", "Summarize", "Analyze", "Search"):
		// Calculate is one line, computed in memory and not stored.
		return Read
	}
	return Write
}

// hasVerb reports whether method starts with one of verbs as a whole word:
// "GetUpload" starts with "Get", "Getaway" does not.
func hasVerb(method string, verbs ...string) bool {
	for _, v := range verbs {
		rest, ok := strings.CutPrefix(method, v)
		if ok && (rest == "" || unicode.IsUpper(rune(rest[0]))) {
			return true
		}
	}
	return false
}

// Limit allows Rate requests per Period on average, and up to Burst at once.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// String reads "100 per 1s (burst 200)".
func (l Limit) String() string {
	return fmt.Sprintf("%d per %s (burst %d)", l.Rate, fmtPeriod(l.Period), l.Burst)
}

func (l Limit) validate() error {
	switch {
	case l.Rate < 1:
		return errors.New("rate must be at least 1")
	case l.Period <= 0:
		return errors.New("period must be positive")
	case l.Burst < 1:
		return errors.New("burst must be at least 1")
	}
	return nil
}

func fmtPeriod(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// Config holds one Limit per class, applied to each API key.
type Config struct {
	Read, Write, Heavy Limit
}

// DefaultConfig is the per-API-key budget when the environment sets none.
func DefaultConfig() Config {
	return Config{
		Read:  Limit{Rate: 100, Period: time.Second, Burst: 200},
		Write: Limit{Rate: 20, Period: time.Second, Burst: 40},
		Heavy: Limit{Rate: 2, Period: time.Second, Burst: 5},
	}
}

// Of returns the limit of class c.
func (c Config) Of(class Class) Limit {
	switch class {
	case Read:
		return c.Read
	case Heavy:
		return c.Heavy
	default:
		return c.Write
	}
}

// Validate reports a limit that cannot be enforced.
func (c Config) Validate() error {
	for _, class := range []Class{Read, Write, Heavy} {
		if err := c.Of(class).validate(); err != nil {
			return fmt.Errorf("ratelimit: %s limit %+v: %w", class, c.Of(class), err)
		}
	}
	return nil
}

const envFormat = "want RATE/PERIOD[,burst=N] with PERIOD s, m, h or a duration, e.g. 100/s,burst=200 or 6000/m"

// ConfigFromEnv reads VCCI_RATE_LIMIT_READ, VCCI_RATE_LIMIT_WRITE and
// VCCI_RATE_LIMIT_HEAVY ("100/s,burst=200", "6000/m", "50/10s"); an unset
// class keeps its default, and a burst left out equals the rate. A
// malformed value is an error naming the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	for _, v := range []struct {
		name  string
		limit *Limit
	}{
		{"VCCI_RATE_LIMIT_READ", &cfg.Read},
		{"VCCI_RATE_LIMIT_WRITE", &cfg.Write},
		{"VCCI_RATE_LIMIT_HEAVY", &cfg.Heavy},
	} {
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			continue
		}
		l, err := parseLimit(s)
		if err != nil {
			return Config{}, fmt.Errorf("ratelimit: %s=%q: %w (%s)", v.name, s, err, envFormat)
		}
		*v.limit = l
	}
	return cfg, nil
}

func parseLimit(s string) (Limit, error) {
	spec, opts, _ := strings.Cut(s, ",")
	rate, period, ok := strings.Cut(spec, "/")
	if !ok {
		return Limit{}, errors.New("no period")
	}
	var l Limit
	var err error
	if l.Rate, err = strconv.Atoi(strings.TrimSpace(rate)); err != nil {
		return Limit{}, fmt.Errorf("rate %q is not an integer", rate)
	}
	switch p := strings.TrimSpace(period); p {
	case "s":
		l.Period = time.Second
	case "m":
		l.Period = time.Minute
	case "h":
		l.Period = time.Hour
	default:
		if l.Period, err = time.ParseDuration(p); err != nil {
			return Limit{}, fmt.Errorf("period %q is not s, m, h or a duration", p)
		}
	}
	l.Burst = l.Rate
	if opts != "" {
		for opt := range strings.SplitSeq(opts, ",") {
			k, v, _ := strings.Cut(opt, "=")
			if strings.TrimSpace(k) != "burst" {
				return Limit{}, fmt.Errorf("unknown option %q", opt)
			}
			if l.Burst, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
				return Limit{}, fmt.Errorf("burst %q is not an integer", v)
			}
		}
	}
	if err := l.validate(); err != nil {
		return Limit{}, err
	}
	return l, nil
}
