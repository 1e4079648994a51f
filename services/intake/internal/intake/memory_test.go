package intake

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// memoryCase is an input that would take an unbounded validator's memory
// with it, and what validating it must end with.
type memoryCase struct {
	name                     string
	rows                     func(full bool) (*genReader, int64)
	read, accepted, rejected func(full bool) int64
	// ciPeak bounds the peak at the cut-down size, low enough that an
	// unbounded validator fails there too.
	ciPeak int64
}

// memoryLimit is what a worker's validation may peak at (resident set):
// the limit the issue sets, given to Go as GOMEMLIMIT too.
const memoryLimit = 1 << 30

func memoryCases() []memoryCase {
	size := func(full bool, big, small int64) int64 {
		if full {
			return big
		}
		return small
	}
	return []memoryCase{{
		name: "one quoted field",
		rows: func(full bool) (*genReader, int64) {
			n := size(full, 3<<29, 64<<20) // 1.5 GiB locally
			return oneFieldFile(n), n
		},
		read:     func(bool) int64 { return 2 },
		accepted: func(bool) int64 { return 1 },
		rejected: func(bool) int64 { return 1 },
		ciPeak:   48 << 20, // the field alone is 64 MiB
	}, {
		name: "tiny rows",
		rows: func(full bool) (*genReader, int64) {
			n := size(full, 40_000_000, 2_000_000)
			return rowsFile(n, func(b []byte, i int64) []byte {
				b = append(b, 'T')
				b = strconv.AppendInt(b, i, 36)
				return append(b, ",2024-01-01,S1,x,331110,1,USD,\n"...)
			}), n
		},
		read:     func(full bool) int64 { return size(full, 40_000_000, 2_000_000) },
		accepted: func(full bool) int64 { return size(full, 40_000_000, 2_000_000) },
		rejected: func(bool) int64 { return 0 },
		ciPeak:   400 << 20,
	}, {
		name: "rejected rows",
		rows: func(full bool) (*genReader, int64) {
			n := size(full, 10_000_000, 1_000_000)
			return rowsFile(n, func(b []byte, i int64) []byte {
				b = append(b, 'R')
				b = strconv.AppendInt(b, i, 36)
				return append(b, ",2024-01-01,S1,x,331110,not a number,USD,\n"...)
			}), n
		},
		read:     func(full bool) int64 { return size(full, 10_000_000, 1_000_000) },
		accepted: func(bool) int64 { return 0 },
		rejected: func(full bool) int64 { return size(full, 10_000_000, 1_000_000) },
		ciPeak:   160 << 20, // errors past MaxErrorsKept are counted, not kept
	}}
}

// Whatever the input, validation's memory stays under the limit and the
// file ends in row errors. Each case runs in a process of its own under
// GOMEMLIMIT, which reports its peak resident set; VCCI_MEMORY_FULL=1 runs
// the full sizes (a 1.5 GiB field, 40M rows, 10M rejected rows), else they
// are cut down for CI (make test-memory).
func TestValidationMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("generates hundreds of MB of CSV")
	}
	if raceEnabled {
		t.Skip("the race detector's memory would be measured too: run by make test-memory, without it")
	}
	for _, c := range memoryCases() {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestValidationMemoryChild$", "-test.v")
			cmd.Env = append(os.Environ(), "VCCI_MEMORY_CASE="+c.name, "GOMEMLIMIT="+strconv.Itoa(memoryLimit))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var got memoryReport
			_, line, _ := bytes.Cut(out, []byte("MEMORY "))
			line, _, _ = bytes.Cut(line, []byte("\n"))
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("child output: %v\n%s", err, out)
			}
			full := os.Getenv("VCCI_MEMORY_FULL") == "1"
			limit := int64(memoryLimit)
			if !full {
				limit = c.ciPeak
			}
			t.Logf("%s: %d MB of CSV, %d rows read, peak RSS %d MiB", c.name, got.Bytes>>20, got.Read, got.PeakRSS>>20)
			if got.PeakRSS <= 0 || got.PeakRSS >= limit || got.Read != c.read(full) || got.Accepted != c.accepted(full) ||
				got.Rejected != c.rejected(full) || got.Err != "" {
				t.Fatalf("%+v; want peak under %d MiB, %d read, %d accepted, %d rejected", got, limit>>20,
					c.read(full), c.accepted(full), c.rejected(full))
			}
		})
	}
}

type memoryReport struct {
	Bytes    int64  `json:"bytes"`
	Read     int64  `json:"read"`
	Accepted int64  `json:"accepted"`
	Rejected int64  `json:"rejected"`
	PeakRSS  int64  `json:"peak_rss"`
	Kept     int    `json:"kept"`
	Err      string `json:"err"`
}

// TestValidationMemoryChild is TestValidationMemoryIsBounded's child: it
// validates one case's file, generated as it is read, and prints a report.
func TestValidationMemoryChild(t *testing.T) {
	name := os.Getenv("VCCI_MEMORY_CASE")
	if name == "" {
		t.Skip("run by TestValidationMemoryIsBounded")
	}
	full := os.Getenv("VCCI_MEMORY_FULL") == "1"
	var r memoryReport
	for _, c := range memoryCases() {
		if c.name != name {
			continue
		}
		src, _ := c.rows(full)
		v, err := NewValidator(context.Background(), bufio.NewReaderSize(src, 1<<20), knownCodes{"331110": true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, ok := v.Next(); !ok {
				break
			}
		}
		if err := v.Err(); err != nil {
			r.Err = err.Error()
		}
		r.Bytes, r.Read, r.Accepted, r.Rejected, r.Kept = src.n, v.Read, v.Accepted, v.Rejected, len(v.Errors)
	}
	r.PeakRSS = peakRSS(t)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MEMORY %s", b)
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func peakRSS(t *testing.T) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// genReader produces a file as it is read, never holding it.
type genReader struct {
	next func(b []byte) ([]byte, bool) // appends the next piece; false at the end
	buf  []byte
	n    int64
	done bool
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.done {
			return 0, io.EOF
		}
		g.buf, g.done = g.buf[:0], false
		var more bool
		g.buf, more = g.next(g.buf)
		g.done = !more
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	g.n += int64(n)
	return n, nil
}

// rowsFile is the header and n rows, row i written by row.
func rowsFile(n int64, row func(b []byte, i int64) []byte) *genReader {
	var i int64
	scratch := make([]byte, 0, 1<<16)
	return &genReader{next: func([]byte) ([]byte, bool) {
		b := scratch[:0]
		if i == 0 {
			b = append(b, header...)
		}
		for ; i < n && len(b) < 60<<10; i++ {
			b = row(b, i)
		}
		return b, i < n
	}}
}

// oneFieldFile is a row whose description is one quoted field of n bytes,
// then one good row.
func oneFieldFile(n int64) *genReader {
	chunk := bytes.Repeat([]byte("x"), 1<<16)
	sent := int64(-1)
	return &genReader{next: func([]byte) ([]byte, bool) {
		switch {
		case sent < 0:
			sent = 0
			return []byte(header + "T1,2024-01-01,S1,x,331110,1,USD,\""), true
		case sent < n:
			k := min(int64(len(chunk)), n-sent)
			sent += k
			return chunk[:k], true
		default:
			return []byte("\"\nT2,2024-01-01,S1,x,331110,1,USD,\n"), false
		}
	}}
}
