// Package intaketest has the stand-ins intake's tests share: a calculator
// and a factor library that answer without the calculator service, and a
// way to run the upload worker until it is idle.
package intaketest

import (
	"context"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// Codes is a factor library that knows every code but 999999: 48xxxx is
// upstream transport (category 4), the rest purchased goods (1).
type Codes struct{}

// Categories answers as the calculator's BatchGetFactors would.
func (Codes) Categories(_ context.Context, cs []string) (map[string]int16, error) {
	out := map[string]int16{}
	for _, c := range cs {
		switch {
		case c == "999999":
		case strings.HasPrefix(c, "48"):
			out[c] = 4
		default:
			out[c] = 1
		}
	}
	return out, nil
}

// Calc stands in for the calculator service: kg = amount * 2, by upload
// and supplier, and it can be told to fail.
type Calc struct {
	Mu    sync.Mutex
	Fail  error
	Calls int
	Seen  map[string]bool
}

// NewCalc returns a Calc that has seen nothing.
func NewCalc() *Calc { return &Calc{Seen: map[string]bool{}} }

func (f *Calc) Calculate(_ context.Context, upload int64, rows []intake.Row) (intake.Calculated, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Calls++
	if f.Fail != nil {
		return intake.Calculated{}, f.Fail
	}
	type tot struct {
		kg, spend big.Rat
		n         int64
	}
	type up struct {
		kg    big.Rat
		n     int64
		by    map[string]*tot
		order []string
	}
	ups := map[int64]*up{}
	var order []int64
	for _, r := range rows {
		id := r.Upload
		if id == 0 {
			id = upload
		}
		u := ups[id]
		if u == nil {
			u = &up{by: map[string]*tot{}}
			ups[id] = u
			order = append(order, id)
		}
		a, _ := new(big.Rat).SetString(r.Amount)
		kg := new(big.Rat).Mul(a, big.NewRat(2, 1))
		u.kg.Add(&u.kg, kg)
		u.n++
		t := u.by[r.SupplierID]
		if t == nil {
			t = &tot{}
			u.by[r.SupplierID] = t
			u.order = append(u.order, r.SupplierID)
		}
		t.kg.Add(&t.kg, kg)
		t.spend.Add(&t.spend, a)
		t.n++
		f.Seen[r.TransactionID] = true
	}
	var out intake.Calculated
	for _, id := range order {
		u := ups[id]
		ut := intake.UploadTotal{Upload: id, Count: u.n, Kg: u.kg.FloatString(7)}
		for _, sid := range u.order {
			t := u.by[sid]
			ut.Suppliers = append(ut.Suppliers, intake.SupplierTotal{ID: sid, Kg: t.kg.FloatString(7), Spend: t.spend.FloatString(4), Count: t.n})
		}
		out.Uploads = append(out.Uploads, ut)
	}
	return out, nil
}

// Drain runs the worker until no upload is claimable.
func Drain(t testing.TB, pool *pgxpool.Pool, w *intake.Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, 10*time.Millisecond); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var pending int
		// Work is left while an upload is unfinished and not waiting out a retry backoff.
		pool.QueryRow(context.Background(), `SELECT count(*) FROM intake.uploads
			WHERE state IN (1, 2, 3) AND NOT (failure_reason LIKE 'last attempt:%' AND lease_until > now())`).Scan(&pending)
		if pending == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
