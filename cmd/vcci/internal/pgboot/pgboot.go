// Package pgboot finds a PostgreSQL for the local run command: DATABASE_URL;
// else a server on 127.0.0.1:5432; else a private cluster it creates under
// the project (initdb, pg_ctl) when the server binaries are installed.
package pgboot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Database is a PostgreSQL the platform can use.
type Database struct {
	URL  string
	Note string       // how it was found, for the start-up banner
	Stop func() error // stops a private cluster; nil otherwise
}

// Find returns a database named dbname, creating it if needed. dataDir is
// where a private cluster lives.
func Find(ctx context.Context, dbname, dataDir string) (Database, error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return Database{URL: u, Note: "DATABASE_URL"}, nil
	}
	if reachable(ctx, "127.0.0.1:5432") {
		admin := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		if err := ensureDB(ctx, admin, dbname); err != nil {
			return Database{}, fmt.Errorf("PostgreSQL on 127.0.0.1:5432 answered but: %w (set DATABASE_URL to a database you can use)", err)
		}
		return Database{URL: fmt.Sprintf("postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", dbname), Note: "PostgreSQL on 127.0.0.1:5432"}, nil
	}
	bin, err := ServerBin()
	if err != nil {
		return Database{}, fmt.Errorf("no PostgreSQL found: DATABASE_URL is unset, nothing answers on 127.0.0.1:5432, "+
			"and %w. Install them (Debian/Ubuntu: apt-get install postgresql; "+
			"macOS: brew install postgresql@15) or set DATABASE_URL=postgres://user@host:5432/vcci", err)
	}
	return private(ctx, bin, dbname, dataDir)
}

func reachable(ctx context.Context, addr string) bool {
	dialer := net.Dialer{Timeout: 500 * time.Millisecond}
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func ensureDB(ctx context.Context, adminURL, dbname string) error {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, dbname).Scan(&exists); err != nil {
		return fmt.Errorf("looking for database %s: %w", dbname, err)
	}
	if !exists {
		if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dbname}.Sanitize()); err != nil {
			return fmt.Errorf("creating database %s: %w", dbname, err)
		}
	}
	return nil
}

// ServerBin finds initdb and pg_ctl: on PATH, or Debian's versioned folder.
func ServerBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Sort(dirs)
	for _, dir := range slices.Backward(dirs) {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
}

func private(ctx context.Context, bin, dbname, dataDir string) (Database, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Database{}, fmt.Errorf("private cluster: %w", err)
	}
	abs, _ := filepath.Abs(dataDir)
	// PostgreSQL refuses to run as root: as root, run it as the postgres user.
	command := func(name string, args ...string) *exec.Cmd {
		if os.Geteuid() == 0 {
			return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
		}
		return exec.CommandContext(ctx, name, args...)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return Database{}, errors.New("a private cluster cannot run as root and there is no postgres user: run as a normal user, or set DATABASE_URL")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(abs, uid, gid); err != nil {
			return Database{}, fmt.Errorf("private cluster: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(abs, "PG_VERSION")); err != nil {
		cmd := command(filepath.Join(bin, "initdb"), "-D", abs, "-U", "postgres", "--auth=trust", "-E", "UTF8")
		if out, err := cmd.CombinedOutput(); err != nil {
			return Database{}, fmt.Errorf("initdb: %w: %s", err, out)
		}
	}
	port, err := freePort(ctx)
	if err != nil {
		return Database{}, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", port, abs)
	cmd := command(filepath.Join(bin, "pg_ctl"), "-D", abs, "-l", filepath.Join(abs, "server.log"), "-o", opts, "-w", "start")
	if out, err := cmd.CombinedOutput(); err != nil {
		return Database{}, fmt.Errorf("pg_ctl start: %w: %s", err, out)
	}
	stop := func() error {
		// Stopping comes once ctx is done: it has a deadline of its own.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		args := []string{filepath.Join(bin, "pg_ctl"), "-D", abs, "-m", "fast", "stop"}
		if os.Geteuid() == 0 {
			args = append([]string{"runuser", "-u", "postgres", "--"}, args...)
		}
		if err := exec.CommandContext(stopCtx, args[0], args[1:]...).Run(); err != nil {
			return fmt.Errorf("pg_ctl stop: %w", err)
		}
		return nil
	}
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := ensureDB(ctx, admin, dbname); err != nil {
		return Database{}, errors.Join(err, stop())
	}
	return Database{
		URL:  fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, dbname),
		Note: "private cluster in " + abs + " (port " + strconv.Itoa(port) + ")",
		Stop: stop,
	}, nil
}

func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
