package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// calls records the uploads each calculator call carried, can fail the
// first call that carries several, and runs before, if set, first.
type calls struct {
	next      intake.Calculator
	mu        sync.Mutex
	uploads   [][]int64
	failBatch error
	before    func(rows []intake.Row)
}

func (c *calls) Calculate(ctx context.Context, upload int64, rows []intake.Row) (intake.Calculated, error) {
	if c.before != nil {
		c.before(rows)
	}
	var ups []int64
	for _, r := range rows {
		id := r.Upload
		if id == 0 {
			id = upload
		}
		if !slices.Contains(ups, id) {
			ups = append(ups, id)
		}
	}
	c.mu.Lock()
	c.uploads = append(c.uploads, ups)
	fail := c.failBatch
	if len(ups) < 2 {
		fail = nil
	} else {
		c.failBatch = nil
	}
	c.mu.Unlock()
	if fail != nil {
		return intake.Calculated{}, fail
	}
	return c.next.Calculate(ctx, upload, rows)
}

// sent is what c recorded, each call's uploads in id order (jobs join a
// batch in the order they begin).
func (c *calls) sent() [][]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]int64, len(c.uploads))
	for i, u := range c.uploads {
		out[i] = slices.Sorted(slices.Values(u))
	}
	return out
}

// four are files of a line each, suppliers S1 and S2, amounts 10 to 40.
func four() []string {
	var files []string
	for i := 1; i <= 4; i++ {
		files = append(files, fmt.Sprintf(header+"G%d,2024-03-0%d,S%d,Acme,331110,%d.00,USD,x\n", i, i, i%2+1, i*10))
	}
	return files
}

// whileTwoAreHeld sends two one-line uploads and holds their calculations
// (a replica runs two batches of a tenant at once), sends files and waits
// until their jobs have begun, then lets the first two go on. It returns
// the files' uploads.
func whileTwoAreHeld(t *testing.T, e env, c *calls, files []string) []int64 {
	t.Helper()
	ctx := context.Background()
	held, release := make(chan struct{}, 2), make(chan struct{})
	var releasing sync.Once
	t.Cleanup(func() { releasing.Do(func() { close(release) }) })
	c.before = func(rows []intake.Row) {
		if strings.HasPrefix(rows[0].TransactionID, "H") {
			held <- struct{}{}
			<-release
		}
	}
	w := intaketest.NewWorker(e.st, c, intake.WorkerOptions{})
	intaketest.Client(t, e.pool, w, store.ClientOptions{SmallWorkers: 8, LargeWorkers: 1})
	// One at a time, so that each begins a batch of its own.
	first := make([]int64, 0, 2)
	for i := range 2 {
		u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(fmt.Sprintf(header+"H%d,2024-03-01,S1,Acme,331110,1.00,USD,x\n", i)))
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, u.ID)
		<-held
	}
	ids := make([]int64, 0, len(files))
	for _, f := range files {
		u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	// Begin moves each to validating; then its job joins the batch.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.uploads WHERE id = ANY($1) AND state = $2`, ids, intake.Validating).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d uploads began", n, len(ids))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	releasing.Do(func() { close(release) })
	for _, id := range first {
		if got := intaketest.WaitState(t, e.svc, e.a, id, intake.Succeeded, 10*time.Second); got.Kg != "2.0000000" {
			t.Fatalf("uploads/%d = %+v", id, got)
		}
	}
	return ids
}

