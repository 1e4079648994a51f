package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
)

// One bad byte in a file is its row's error; every other row is stored,
// on both of the store's paths. PostgreSQL's text holds neither a NUL byte
// nor an invalid UTF-8 sequence, so an unchecked one would fail the
// statement that stores the rows, and with it the whole file. Line 10 is in
// the sample that the first look at a file (intake.Sniff) reads.
func TestOneBadByteRejectsOnlyItsRow(t *testing.T) {
	for _, p := range paths {
		for _, bad := range []badByte{
			{"nul", "\x00", 3000, "contains a NUL byte (0x00) at byte 5 of the field"},
			{"invalid utf-8", "\xe9", 3000, "not valid UTF-8 text at byte 5 of the field (the file must be UTF-8)"},
			{"nul early", "\x00", 10, "contains a NUL byte (0x00) at byte 5 of the field"},
		} {
			t.Run(p.Name+"/"+bad.name, func(t *testing.T) { oneBadByte(t, setupPath(t, p.Small), bad) })
		}
	}
}

type badByte struct {
	name, b string
	line    int // the header is line 1
	reason  string
}

func oneBadByte(t *testing.T, e env, bad badByte) {
	const rows = 3200
	ctx := context.Background()
	file := spendFile(rows, bad.line, bad.b)
	if len(file) < 200<<10 {
		t.Fatalf("the file is %d bytes, want about 200 KB", len(file))
	}
	u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{Filename: "bad-byte.csv"}, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	intaketest.Drain(t, e.pool, newWorker(e, intake.WorkerOptions{Batch: 1000}))

	got, err := e.svc.Get(ctx, e.a, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != intake.Succeeded || got.Read != rows || got.Accepted != rows-1 || got.Rejected != 1 || got.Calculated != rows-1 {
		t.Fatalf("upload = %+v", got)
	}
	var stored int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.transactions WHERE upload_id = $1`, u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != rows-1 {
		t.Fatalf("stored %d rows, want %d", stored, rows-1)
	}
	page, err := e.svc.Errors(ctx, e.a, u.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	errs, total := page.Errors, page.Total
	if total != 1 || errs[0].Row != int64(bad.line) || errs[0].Column != "supplier_name" || errs[0].Reason != bad.reason ||
		errs[0].Value != fmt.Sprintf("Supp\ufffdlier %03d", bad.line%500) {
		t.Fatalf("errors (%d) = %+v", total, errs)
	}
}

// spendFile is a file of rows lines after the header, each supplier name
// "Supplier NNN" with NNN the line modulo 500, and bad inserted into the
// name on line badLine.
func spendFile(rows, badLine int, bad string) string {
	var b strings.Builder
	b.WriteString("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n")
	for i := 2; i <= rows+1; i++ {
		name := fmt.Sprintf("Supplier %03d", i%500)
		if i == badLine {
			name = name[:4] + bad + name[4:]
		}
		fmt.Fprintf(&b, "T%05d,2024-%02d-%02d,S%03d,%s,331110,%d.%02d,USD,purchase order %05d\n",
			i, i%12+1, i%28+1, i%500, name, i, i%100, i)
	}
	return b.String()
}
