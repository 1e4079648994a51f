package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The services a case stops by name.
const (
	Intake     = "intake"
	Calculator = "calculator"
)

// Services are the five services, in the order they are started (the
// calculator first: intake checks codes with it).
var Services = []string{Calculator, Intake, "hotspot", "engagement", "reporting"}

// Options shape a Platform.
type Options struct {
	Bin         string   // folder of the built deployables (make build)
	DatabaseURL string   // every service's DATABASE_URL
	RedisURL    string   // REDIS_URL; empty: none (REDIS_URL points at a closed port)
	Env         []string // more variables, for every process
	// IntakeReplicas is how many intake processes share the work (default
	// 1); the others reach them through one balancer address.
	IntakeReplicas int
}

// Platform is every deployable as its own process, started from the built
// binaries. Intake's replicas sit behind a Balancer, as behind a
// Kubernetes Service.
type Platform struct {
	HTTPURL string            // the gateway
	Addrs   map[string]string // process name -> its gRPC (gateway: HTTP) address
	Intake  *Balancer
	env     []string
	bin     string
	logDir  string
	mu      sync.Mutex
	procs   map[string]*Proc
	t       testing.TB
}

// Proc is one running deployable.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's, once done is closed
}

// IntakeName is the process name of intake replica i: intake, intake-2, ...
func IntakeName(i int) string {
	if i == 0 {
		return Intake
	}
	return fmt.Sprintf("intake-%d", i+1)
}

// StartPlatform starts every deployable and waits until the gateway reports
// every service ready. Every process is killed when t ends.
func StartPlatform(t testing.TB, o Options) *Platform {
	t.Helper()
	if o.IntakeReplicas <= 0 {
		o.IntakeReplicas = 1
	}
	names := slices.Clone(Services)
	for i := 1; i < o.IntakeReplicas; i++ {
		names = append(names, IntakeName(i))
	}
	names = append(names, "gateway", "balancer", "no-redis")
	free, err := FreeAddrs(len(names))
	if err != nil {
		t.Fatal(err)
	}
	p := &Platform{Addrs: map[string]string{}, procs: map[string]*Proc{}, bin: o.Bin, logDir: t.TempDir(), t: t}
	for i, name := range names {
		p.Addrs[name] = free[i]
	}
	p.HTTPURL = "http://" + p.Addrs["gateway"]
	replicas := make([]string, o.IntakeReplicas)
	for i := range replicas {
		replicas[i] = p.Addrs[IntakeName(i)]
	}
	if p.Intake, err = StartBalancer(p.Addrs["balancer"], replicas); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Intake.Close)
	redisURL := o.RedisURL
	if redisURL == "" {
		redisURL = "redis://" + p.Addrs["no-redis"] + "/0"
	}
	p.env = append(os.Environ(), "DATABASE_URL="+o.DatabaseURL, "REDIS_URL="+redisURL, "METRICS_ADDR=off", "LOG_LEVEL=info",
		"PPROF_ADDR=", "OTEL_EXPORTER_OTLP_ENDPOINT=", "HTTP_ADDR="+p.Addrs["gateway"],
		// The load loops send more than one key's default budget.
		"VCCI_RATE_LIMIT_READ=100000/s,burst=100000", "VCCI_RATE_LIMIT_WRITE=100000/s,burst=100000",
		"VCCI_RATE_LIMIT_HEAVY=100000/s,burst=100000")
	for _, name := range Services {
		addr := p.Addrs[name]
		if name == Intake {
			addr = p.Intake.Addr
		}
		p.env = append(p.env, strings.ToUpper(name)+"_ADDR="+addr)
	}
	p.env = append(p.env, o.Env...)
	t.Cleanup(p.killAll)
	for _, name := range names[:len(names)-2] {
		if _, err := p.Start(name); err != nil {
			t.Fatal(err)
		}
		if name == Calculator {
			// It loads the factor library that intake's migrations wait on.
			if err := p.WaitServing(context.Background(), name, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := p.WaitReady(context.Background(), "", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	return p
}

// exited names a process that has stopped, with the end of its log.
func (p *Platform) exited() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, proc := range p.procs {
		select {
		case <-proc.done:
			log := p.Log(name)
			log = log[max(0, len(log)-2000):]
			return fmt.Errorf("%s exited (%w):\n%s", name, proc.err, log)
		default:
		}
	}
	return nil
}

// Start starts the deployable name (an intake replica runs bin/intake).
func (p *Platform) Start(name string) (*Proc, error) {
	bin := name
	if strings.HasPrefix(name, Intake) {
		bin = Intake
	}
	cmd := exec.CommandContext(context.Background(), filepath.Join(p.bin, bin))
	cmd.Env = append(slices.Clip(p.env), "GRPC_ADDR="+p.Addrs[name])
	logf, err := os.OpenFile(filepath.Join(p.logDir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (build it with make build): %w", name, err)
	}
	proc := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		proc.err = cmd.Wait()
		logf.Close()
		close(proc.done)
	}()
	p.mu.Lock()
	p.procs[name] = proc
	p.mu.Unlock()
	return proc, nil
}

// Proc returns the running process name, or nil.
func (p *Platform) Proc(name string) *Proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.procs[name]
}

// Kill sends SIGKILL to name and waits for it to exit.
func (p *Platform) Kill(name string) { p.Signal(name, syscall.SIGKILL) }

// Signal sends sig to name; after SIGKILL it waits for the exit.
func (p *Platform) Signal(name string, sig syscall.Signal) {
	proc := p.Proc(name)
	if proc == nil {
		return
	}
	if err := proc.cmd.Process.Signal(sig); err != nil {
		return // it has exited already
	}
	if sig == syscall.SIGKILL {
		<-proc.done
	}
}

// Done is closed when the process exits.
func (pr *Proc) Done() <-chan struct{} { return pr.done }

// Err is the process's exit error, once Done is closed.
func (pr *Proc) Err() error { return pr.err }

// Log returns what the deployable name has logged so far.
func (p *Platform) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(p.logDir, name+".log"))
	return string(b)
}