// checkFour checks that the four uploads succeeded, each with its own
// line's kg and its own upload.succeeded event, and that the suppliers'
// totals count each line once: S1 the first two uploads' lines and the
// lines of 20 and 40, S2 those of 10 and 30.
func checkFour(t *testing.T, e env, ids []int64) {
	t.Helper()
	for i, id := range ids {
		got := intaketest.WaitState(t, e.svc, e.a, id, intake.Succeeded, 10*time.Second)
		want := fmt.Sprintf("%d.0000000", (i+1)*20)
		if got.Kg != want || got.Calculated != 1 || got.Accepted != 1 {
			t.Errorf("uploads/%d = %s kg, %d accepted, %d calculated; want %s, 1, 1", id, got.Kg, got.Accepted, got.Calculated, want)
		}
		args, _, ok := eventJob(t, e, fmt.Sprintf("upload-%d-succeeded", id))
		var ev store.UploadEvent
		if ok {
			if err := json.Unmarshal(args.Data, &ev); err != nil {
				t.Fatal(err)
			}
		}
		if !ok || args.Tenant != e.a || ev.KgCO2e != want || ev.State != "SUCCEEDED" || ev.Upload != fmt.Sprintf("uploads/%d", id) {
			t.Errorf("uploads/%d's event = %+v %+v (found %v), want upload.succeeded of tenant a with its kg %s", id, args, ev, ok, want)
		}
	}
	rows, err := e.pool.Query(context.Background(), `SELECT supplier_id || ' ' || spend_usd || ' ' || kg_co2e || ' ' || tx_count
		FROM intake.supplier_totals WHERE tenant_id = $1 ORDER BY supplier_id`, e.a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"S1 62.0000 124.0000000 4", "S2 40.0000 80.0000000 2"}; !slices.Equal(got, want) {
		t.Fatalf("supplier totals = %q, want %q", got, want)
	}
	var stored int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM intake.transactions WHERE tenant_id = $1`, e.a).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 6 {
		t.Fatalf("%d transactions stored, want 6", stored)
	}
}

// Small uploads of a tenant whose jobs run while others of its uploads
// are being worked are validated, calculated and completed together: the
// four that began while the first two were held go to the calculator in
// one call, and each ends with its own figures.
func TestSmallUploadsOfATenantAreWorkedTogether(t *testing.T) {
	e := setup(t)
	c := &calls{next: e.calc}
	ids := whileTwoAreHeld(t, e, c, four())
	checkFour(t, e, ids)
	sent := c.sent()
	if len(sent) != 3 || len(sent[0]) != 1 || len(sent[1]) != 1 || !slices.Equal(sent[2], ids) {
		t.Fatalf("calculator calls carried uploads %v; want the first two alone, then %v together", sent, ids)
	}
}

// When a batch's calculation fails, each of its uploads goes on alone
// from where the batch left it (validated and stored): every one succeeds
// and every line is stored and counted once.
func TestABatchThatFailsGoesOnUploadByUpload(t *testing.T) {
	e := setup(t)
	c := &calls{next: e.calc, failBatch: errors.New("calculator fault")}
	ids := whileTwoAreHeld(t, e, c, four())
	checkFour(t, e, ids)
	sent := c.sent()
	if len(sent) != 7 || !slices.Equal(sent[2], ids) {
		t.Fatalf("calculator calls carried uploads %v; want the first two alone, the four failing together, then each alone", sent)
	}
	for _, s := range sent[3:] {
		if len(s) != 1 {
			t.Fatalf("calculator calls carried uploads %v; want each of the four alone after the batch failed", sent)
		}
	}
	if e.calc.Stored != 6 {
		t.Fatalf("the calculator stored %d lines, want 6", e.calc.Stored)
	}
}

// A file's faults stay its own in a batch: a refused header fails its
// upload alone, a bad row is rejected from its file alone, and the others
// are calculated together and succeed.
func TestABatchKeepsEachFilesFaultsToItself(t *testing.T) {
	e := setup(t)
	c := &calls{next: e.calc}
	ids := whileTwoAreHeld(t, e, c, []string{
		"transaction_id,date,supplier_id,naics_code,amount,currency\nB1,2024-03-01,S1,331110,5.00,USD\n",
		header + "B2,2024-03-02,S1,Acme,331110,7.00,USD,x\nB3,2024-03-02,S1,Acme,331110,seven,USD,x\n",
		header + "B4,2024-03-03,S2,Beta,331110,9.00,USD,x\n",
	})
	refused := intaketest.WaitState(t, e.svc, e.a, ids[0], intake.Failed, 10*time.Second)
	if !strings.Contains(refused.FailureReason, "missing supplier_name") || refused.Accepted != 0 {
		t.Errorf("the file without supplier_name = %q, %d accepted; want it refused for its header", refused.FailureReason, refused.Accepted)
	}
	bad := intaketest.WaitState(t, e.svc, e.a, ids[1], intake.Succeeded, 10*time.Second)
	if bad.Accepted != 1 || bad.Rejected != 1 || bad.Kg != "14.0000000" || len(bad.ErrorSamples) != 1 ||
		bad.ErrorSamples[0].Row != 3 || bad.ErrorSamples[0].Column != "amount" {
		t.Errorf("the file with a bad amount = %d accepted, %d rejected, %s kg, errors %+v; want 1, 1, 14 kg and line 3's amount",
			bad.Accepted, bad.Rejected, bad.Kg, bad.ErrorSamples)
	}
	if good := intaketest.WaitState(t, e.svc, e.a, ids[2], intake.Succeeded, 10*time.Second); good.Accepted != 1 || good.Kg != "18.0000000" {
		t.Errorf("the good file = %d accepted, %s kg; want 1, 18 kg", good.Accepted, good.Kg)
	}
	if sent := c.sent(); len(sent) != 3 || !slices.Equal(sent[2], ids[1:]) {
		t.Fatalf("calculator calls carried uploads %v; want the first two alone, then %v together", sent, ids[1:])
	}
}
