package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/spendgen"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	calculator "github.com/vcci-dev/vcci/services/calculator/server"
)

// SpendFile writes a spend file of rows lines into dir whose transaction
// ids are prefix followed by 1..rows on nine digits (spendgen's ids start
// with T): files with other prefixes can be uploaded by one tenant without
// their ids colliding.
func SpendFile(dir string, rows int, prefix byte) (string, error) {
	codes, err := calculator.FactorCodes()
	if err != nil {
		return "", fmt.Errorf("factor codes: %w", err)
	}
	var buf bytes.Buffer
	if _, err := spendgen.Write(&buf, spendgen.Options{Rows: rows, Codes: codes}); err != nil {
		return "", fmt.Errorf("spendgen: %w", err)
	}
	b := buf.Bytes()
	for i := len(spendgen.Header); i < len(b); {
		b[i] = prefix
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			break
		}
		i += nl + 1
	}
	file := filepath.Join(dir, fmt.Sprintf("spend-%d-%c.csv", rows, prefix))
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", file, err)
	}
	return file, nil
}

// Client calls the gateway with one tenant's API key.
type Client struct {
	URL  string
	Key  string
	HTTP *http.Client
}

// NewTenant creates a tenant and a key for it in the platform's database.
func NewTenant(ctx context.Context, dbURL, baseURL, name string) (*Client, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	tenant, err := tenancy.EnsureTenant(ctx, pool, name)
	if err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	key, err := tenancy.IssueKey(ctx, pool, tenant, name)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	return &Client{URL: baseURL, Key: key, HTTP: &http.Client{Timeout: time.Minute}}, nil
}

