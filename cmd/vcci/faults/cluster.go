// Package faults runs the platform's own binaries as separate processes
// against a PostgreSQL cluster and a Redis of its own, breaks one thing at
// a time and checks what the platform does about it. The cases are in
// faults_test.go (build tag faults, make test-faults); this file and its
// siblings are the harness.
package faults

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/pgboot"
)

// Cluster is a private PostgreSQL cluster made with initdb and run with
// pg_ctl on a free port, so that a case may restart it without disturbing
// anything else on the machine.
type Cluster struct {
	Dir  string // data directory, removed when the test ends
	Port int
	bin  string
	t    testing.TB
}

// StartCluster creates and starts a cluster; it is stopped and its
// directory removed when t ends. The test is skipped when the server
// binaries are not installed.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, err := pgboot.ServerBin()
	if err != nil {
		t.Skip(err)
	}
	// Not t.TempDir: its parent is private to this user, and as root the
	// cluster runs as postgres.
	dir, err := os.MkdirTemp("", "vcci-faults-pg-") //nolint:usetesting // see above
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir, bin: bin, t: t}
	t.Cleanup(func() {
		// Best effort: a failed case may have left it stopped.
		_, _ = c.pgctl(context.Background(), "-m", "immediate", "stop")
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove the cluster's directory: %v", err)
		}
	})
	// PostgreSQL refuses to run as root: as root, the cluster belongs to
	// the postgres user.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and there is no postgres user to run the cluster as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := c.command(ctx, "initdb", "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	if c.Port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	// Durability across a crash of the machine is not what the cases
	// test, so the cluster skips fsync; a fast restart is still clean.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off "+
		"-c synchronous_commit=off -c full_page_writes=off", c.Port, dir)
	if out, err := c.pgctl(ctx, "-o", opts, "-w", "-t", "60", "start"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return c
}

// command runs one of the server's programs, as the postgres user when
// this process is root.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	prog := filepath.Join(c.bin, name)
	if os.Geteuid() == 0 {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	}
	return exec.CommandContext(ctx, prog, args...)
}

func (c *Cluster) pgctl(ctx context.Context, args ...string) ([]byte, error) {
	args = append([]string{"-D", c.Dir, "-l", filepath.Join(c.Dir, "server.log")}, args...)
	out, err := c.command(ctx, "pg_ctl", args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("pg_ctl %s: %w", args[len(args)-1], err)
	}
	return out, nil
}

// Restart restarts the cluster with pg_ctl restart -m fast (every session
// is ended) and returns once it accepts connections again.
func (c *Cluster) Restart(ctx context.Context) error {
	if out, err := c.pgctl(ctx, "-m", "fast", "-w", "-t", "60", "restart"); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// URL is the URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, name)
}

// NewDatabase creates an empty database and returns its URL.
func (c *Cluster) NewDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("connect to the cluster: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return c.URL(name), nil
}

// freePort returns a loopback port free now.
func freePort() (int, error) {
	addrs, err := FreeAddrs(1)
	if err != nil {
		return 0, err
	}
	_, port, _ := net.SplitHostPort(addrs[0])
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0, fmt.Errorf("port of %s: %w", addrs[0], err)
	}
	return n, nil
}

// FreeAddrs returns n loopback addresses free now and distinct from each
// other: every port stays bound until all are chosen, since one closed
// early may be handed out again.
func FreeAddrs(n int) ([]string, error) {
	out := make([]string, 0, n)
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var lc net.ListenConfig
	for range n {
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}
