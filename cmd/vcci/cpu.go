package main

import (
	"bytes"
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
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime is field 14, stime 15.
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || close < open {
			continue
		}
		comm := string(b[open+1 : close])
		f := strings.Fields(string(b[close+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
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
	names := make([]string, 0, len(use))
	var total float64
	for k, v := range use {
		names = append(names, k)
		total += v
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case use[a] > use[b]:
			return -1
		case use[a] < use[b]:
			return 1
		}
		return strings.Compare(a, b)
	})
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
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(d.pprof))
	for name, addr := range d.pprof {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(dur.Seconds()))
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- fmt.Errorf("profile %s: %w", name, err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			if _, err := io.Copy(f, resp.Body); err != nil {
				errs <- fmt.Errorf("profile %s: %w", name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