// DumpLogs writes every log into the test's output: called when a case
// failed, so that the failure can be read without the processes.
func (p *Platform) DumpLogs() {
	entries, _ := os.ReadDir(p.logDir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(p.logDir, e.Name()))
		const tail = 6000
		if len(b) > tail {
			b = b[len(b)-tail:]
		}
		p.t.Logf("---- %s (last %d bytes)\n%s", e.Name(), len(b), b)
	}
}

func (p *Platform) killAll() {
	if p.t.Failed() {
		p.DumpLogs()
	}
	p.mu.Lock()
	procs := p.procs
	p.procs = map[string]*Proc{}
	p.mu.Unlock()
	for _, proc := range procs {
		_ = proc.cmd.Process.Kill() // fails only for one that has exited
	}
	for _, proc := range procs {
		<-proc.done
	}
}

// WaitServing waits until name accepts TCP connections on its address.
func (p *Platform) WaitServing(ctx context.Context, name string, within time.Duration) error {
	var gone error
	err := poll(ctx, within, "listening: "+name, func() bool {
		if gone = p.exited(); gone != nil {
			return true
		}
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		c, err := d.DialContext(ctx, "tcp", p.Addrs[name])
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	return gone
}

// WaitReady waits until the gateway's /readyz (with a group:
// /readyz/<group>) answers 200.
func (p *Platform) WaitReady(ctx context.Context, group string, within time.Duration) error {
	url := p.HTTPURL + "/readyz"
	if group != "" {
		url += "/" + group
	}
	var last string
	var gone error
	err := poll(ctx, within, url, func() bool {
		if gone = p.exited(); gone != nil {
			return true
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		if err != nil {
			last = err.Error()
			return false
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err.Error()
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = resp.Status + " " + string(b)
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return fmt.Errorf("%w (last answer: %s)", err, last)
	}
	return gone
}

// poll checks cond every 100 ms until it holds or within passes.
func poll(ctx context.Context, within time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out after " + within.String() + " waiting for " + what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// Balancer spreads TCP connections over backends, round robin, skipping
// one that refuses a connection: what a Kubernetes Service does for the
// replicas of a deployment.
type Balancer struct {
	Addr     string
	backends []string
	l        net.Listener
	mu       sync.Mutex
	next     int
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// StartBalancer listens on addr and forwards to backends.
func StartBalancer(addr string, backends []string) (*Balancer, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("balancer: %w", err)
	}
	b := &Balancer{Addr: addr, backends: backends, l: l, conns: map[net.Conn]struct{}{}}
	b.wg.Go(b.accept)
	return b, nil
}

func (b *Balancer) accept() {
	for {
		c, err := b.l.Accept()
		if err != nil {
			return
		}
		b.wg.Go(func() { b.forward(c) })
	}
}

func (b *Balancer) forward(c net.Conn) {
	defer c.Close()
	b.mu.Lock()
	start := b.next
	b.next++
	b.mu.Unlock()
	var up net.Conn
	for i := range b.backends {
		var err error
		d := net.Dialer{Timeout: time.Second}
		if up, err = d.DialContext(context.Background(), "tcp", b.backends[(start+i)%len(b.backends)]); err == nil {
			break
		}
	}
	if up == nil {
		return
	}
	defer up.Close()
	if !b.track(c, up) {
		return
	}
	defer b.untrack(c, up)
	done := make(chan struct{}, 2)
	// Either side's end is passed on, and each copy ends with its side.
	pipe := func(to, from net.Conn) {
		_, _ = io.Copy(to, from)
		_ = to.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

func (b *Balancer) track(cs ...net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil {
		return false
	}
	for _, c := range cs {
		b.conns[c] = struct{}{}
	}
	return true
}

func (b *Balancer) untrack(cs ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range cs {
		delete(b.conns, c)
	}
}

// Close stops listening and cuts every forwarded connection.
func (b *Balancer) Close() {
	b.l.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.conns = nil
	b.mu.Unlock()
	b.wg.Wait()
}
