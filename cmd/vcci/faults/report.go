package faults

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Row is one case's line of the table.
type Row struct {
	Fault          string
	Sent, Failed   int // requests sent by the load loop outside the fault's window, and those that failed
	FailedInWindow int // failures inside the window, reported apart
	InWindow       int
	Lost, Dup      int64
	Recovery       time.Duration
	Note           string
}

// Table collects the rows of a run.
type Table struct {
	mu   sync.Mutex
	rows []Row
}

// Add appends a row.
func (t *Table) Add(r Row) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows = append(t.rows, r)
}

// Print writes the table as Markdown.
func (t *Table) Print(w io.Writer, title string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(w, "\n%s\n\n", title)
	fmt.Fprintln(w, "| fault | requests sent | failed | rows lost | rows duplicated | recovery time |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range t.rows {
		failed := strconv.Itoa(r.Failed)
		if r.InWindow > 0 {
			failed += fmt.Sprintf(" (in the window: %d of %d)", r.FailedInWindow, r.InWindow)
		}
		fault := r.Fault
		if r.Note != "" {
			fault += " (" + r.Note + ")"
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", fault, r.Sent, failed, dash(r.Lost), dash(r.Dup), r.Recovery.Round(100*time.Millisecond))
	}
	fmt.Fprintln(w)
}

// dash prints a row count, or - where a case stores no rows.
func dash(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}