// Do sends a request and returns the status and body; an error is a
// request that got no answer.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("x-api-key", c.Key)
	if body != nil {
		req.Header.Set("Content-Type", "text/csv")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, b, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// Upload is an upload as the REST API shows it.
type Upload struct {
	Name           string `json:"name"`
	State          string `json:"state"`
	RowsAccepted   string `json:"rowsAccepted"`
	RowsRejected   string `json:"rowsRejected"`
	RowsCalculated string `json:"rowsCalculated"`
	KgCo2e         string `json:"kgCo2e"`
	FailureReason  string `json:"failureReason"`
}

// ID is the upload's number.
func (u Upload) ID() int64 {
	id, _ := strconv.ParseInt(strings.TrimPrefix(u.Name, "uploads/"), 10, 64)
	return id
}

// Upload posts file and returns the upload the gateway answered with.
func (c *Client) Upload(ctx context.Context, file string) (Upload, error) {
	f, err := os.Open(file)
	if err != nil {
		return Upload{}, fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	code, body, err := c.Do(ctx, http.MethodPost, "/v1/uploads?filename="+filepath.Base(file), bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return Upload{}, fmt.Errorf("upload %s: %w", file, err)
	}
	if code != http.StatusAccepted {
		return Upload{}, fmt.Errorf("upload %s: %d %s", file, code, body)
	}
	return decodeUpload(body)
}

// Get reads an upload.
func (c *Client) Get(ctx context.Context, name string) (Upload, error) {
	code, body, err := c.Do(ctx, http.MethodGet, "/v1/"+name, nil)
	if err != nil {
		return Upload{}, err
	}
	if code != http.StatusOK {
		return Upload{}, fmt.Errorf("get %s: %d %s", name, code, body)
	}
	return decodeUpload(body)
}

func decodeUpload(body []byte) (Upload, error) {
	var u Upload
	if err := json.Unmarshal(body, &u); err != nil {
		return Upload{}, fmt.Errorf("an upload's JSON: %w: %s", err, body)
	}
	return u, nil
}

// WaitState polls an upload until pred holds, it fails, or within passes;
// errors of single polls (a service restarting) are retried.
func (c *Client) WaitState(ctx context.Context, name string, within time.Duration, pred func(Upload) bool) (Upload, error) {
	var u Upload
	var lastErr error
	err := poll(ctx, within, name, func() bool {
		got, err := c.Get(ctx, name)
		if err != nil {
			lastErr = err
			return false
		}
		u = got
		return pred(u) || u.State == "UPLOAD_STATE_FAILED"
	})
	if err != nil {
		return u, fmt.Errorf("%w: last seen %+v, last error %w", err, u, lastErr)
	}
	if u.State == "UPLOAD_STATE_FAILED" && !pred(u) {
		return u, fmt.Errorf("%s failed: %s", name, u.FailureReason)
	}
	return u, nil
}

// Succeeded reports whether u is done.
func Succeeded(u Upload) bool { return u.State == "UPLOAD_STATE_SUCCEEDED" }

// Routes are GET routes of every service, by the group the gateway serves
// them in.
var Routes = map[string][]string{
	Intake:       {"/v1/uploads?page_size=5", "/v1/suppliers?page_size=5", "/v1/transactions?page_size=5"},
	Calculator:   {"/v1/factorSets", "/v1/emissionResults:summarize?group_by=SUMMARY_DIMENSION_CATEGORY"},
	"hotspot":    {"/v1/hotspots/supplierPareto?top_n=5"},
	"engagement": {"/v1/campaigns?page_size=5"},
	"reporting":  {"/v1/dashboard", "/v1/inventory/summary?top_n=5"},
}

// Result is one request of a Load.
type Result struct {
	At     time.Time // when it was sent
	Route  string
	Status int   // 0: no answer
	Err    error // transport error
	Took   time.Duration
}

// OK reports whether the request was answered with a 2xx.
func (r Result) OK() bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

// Load sends GET requests over routes from a few workers until stopped.
type Load struct {
	mu      sync.Mutex
	results []Result
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// StartLoad starts workers sending routes in turn, each pausing pause
// between requests.
func StartLoad(ctx context.Context, c *Client, routes []string, workers int, pause time.Duration) *Load {
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{cancel: cancel}
	for w := range workers {
		l.wg.Go(func() {
			for i := w; ctx.Err() == nil; i++ {
				route := routes[i%len(routes)]
				r := Result{At: time.Now(), Route: route}
				rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
				r.Status, _, r.Err = c.Do(rctx, http.MethodGet, route, nil)
				r.Took = time.Since(r.At)
				rcancel()
				if ctx.Err() != nil && r.Err != nil {
					return // cut by Stop, not failed
				}
				l.mu.Lock()
				l.results = append(l.results, r)
				l.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		})
	}
	return l
}

// Stop stops the workers and returns every request's result.
func (l *Load) Stop() []Result {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.results
}

// Window is a span of time in which a fault was in effect.
type Window struct{ From, To time.Time }

// Has reports whether t falls in the window.
func (w Window) Has(t time.Time) bool { return !t.Before(w.From) && !t.After(w.To) }

// Tally counts requests sent and failed, in and out of the windows.
type Tally struct {
	Sent, Failed             int
	InWindow, FailedInWindow int
	Samples                  []string // a few failures, for the log
	Slowest                  time.Duration
}

// Count tallies results against windows.
func Count(results []Result, windows ...Window) Tally {
	var t Tally
	for _, r := range results {
		t.Slowest = max(t.Slowest, r.Took)
		in := false
		for _, w := range windows {
			in = in || w.Has(r.At)
		}
		if in {
			t.InWindow++
		} else {
			t.Sent++
		}
		if r.OK() {
			continue
		}
		if in {
			t.FailedInWindow++
		} else {
			t.Failed++
		}
		if len(t.Samples) < 5 {
			t.Samples = append(t.Samples, fmt.Sprintf("%s %s: %d %v", r.At.Format("15:04:05.000"), r.Route, r.Status, r.Err))
		}
	}
	return t
}

// Stored is what the database holds of one upload.
type Stored struct {
	Accepted, Calculated int64 // the upload's own counts
	Rows, DistinctIDs    int64 // intake.transactions
	Expected             int64 // stored ids that are among the file's
	Results              int64 // calculator.emission_results
	IntakeKg, ResultsKg  string
	IntakeSpend          string
	ResultsSpend         string
	// KgEqual and SpendEqual compare the totals as numbers.
	KgEqual, SpendEqual bool
}

// Lost is how many of the file's rows are not stored.
func (s Stored) Lost(rows int64) int64 { return rows - s.Expected }

// Duplicated is how many rows are stored more than once.
func (s Stored) Duplicated() int64 { return s.Rows - s.DistinctIDs }

// ReadStored reads an upload's rows and results with SQL, as the
// superuser the cluster's tables do not hide rows from. The file's ids are
// prefix followed by 1..rows.
func ReadStored(ctx context.Context, dbURL string, upload int64, prefix byte, rows int) (Stored, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return Stored{}, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	var s Stored
	err = conn.QueryRow(ctx, `
		SELECT u.rows_accepted, u.rows_calculated, coalesce(u.kg_co2e, 0)::text,
		       t.n, t.distinct_ids, t.expected, t.spend::text, r.n, r.kg::text, r.spend::text,
		       coalesce(u.kg_co2e, 0) = r.kg, t.spend = r.spend
		FROM intake.uploads u,
		LATERAL (SELECT count(*) AS n, count(DISTINCT transaction_id) AS distinct_ids,
		                count(DISTINCT transaction_id) FILTER (WHERE transaction_id ~ ('^' || $2 || '[0-9]{9}$')
		                    AND substr(transaction_id, 2)::bigint BETWEEN 1 AND $3) AS expected,
		                coalesce(sum(amount_usd), 0) AS spend
		         FROM intake.transactions WHERE upload_id = u.id) t,
		LATERAL (SELECT count(*) AS n, coalesce(sum(kg_co2e), 0) AS kg, coalesce(sum(amount_usd), 0) AS spend
		         FROM calculator.emission_results WHERE upload_id = u.id) r
		WHERE u.id = $1`, upload, string(prefix), rows).Scan(
		&s.Accepted, &s.Calculated, &s.IntakeKg, &s.Rows, &s.DistinctIDs, &s.Expected, &s.IntakeSpend, &s.Results, &s.ResultsKg, &s.ResultsSpend,
		&s.KgEqual, &s.SpendEqual)
	if err != nil {
		return Stored{}, fmt.Errorf("read upload %d: %w", upload, err)
	}
	return s, nil
}

// Check returns what is wrong with a finished upload of a file of rows
// rows: every row stored once, every row calculated once, and intake's
// totals equal to the calculator's.
func (s Stored) Check(rows int64) error {
	var errs []error
	if s.Accepted != rows || s.Rows != s.Accepted || s.DistinctIDs != s.Rows || s.Expected != rows {
		errs = append(errs, fmt.Errorf("rows: file %d, accepted %d, stored %d, distinct ids %d, the file's ids %d",
			rows, s.Accepted, s.Rows, s.DistinctIDs, s.Expected))
	}
	if s.Results != s.Rows || s.Calculated != s.Rows {
		errs = append(errs, fmt.Errorf("results: stored rows %d, results %d, upload's rows calculated %d", s.Rows, s.Results, s.Calculated))
	}
	if !s.KgEqual {
		errs = append(errs, fmt.Errorf("kg CO2e: intake's upload %s, the calculator's results %s", s.IntakeKg, s.ResultsKg))
	}
	if !s.SpendEqual {
		errs = append(errs, fmt.Errorf("spend: intake's rows %s, the calculator's results %s", s.IntakeSpend, s.ResultsSpend))
	}
	return errors.Join(errs...)
}
