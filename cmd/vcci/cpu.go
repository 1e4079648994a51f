package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/loadgen"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux this runs on.
const clockTicks = 100

// cpuSample is CPU seconds used so far, by process group: each deployable by
// pid, PostgreSQL and Redis by command name (every backend counts), and this
// process (the load generator).
type cpuSample map[string]float64

// sampleCPU reads /proc. Processes that come and go between two samples
// (PostgreSQL backends) count for what they used while seen.
func sampleCPU(d *deployables) cpuSample {
	s := cpuSample{}
	byPid := map[int]string{os.Getpid(): "load generator"}
	for name, p := range d.procs {
		byPid[p.Process.Pid] = name
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime is field 14, stime 15.
		lp, rp := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if lp < 0 || rp < lp {
			continue
		}
		comm := string(b[lp+1 : rp])
		f := strings.Fields(string(b[rp+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		if comm == "postgres" {
			// The postmaster's cutime and cstime hold the CPU of the
			// backends it has reaped, so that a backend exiting between
			// two samples does not take its CPU with it.
			cut, _ := strconv.ParseFloat(f[13], 64)
			cst, _ := strconv.ParseFloat(f[14], 64)
			ut, st = ut+cut, st+cst
		}
		name, ok := byPid[pid]
		switch {
		case ok:
		case comm == "postgres":
			name = "postgresql"
		case strings.HasPrefix(comm, "redis-server"):
			name = "redis"
		default:
			name = "other"
		}
		s[name] += (ut + st) / clockTicks
	}
	return s
}

// cpuUse is CPU seconds used per group between two samples; a group whose
// counter went down (backends that exited) is clamped at zero.
func cpuUse(before, after cpuSample) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// cpuLine is the CPU use as "name x.xx s (y%)" by descending use, with the
// total and the share of the machine's cores used over elapsed.
func cpuLine(use map[string]float64, elapsed time.Duration, cores int) string {
	names, total := byUse(use)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.1f s (%.0f%%)", n, use[n], 100*use[n]/total)
	}
	return fmt.Sprintf("%.1f CPU s over %.0f s (%.0f%% of %d cores): %s", total, elapsed.Seconds(),
		100*total/elapsed.Seconds()/float64(cores), cores, strings.Join(parts, ", "))
}

// profileCPU fetches a CPU profile of dur from every deployable that serves
// pprof, into dir/<name>.cpu.pprof, concurrently; it returns when all are in.
func profileCPU(ctx context.Context, d *deployables, dir string, dur time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(d.pprof))
	for name, addr := range d.pprof {
		wg.Go(func() {
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(dur.Seconds()))
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- fmt.Errorf("profile %s: %w", name, err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
			if err != nil {
				errs <- fmt.Errorf("profile %s: %w", name, err)
				return
			}
			defer f.Close()
			if _, err := io.Copy(f, resp.Body); err != nil {
				errs <- fmt.Errorf("profile %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// studyLine is one -study mix: its rate, errors, p95, and the CPU each
// process spent per completed request, largest first.
func studyLine(spec string, r loadgen.Result, use map[string]float64) string {
	n := float64(max(r.Total.Requests, 1))
	names, total := byUse(use)
	parts := make([]string, 0, len(names))
	for _, k := range names {
		if ms := 1000 * use[k] / n; ms >= 0.005 {
			parts = append(parts, fmt.Sprintf("%s %.3f", k, ms))
		}
	}
	return fmt.Sprintf("- %s: %.0f rps, %d errors, p95 %s; %.3f ms CPU/request: %s", spec, r.Total.RPS, r.Total.Errors,
		fmtMS(ms(r.Total.Percentile(95))), 1000*total/n, strings.Join(parts, ", "))
}

// byUse is use's process names by descending CPU (then by name), and the
// total.
func byUse(use map[string]float64) ([]string, float64) {
	names := make([]string, 0, len(use))
	var total float64
	for k, v := range use {
		names = append(names, k)
		total += v
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(use[b], use[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return names, total
}
