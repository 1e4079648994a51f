package testsupport

import (
	"bytes"
	"sync"
)

// LogBuffer collects log lines written from any goroutine (a logger's
// io.Writer) for a test to read back.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, _ := l.b.Write(p) // a bytes.Buffer grows, or panics; it never fails
	return n, nil
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
