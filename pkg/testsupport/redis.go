package testsupport

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a private redis-server child process on a free loopback port:
// a test can stop it mid-test without disturbing anyone else's.
type Redis struct {
	Addr string
	cmd  *exec.Cmd
	t    testing.TB
}

// StartRedis runs redis-server (no persistence) and waits until it answers;
// it is killed when the test ends. Under -short the test is skipped.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if testing.Short() {
		t.Skip("testsupport: -short skips the tests that need Redis")
	}
	l := listen(t)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Redis{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), t: t}
	t.Cleanup(s.Stop)
	s.Restart()
	return s
}

// Restart starts redis-server again on the address of a stopped s, as a
// Redis restarted in place (without its data) would come back, and waits
// until it answers.
func (s *Redis) Restart() {
	s.t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatalf("testsupport: redis-server not on PATH: %v", err)
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	// The test's context kills the server should the test end without Stop.
	s.cmd = exec.CommandContext(s.t.Context(), bin, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("testsupport: start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	WaitFor(s.t, "redis-server on "+s.Addr+" to answer", 10*time.Second, func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

// URL is the server's redis:// URL.
func (s *Redis) URL() string { return fmt.Sprintf("redis://%s/0", s.Addr) }

// Client returns a client for the server, closed when the test ends. Its
// short timeouts and lack of retries make a stopped server show at once.
func (s *Redis) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Stop kills the server (as a crash would) and waits for it to exit.
func (s *Redis) Stop() {
	if s.cmd == nil || s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	// Kill fails only for a process that is gone already, and Wait then
	// reports the kill: neither is news.
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}
