package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/spendgen"
	"github.com/vcci-dev/vcci/cmd/vcci/internal/stack"
	"github.com/vcci-dev/vcci/gateway/edge"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	calculator "github.com/vcci-dev/vcci/services/calculator/server"
	engagement "github.com/vcci-dev/vcci/services/engagement/server"
	intake "github.com/vcci-dev/vcci/services/intake/server"
	reporting "github.com/vcci-dev/vcci/services/reporting/server"
)

func TestMain(m *testing.M) {
	// The tests' webhook receivers listen on 127.0.0.1, as a developer's do.
	if err := os.Setenv("WEBHOOK_PRIVATE_NETWORKS", "true"); err != nil {
		panic(err)
	}
	os.Exit(testsupport.Main(m))
}

// platform is a running stack on its own database, with a tenant and key.
type platform struct {
	base    string
	key     string
	url     string // the database, as its owner
	pool    *pgxpool.Pool
	grpc    map[string]string // service -> address
	metrics map[string]string // service -> metrics address (stack.Options.Metrics)
	stop    func()            // stops the stack and waits for it (also at the end of the test)
}

func start(t *testing.T, tp trace.TracerProvider) platform {
	t.Helper()
	return startWith(t, stack.Options{TP: tp})
}

// startWith starts a stack with o's rate limits, Redis, tracer and logger
// (none by default) on a new database. The database belongs to a role that
// is not a superuser, as a deployment's does, so the tenant policies bind
// the services as there.
func startWith(t *testing.T, o stack.Options) platform {
	t.Helper()
	url := testsupport.NewOwnedDatabase(t, "e2e", calculator.Migrate, intake.Migrate, engagement.Migrate, reporting.Migrate)
	ctx, cancel := context.WithCancel(context.Background())
	o.DatabaseURL, o.Ephemeral = url, true
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.TP == nil {
		o.TP = noop.NewTracerProvider()
	}
	st, err := stack.Start(ctx, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); st.Wait() }) }
	t.Cleanup(stop)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return platform{base: st.HTTPURL, key: testsupport.Key(t, pool, "acme"), url: url, pool: pool, grpc: st.GRPC, metrics: st.Metrics, stop: stop}
}

// call does one REST request and decodes the JSON answer.
func (p platform) call(t *testing.T, method, path, key string, body io.Reader, out any, hdr ...string) int {
	t.Helper()
	req, _ := http.NewRequest(method, p.base+path, body)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type upload struct {
	Name, State, FailureReason                           string
	RowsRead, RowsAccepted, RowsRejected, RowsCalculated string
	KgCo2e                                               string
	ErrorSamples                                         []rowError
}

type rowError struct {
	Row, Column, Reason, Value string
}

func (p platform) upload(t *testing.T, key string, body []byte, hdr ...string) upload {
	t.Helper()
	var u upload
	hdr = append(hdr, "Content-Type", "text/csv")
	if code := p.call(t, "POST", "/v1/uploads?filename=spend.csv", key, bytes.NewReader(body), &u, hdr...); code != http.StatusAccepted {
		t.Fatalf("upload: HTTP %d: %+v", code, u)
	}
	return u
}

func (p platform) wait(t *testing.T, key, name string) upload {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var u upload
		p.call(t, "GET", "/v1/"+name, key, nil, &u)
		if u.State == "UPLOAD_STATE_SUCCEEDED" || u.State == "UPLOAD_STATE_FAILED" {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload %s not done: %+v", name, u)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// epaFactors reads the shipped factor table itself.
func epaFactors(t *testing.T) map[string]*big.Rat {
	t.Helper()
	f, err := os.Open("../../services/calculator/internal/factors/data/SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*big.Rat{}
	for _, r := range rows[1:] {
		v, _ := new(big.Rat).SetString(r[6])
		out[r[0]] = v
	}
	return out
}

type agg struct {
	kg    *big.Rat
	spend *big.Rat
	n     int
}

func add(m map[string]*agg, k string, kg, spend *big.Rat) {
	a := m[k]
	if a == nil {
		a = &agg{kg: new(big.Rat), spend: new(big.Rat)}
		m[k] = a
	}
	a.kg.Add(a.kg, kg)
	a.spend.Add(a.spend, spend)
	a.n++
}

func dec(r *big.Rat) string { return r.FloatString(7) }

// in2022USD brings amount, spent on date ("YYYY-MM-DD"), to 2022 dollars:
// x 292.655 (the 2022 average CPI-U) / CPI-U of its month, rounded half
// away from zero to 4 decimals, as docs/methods.md writes it.
func in2022USD(t *testing.T, amount *big.Rat, date string) *big.Rat {
	t.Helper()
	cpi, err := refdata.CPIU()
	if err != nil {
		t.Fatal(err)
	}
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		t.Fatal(err)
	}
	o, err := cpi.At(d)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := new(big.Rat).SetString(o.Index)
	x := new(big.Rat).Mul(amount, big.NewRat(292655, 1000))
	x.Quo(x, idx)
	// Round to 4 decimals, half away from zero.
	x.Mul(x, big.NewRat(10000, 1))
	q, m := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(x.Denom()) >= 0 {
		q.Add(q, big.NewInt(int64(x.Sign())))
	}
	return new(big.Rat).SetFrac(q, big.NewInt(10000))
}

// TestUploadFlowThroughREST uploads a generated file through the gateway and
// checks every figure against totals computed here from the file and the
// factor table.
func TestUploadFlowThroughREST(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	codes := make([]string, 0, 1016)
	factors := epaFactors(t)
	for c := range factors {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var file bytes.Buffer
	if _, err := spendgen.Write(&file, spendgen.Options{Rows: 20_000, Suppliers: 500, Seed: 7, Codes: codes}); err != nil {
		t.Fatal(err)
	}
	raw := file.Bytes()

	// Expected figures, from the file.
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	total, spend := new(big.Rat), new(big.Rat)
	bySupplier, byMonth, byNAICS := map[string]*agg{}, map[string]*agg{}, map[string]*agg{}
	// Each line's month, supplier and kg, for the Pareto of a period.
	type dated struct {
		month, supplier string
		kg              *big.Rat
	}
	lines := make([]dated, 0, len(recs)-1)
	for _, r := range recs[1:] {
		amount, ok := new(big.Rat).SetString(r[5])
		if !ok {
			t.Fatalf("bad amount %q", r[5])
		}
		kg := new(big.Rat).Mul(in2022USD(t, amount, r[1]), factors[r[4]])
		total.Add(total, kg)
		spend.Add(spend, amount)
		add(bySupplier, r[2], kg, amount)
		add(byMonth, r[1][:7], kg, amount)
		add(byNAICS, r[4], kg, amount)
		lines = append(lines, dated{r[1][:7], r[2], kg})
	}

	u := p.upload(t, p.key, raw)
	done := p.wait(t, p.key, u.Name)
	if done.State != "UPLOAD_STATE_SUCCEEDED" || done.RowsAccepted != "20000" || done.RowsCalculated != "20000" || done.RowsRejected != "" {
		t.Fatalf("upload = %+v", done)
	}
	if done.KgCo2e != dec(total) {
		t.Fatalf("upload kg = %s, want %s", done.KgCo2e, dec(total))
	}

	// Reporting: totals and every breakdown.
	type group struct {
		Key, Label, KgCo2e, SpendUsd, TransactionCount string
		Share                                          float64
	}
	var inv struct {
		TotalKgCo2e, TotalSpendUsd, TransactionCount string
		ByCategory, BySupplier, ByNaics, ByMonth     []group
		SupplierCount, NaicsCount                    int
		FactorSets                                   []string
	}
	if code := p.call(t, "GET", "/v1/inventory/summary?topN=1000", p.key, nil, &inv); code != 200 {
		t.Fatalf("summary: HTTP %d", code)
	}
	if inv.TotalKgCo2e != dec(total) || inv.TotalSpendUsd != spend.FloatString(4) || inv.TransactionCount != "20000" {
		t.Fatalf("inventory totals = %s kg, %s USD, %s lines; want %s, %s, 20000", inv.TotalKgCo2e, inv.TotalSpendUsd, inv.TransactionCount, dec(total), spend.FloatString(4))
	}
	if inv.SupplierCount != len(bySupplier) || inv.NaicsCount != len(byNAICS) || len(inv.ByMonth) != len(byMonth) {
		t.Fatalf("counts: suppliers %d/%d naics %d/%d months %d/%d", inv.SupplierCount, len(bySupplier), inv.NaicsCount, len(byNAICS), len(inv.ByMonth), len(byMonth))
	}
	for _, g := range inv.ByMonth {
		want := byMonth[g.Key]
		if want == nil || g.KgCo2e != dec(want.kg) || g.TransactionCount != strconv.Itoa(want.n) {
			t.Fatalf("month %s = %+v, want %s kg", g.Key, g, dec(want.kg))
		}
	}
	for _, g := range inv.BySupplier {
		if want := bySupplier[g.Key]; want == nil || g.KgCo2e != dec(want.kg) || g.Label == "" {
			t.Fatalf("supplier %s = %+v", g.Key, g)
		}
	}
	for _, g := range inv.ByNaics {
		if want := byNAICS[g.Key]; want == nil || g.KgCo2e != dec(want.kg) || g.Label == "" {
			t.Fatalf("naics %s = %+v", g.Key, g)
		}
	}
	catSum := new(big.Rat)
	for _, g := range inv.ByCategory {
		v, _ := new(big.Rat).SetString(g.KgCo2e)
		catSum.Add(catSum, v)
	}
	if catSum.Cmp(total) != 0 || len(inv.ByCategory) == 0 || inv.ByCategory[0].Label == "" {
		t.Fatalf("categories = %+v sum %s, want %s", inv.ByCategory, dec(catSum), dec(total))
	}

	// Hotspot: the Pareto of suppliers, computed here.
	type ranked struct {
		id string
		kg *big.Rat
	}
	rankOf := func(kgs map[string]*big.Rat) []ranked {
		rank := make([]ranked, 0, len(kgs))
		for id, kg := range kgs {
			rank = append(rank, ranked{id, kg})
		}
		slices.SortFunc(rank, func(a, b ranked) int {
			if c := b.kg.Cmp(a.kg); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		return rank
	}
	kgs := make(map[string]*big.Rat, len(bySupplier))
	for id, a := range bySupplier {
		kgs[id] = a.kg
	}
	rank := rankOf(kgs)
	threshold := new(big.Rat).Mul(total, big.NewRat(8, 10))
	cum, need := new(big.Rat), 0
	for _, r := range rank {
		need++
		cum.Add(cum, r.kg)
		if cum.Cmp(threshold) >= 0 {
			break
		}
	}
	var pareto struct {
		Entries []struct {
			Rank                                  int
			Supplier, SupplierDisplayName, KgCo2e string
			InThresholdSet                        bool
		}
		TotalKgCo2e            string
		SupplierCount          int
		ThresholdSupplierCount int
	}
	if code := p.call(t, "GET", "/v1/hotspots/supplierPareto?topN=20", p.key, nil, &pareto); code != 200 {
		t.Fatalf("pareto: HTTP %d", code)
	}
	if pareto.TotalKgCo2e != dec(total) || pareto.SupplierCount != len(bySupplier) || pareto.ThresholdSupplierCount != need || len(pareto.Entries) != 20 {
		t.Fatalf("pareto = total %s suppliers %d threshold set %d entries %d; want %s %d %d 20",
			pareto.TotalKgCo2e, pareto.SupplierCount, pareto.ThresholdSupplierCount, len(pareto.Entries), dec(total), len(bySupplier), need)
	}
	for i, e := range pareto.Entries {
		if e.Supplier != "suppliers/"+rank[i].id || e.KgCo2e != dec(rank[i].kg) || e.Rank != i+1 || e.SupplierDisplayName == "" || e.InThresholdSet != (i < need) {
			t.Fatalf("pareto entry %d = %+v, want %s %s", i, e, rank[i].id, dec(rank[i].kg))
		}
	}
	// Under AR6: the suppliers' AR6 totals, as the summary gives them.
	var ar6 struct{ TotalKgCo2e, GwpBasis string }
	if code := p.call(t, "GET", "/v1/hotspots/supplierPareto?topN=1&gwpBasis=GWP_BASIS_AR6", p.key, nil, &ar6); code != 200 {
		t.Fatalf("pareto under AR6: HTTP %d", code)
	}
	var sum6 struct {
		GwpBasis string
		Groups   []struct{ KgCo2e string }
	}
	if code := p.call(t, "GET", "/v1/emissionResults:summarize?groupBy=SUMMARY_DIMENSION_SUPPLIER&gwpBasis=GWP_BASIS_AR6", p.key, nil, &sum6); code != 200 {
		t.Fatalf("summary under AR6: HTTP %d", code)
	}
	total6 := new(big.Rat)
	for _, g := range sum6.Groups {
		kg, ok := new(big.Rat).SetString(g.KgCo2e)
		if !ok {
			t.Fatalf("summary group kg %q", g.KgCo2e)
		}
		total6.Add(total6, kg)
	}
	if ar6.GwpBasis != "GWP_BASIS_AR6" || sum6.GwpBasis != "GWP_BASIS_AR6" || ar6.TotalKgCo2e != dec(total6) || ar6.TotalKgCo2e == pareto.TotalKgCo2e {
		t.Fatalf("pareto under AR6 = %+v; want GWP_BASIS_AR6 and the summary's %s (AR5: %s)", ar6, dec(total6), pareto.TotalKgCo2e)
	}

	// A quarter: the suppliers of its lines alone, ranked from them.
	ms := slices.Sorted(maps.Keys(byMonth))
	from, to := ms[0], ms[2]
	quarter, qTotal := map[string]*big.Rat{}, new(big.Rat)
	for _, l := range lines {
		if l.month >= from && l.month <= to {
			if quarter[l.supplier] == nil {
				quarter[l.supplier] = new(big.Rat)
			}
			quarter[l.supplier].Add(quarter[l.supplier], l.kg)
			qTotal.Add(qTotal, l.kg)
		}
	}
	var qp struct {
		Entries []struct {
			Rank             int
			Supplier, KgCo2e string
		}
		TotalKgCo2e, PeriodStart, PeriodEnd string
		SupplierCount                       int
	}
	if code := p.call(t, "GET", "/v1/hotspots/supplierPareto?topN=5&periodStart="+from+"&periodEnd="+to, p.key, nil, &qp); code != 200 {
		t.Fatalf("pareto of %s to %s: HTTP %d", from, to, code)
	}
	qRank := rankOf(quarter)
	if qp.TotalKgCo2e != dec(qTotal) || qp.SupplierCount != len(quarter) || qp.PeriodStart != from || qp.PeriodEnd != to || len(qp.Entries) != 5 ||
		qp.TotalKgCo2e == pareto.TotalKgCo2e {
		t.Fatalf("pareto of %s to %s = %+v; want %s kg of %d suppliers", from, to, qp, dec(qTotal), len(quarter))
	}
	for i, e := range qp.Entries {
		if e.Supplier != "suppliers/"+qRank[i].id || e.KgCo2e != dec(qRank[i].kg) || e.Rank != i+1 {
			t.Fatalf("pareto of %s to %s, entry %d = %+v, want %s %s", from, to, i, e, qRank[i].id, dec(qRank[i].kg))
		}
	}
	var bad struct {
		Details []struct {
			FieldViolations []struct{ Field string }
		}
	}
	if code := p.call(t, "GET", "/v1/hotspots/supplierPareto?periodStart=2024-13&periodEnd=2024-12", p.key, nil, &bad); code != 400 ||
		len(bad.Details) == 0 || bad.Details[0].FieldViolations[0].Field != "period_start" {
		t.Fatalf("pareto of month 13: HTTP %d %+v", code, bad)
	}

	// Provenance of one line.
	var res struct {
		Factor, FactorSetVersion, FactorValue, Method, KgCo2e, AmountUsd, NaicsCode  string
		AmountBaseUsd, PriceIndexSeries, PriceIndexMonth, PriceIndex, PriceIndexBase string
		PriceYear                                                                    int
	}
	first := recs[1]
	if code := p.call(t, "GET", "/v1/emissionResults/"+first[0], p.key, nil, &res); code != 200 {
		t.Fatalf("result: HTTP %d", code)
	}
	amount, _ := new(big.Rat).SetString(first[5])
	base := in2022USD(t, amount, first[1])
	if res.Factor != "factorSets/epa-supply-chain-v1.3.0/factors/"+first[4] || res.FactorSetVersion != "1.3.0" || res.Method != "spend-based" ||
		res.KgCo2e != dec(new(big.Rat).Mul(base, factors[first[4]])) || res.AmountBaseUsd != base.FloatString(4) ||
		res.PriceIndexMonth != first[1][:7] || res.PriceIndexBase != "292.655" || res.PriceYear != 2022 || !strings.HasPrefix(res.PriceIndexSeries, "CPI-U") {
		t.Fatalf("result = %+v", res)
	}

	// Engagement: a campaign on the top 5.
	var camp struct {
		Name    string
		TopN    int
		Targets []struct{ Supplier, KgCo2e string }
	}
	body := strings.NewReader(`{"displayName":"Top emitters 2024","topN":5}`)
	if code := p.call(t, "POST", "/v1/campaigns", p.key, body, &camp, "Content-Type", "application/json"); code != 200 {
		t.Fatalf("campaign: HTTP %d %+v", code, camp)
	}
	if len(camp.Targets) != 5 || camp.Targets[0].Supplier != "suppliers/"+rank[0].id || camp.Targets[4].KgCo2e != dec(rank[4].kg) {
		t.Fatalf("campaign = %+v", camp)
	}

	// The same file again: the same upload, nothing stored twice.
	again := p.upload(t, p.key, raw)
	if again.Name != u.Name {
		t.Fatalf("resend gave %s, want %s", again.Name, u.Name)
	}
	var n int
	err = db.InTenant(context.Background(), p.pool, testsupport.Tenant(t, p.pool, "acme"), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM calculator.emission_results`).Scan(&n)
	})
	if err != nil || n != 20_000 {
		t.Fatalf("%d results stored (%v), want 20000", n, err)
	}

	// The top supplier sends its own figures: its target's data is
	// received, and the campaign counts it.
	var sf struct{ Name string }
	if code := p.call(t, "POST", "/v1/supplierFactors", p.key, strings.NewReader(`{"supplierId": "`+rank[0].id+`",
		"kind": "SUPPLIER_FACTOR_KIND_COMPANY", "kgCo2ePerUnit": "0.25", "reportingYear": 2024,
		"validFrom": "2024-01-01", "validTo": "2024-12-31"}`), &sf, "Content-Type", "application/json"); code != 200 || sf.Name == "" {
		t.Fatalf("supplier factor: HTTP %d %+v", code, sf)
	}
	var progress struct {
		DataReceivedCount  int
		DataReceivedKgCo2e string
		Targets            []struct{ Supplier, Status, SupplierFactor, DataReceiveTime string }
	}
	if code := p.call(t, "GET", "/v1/"+camp.Name, p.key, nil, &progress); code != 200 {
		t.Fatalf("campaign: HTTP %d", code)
	}
	if got := progress.Targets; len(got) != 5 || got[0].Status != "TARGET_STATUS_DATA_RECEIVED" || got[0].SupplierFactor != sf.Name ||
		got[0].DataReceiveTime == "" || got[1].Status != "TARGET_STATUS_INVITED" || got[1].SupplierFactor != "" ||
		progress.DataReceivedCount != 1 || progress.DataReceivedKgCo2e != camp.Targets[0].KgCo2e {
		t.Fatalf("campaign after %s's figures = %+v", rank[0].id, progress)
	}
	// The second declines.
	var declined struct {
		DeclinedCount int
		Targets       []struct{ Status, DeclineReason string }
	}
	if code := p.call(t, "POST", "/v1/"+camp.Name+"/targets/"+rank[1].id+":decline", p.key, strings.NewReader(`{"reason": "no figures before 2026"}`),
		&declined, "Content-Type", "application/json"); code != 200 || declined.DeclinedCount != 1 ||
		declined.Targets[1].Status != "TARGET_STATUS_DECLINED" || declined.Targets[1].DeclineReason != "no figures before 2026" {
		t.Fatalf("decline: HTTP %d %+v", code, declined)
	}

	// The third answers through a link, with no API key; its figure
	// counts once the tenant accepts it.
	var link struct {
		URL        string `json:"url"`
		Token      string `json:"token"`
		ExpireTime string `json:"expireTime"`
	}
	if code := p.call(t, "POST", "/v1/"+camp.Name+"/targets/"+rank[2].id+":createSubmissionLink", p.key, nil, &link); code != 200 ||
		link.URL != "/submit/"+link.Token {
		t.Fatalf("link: HTTP %d %+v", code, link)
	}
	// The page a person opens, then the API it calls.
	page, err := http.Get(p.base + link.URL)
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != http.StatusOK || page.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: HTTP %d %v", page.StatusCode, page.Header)
	}
	api := "/v1/supplierRequests/" + link.Token
	var asked struct {
		RequesterDisplayName, CampaignDisplayName, Supplier string
		SubmissionsLeft                                     int
	}
	if code := p.call(t, "GET", api, "", nil, &asked); code != 200 || asked.RequesterDisplayName != "acme" ||
		asked.CampaignDisplayName != "Top emitters 2024" || asked.Supplier != "suppliers/"+rank[2].id || asked.SubmissionsLeft != 20 {
		t.Fatalf("supplier request: HTTP %d %+v", code, asked)
	}
	var st struct {
		Details []struct{ FieldViolations []struct{ Field string } }
	}
	if code := p.call(t, "POST", api+":submit", "", strings.NewReader(`{"supplierFactor": {"kind": "SUPPLIER_FACTOR_KIND_COMPANY",
		"kgCo2ePerUnit": "0.3", "reportingYear": 2024, "validFrom": "2024-12-31", "validTo": "2024-01-01"},
		"contactName": "Ann Lee", "contactEmail": "ann@example.com"}`), &st, "Content-Type", "application/json"); code != 400 ||
		len(st.Details) == 0 || st.Details[0].FieldViolations[0].Field != "supplier_factor.valid_to" {
		t.Fatalf("dates reversed: HTTP %d %+v", code, st)
	}
	var sub struct{ Name, State, RecordedSupplierFactor, Recalculation string }
	if code := p.call(t, "POST", api+":submit", "", strings.NewReader(`{"supplierFactor": {"kind": "SUPPLIER_FACTOR_KIND_COMPANY",
		"kgCo2ePerUnit": "0.3", "reportingYear": 2024, "validFrom": "2024-01-01", "validTo": "2024-12-31"},
		"contactName": "Ann Lee", "contactEmail": "ann@example.com"}`), &sub, "Content-Type", "application/json"); code != 200 ||
		sub.State != "SUBMISSION_STATE_PENDING" {
		t.Fatalf("submit: HTTP %d %+v", code, sub)
	}
	if code := p.call(t, "GET", "/v1/"+camp.Name, p.key, nil, &progress); code != 200 || progress.Targets[2].Status != "TARGET_STATUS_SUBMITTED" {
		t.Fatalf("campaign with a submission: HTTP %d %+v", code, progress)
	}
	if code := p.call(t, "POST", "/v1/"+sub.Name+":accept", p.key, nil, &sub); code != 200 || sub.State != "SUBMISSION_STATE_ACCEPTED" ||
		!strings.HasPrefix(sub.RecordedSupplierFactor, "supplierFactors/") || !strings.HasPrefix(sub.Recalculation, "recalculations/") {
		t.Fatalf("accept: HTTP %d %+v", code, sub)
	}
	var recorded struct {
		SupplierID    string `json:"supplierId"`
		KgCo2ePerUnit string `json:"kgCo2ePerUnit"`
	}
	if code := p.call(t, "GET", "/v1/"+sub.RecordedSupplierFactor, p.key, nil, &recorded); code != 200 || recorded.SupplierID != rank[2].id ||
		recorded.KgCo2ePerUnit != "0.3" {
		t.Fatalf("recorded factor: HTTP %d %+v", code, recorded)
	}
	if code := p.call(t, "GET", "/v1/"+camp.Name, p.key, nil, &progress); code != 200 || progress.Targets[2].Status != "TARGET_STATUS_DATA_RECEIVED" ||
		progress.Targets[2].SupplierFactor != sub.RecordedSupplierFactor || progress.DataReceivedCount != 2 {
		t.Fatalf("campaign after the accepted figure: HTTP %d %+v", code, progress)
	}
	// The link's token is a credential: no metric names it.
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(metrics), link.Token) || !strings.Contains(string(metrics), "/v1/supplierRequests/{id}:submit") {
		t.Fatal("the gateway's metrics name a submission link's token, or not its route")
	}
}

// TestBadInputThroughREST covers what a client gets for bad requests.
func TestBadInputThroughREST(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	type status struct {
		Code    int
		Message string
		Details []struct {
			FieldViolations []struct{ Field, Description string }
		}
	}
	var st status
	if code := p.call(t, "GET", "/v1/uploads", "", nil, &st); code != 401 || st.Code != 16 {
		t.Fatalf("no key: HTTP %d %+v", code, st)
	}
	if code := p.call(t, "GET", "/v1/uploads", "vcci_not-a-key-at-all", nil, &st); code != 401 {
		t.Fatalf("bad key: HTTP %d", code)
	}
	st = status{}
	code := p.call(t, "POST", "/v1/uploads", p.key, bytes.NewReader([]byte("%PDF-1.7\x00\x01binary")), &st, "Content-Type", "text/csv")
	if code != 400 || st.Code != 3 || len(st.Details) == 0 || st.Details[0].FieldViolations[0].Field != "file" {
		t.Fatalf("not CSV: HTTP %d %+v", code, st)
	}

	file := "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n" +
		"A1,2024-02-01,S1,Acme,331110,100.00,USD,ok\n" +
		"A2,2024-02-30,S1,Acme,331110,100.00,USD,bad date\n" +
		"A3,2024-02-01,S1,Acme,331110,12x,USD,bad amount\n" +
		"A4,2024-02-01,S1,Acme,000000,1.00,USD,unknown naics\n" +
		"A5,2024-02-01,S1,Acme,331110,1.00,XYZ,currency\n" +
		"A1,2024-02-02,S1,Acme,331110,1.00,USD,duplicate\n" +
		"A6,2024-02-01,S2,Beta,541511,-40.00,USD,credit note\n" +
		"A7,2024-02-01,S2\n"
	u := p.upload(t, p.key, []byte(file), "Idempotency-Key", "batch-7")
	done := p.wait(t, p.key, u.Name)
	if done.State != "UPLOAD_STATE_SUCCEEDED" || done.RowsAccepted != "2" || done.RowsRejected != "6" || done.KgCo2e != "71.0499127" {
		t.Fatalf("upload = %+v", done)
	}
	want := []rowError{{"3", "date", "", ""}, {"4", "amount", "", ""}, {"5", "naics_code", "", ""}, {"6", "currency", "", ""}, {"7", "transaction_id", "", ""}, {"9", "", "", ""}}
	var errs struct {
		Errors    []rowError
		TotalSize string
	}
	p.call(t, "GET", "/v1/"+u.Name+"/errors?pageSize=100", p.key, nil, &errs)
	if errs.TotalSize != "6" || len(errs.Errors) != 6 {
		t.Fatalf("errors = %+v", errs)
	}
	for i, w := range want {
		if errs.Errors[i].Row != w.Row || errs.Errors[i].Column != w.Column || errs.Errors[i].Reason == "" {
			t.Fatalf("error %d = %+v, want row %s column %q", i, errs.Errors[i], w.Row, w.Column)
		}
	}
	// Same idempotency key and bytes: the first upload back; different
	// bytes: 422, naming the key and the upload, and nothing stored.
	again := p.upload(t, p.key, []byte(file), "Idempotency-Key", "batch-7")
	if again.Name != u.Name {
		t.Fatalf("idempotent resend = %s, want %s", again.Name, u.Name)
	}
	st = status{}
	code = p.call(t, "POST", "/v1/uploads", p.key, strings.NewReader(file+"A8,2024-02-01,S2,Beta,541511,1.00,USD,new\n"), &st,
		"Content-Type", "text/csv", "Idempotency-Key", "batch-7")
	if want := `Idempotency-Key "batch-7" was used for a different body (` + u.Name + ")"; code != http.StatusUnprocessableEntity || st.Code != 9 || st.Message != want {
		t.Fatalf("same key, other body: HTTP %d %+v, want 422 %q", code, st, want)
	}
	var list struct{ Uploads []upload }
	p.call(t, "GET", "/v1/uploads", p.key, nil, &list)
	if len(list.Uploads) != 1 {
		t.Fatalf("uploads after the refused key: %+v", list.Uploads)
	}
	// Another tenant cannot see it.
	other := testsupport.Key(t, p.pool, "globex")
	if code := p.call(t, "GET", "/v1/"+u.Name, other, nil, &st); code != 404 {
		t.Fatalf("other tenant: HTTP %d", code)
	}
	var inv struct{ TransactionCount string }
	p.call(t, "GET", "/v1/inventory/summary", other, nil, &inv)
	if inv.TransactionCount != "" && inv.TransactionCount != "0" {
		t.Fatalf("other tenant sees %s lines", inv.TransactionCount)
	}
	// Page sizes above the maximum are refused, naming the parameter.
	st = status{}
	if code := p.call(t, "GET", "/v1/uploads?pageSize=5000", p.key, nil, &st); code != 400 || st.Details[0].FieldViolations[0].Field != "page_size" {
		t.Fatalf("page size: HTTP %d %+v", code, st)
	}
}

// TestUploadIsOneTrace shows one trace from the gateway through intake (and
// its background work) to the calculator and PostgreSQL.
func TestUploadIsOneTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	p := start(t, tp)
	u := p.upload(t, p.key, []byte("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\nX1,2024-05-01,S1,Acme,331110,10.00,USD,x\n"))
	p.wait(t, p.key, u.Name)

	var root trace.TraceID
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindServer && s.Name() == "POST /v1/uploads" && !s.Parent().SpanID().IsValid() {
			root = s.SpanContext().TraceID()
		}
	}
	if !root.IsValid() {
		ended := rec.Ended()
		names := make([]string, 0, len(ended))
		for _, s := range ended {
			names = append(names, s.Name())
		}
		t.Fatalf("no gateway span for POST /v1/uploads among %v", names)
	}
	seen := map[string]bool{}
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() != root {
			continue
		}
		switch {
		case s.Name() == "vcci.intake.v1.IntakeService/UploadSpend" && s.SpanKind() == trace.SpanKindServer:
			seen["intake"] = true
		case s.Name() == "river.work": // otelriver's span for the upload's job
			seen["river"] = true
		case s.Name() == "intake.ProcessUpload":
			seen["worker"] = true
		case s.Name() == "vcci.calculator.v1.CalculatorService/CalculateEmissions" && s.SpanKind() == trace.SpanKindServer:
			seen["calculator"] = true
		}
		for _, a := range s.Attributes() {
			if a.Key == "db.system" || a.Key == "db.system.name" {
				seen["postgres"] = true
			}
		}
	}
	for _, hop := range []string{"intake", "river", "worker", "calculator", "postgres"} {
		if !seen[hop] {
			t.Errorf("trace %s has no %s span (saw %v)", root, hop, seen)
		}
	}
}

// TestRetryUploadThroughREST retries a failed upload through the gateway's
// POST /v1/uploads/{upload}:retry; any other upload is refused.
func TestRetryUploadThroughREST(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	type answer struct {
		upload
		Code    int
		Message string
	}
	retry := func(name string) (int, answer) {
		var a answer
		code := p.call(t, "POST", "/v1/"+name+":retry", p.key, strings.NewReader("{}"), &a)
		return code, a
	}
	// A header without the required columns fails the upload; a retry
	// validates it again, and it fails again.
	bad := p.upload(t, p.key, []byte("transaction_id,date,supplier_id\nT1,2024-01-01,S1\n"))
	if u := p.wait(t, p.key, bad.Name); u.State != "UPLOAD_STATE_FAILED" {
		t.Fatalf("bad header: %+v", u)
	}
	if code, a := retry(bad.Name); code != http.StatusOK || a.Name != bad.Name || a.State != "UPLOAD_STATE_QUEUED" {
		t.Fatalf("retry a failed upload: HTTP %d %+v", code, a)
	}
	if u := p.wait(t, p.key, bad.Name); u.State != "UPLOAD_STATE_FAILED" || !strings.Contains(u.FailureReason, "header") {
		t.Fatalf("bad header retried: %+v", u)
	}

	good := p.upload(t, p.key, []byte("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\nR1,2024-05-01,S1,Acme,331110,10.00,USD,x\n"))
	if u := p.wait(t, p.key, good.Name); u.State != "UPLOAD_STATE_SUCCEEDED" {
		t.Fatalf("good upload: %+v", u)
	}
	if code, a := retry(good.Name); code != http.StatusBadRequest || a.Code != 9 || a.Message != "only a failed upload can be retried" {
		t.Fatalf("retry a succeeded upload: HTTP %d %+v", code, a)
	}
	if code, a := retry("uploads/999999"); code != http.StatusNotFound || a.Code != 5 {
		t.Fatalf("retry a missing upload: HTTP %d %+v", code, a)
	}
}

// TestRiverUIIsBehindTheOperatorsPassword serves River's UI over the
// platform's database as the gateway does when RIVER_UI_DATABASE_URL is set:
// it shows the upload jobs, to the operator only.
func TestRiverUIIsBehindTheOperatorsPassword(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	u := p.upload(t, p.key, []byte("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\nU1,2024-05-01,S1,Acme,331110,10.00,USD,x\n"))
	p.wait(t, p.key, u.Name)
	ctx := t.Context()
	if _, err := edge.RiverUI(ctx, p.pool, slog.New(slog.DiscardHandler), "operator", ""); err == nil {
		t.Fatal("River UI served without a password")
	}
	ui, err := edge.RiverUI(ctx, p.pool, slog.New(slog.DiscardHandler), "operator", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(edge.RiverUIPath, ui)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path, user, password string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, http.NoBody)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct{ user, password string }{{"", ""}, {"operator", "wrong"}, {"someone", "s3cret"}} {
		if code, _ := get(edge.RiverUIPath, c.user, c.password); code != http.StatusUnauthorized {
			t.Errorf("as %q/%q: HTTP %d, want 401", c.user, c.password, code)
		}
	}
	if code, body := get(edge.RiverUIPath, "operator", "s3cret"); code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Fatalf("UI: HTTP %d %.200s", code, body)
	}
	if code, body := get(edge.RiverUIPath+"api/jobs?state=completed", "operator", "s3cret"); code != http.StatusOK || !strings.Contains(body, `"intake.upload"`) {
		t.Fatalf("jobs: HTTP %d %.300s", code, body)
	}
}

// TestCorrectedDateRepeatThroughREST: a later file repeating a transaction
// id under another date has that row rejected, and neither intake's totals
// nor the calculator's (the inventory, by month) count the line twice.
func TestCorrectedDateRepeatThroughREST(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	const head = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"
	first := p.upload(t, p.key, []byte(head+"Q1,2024-01-05,S1,Acme,331110,100.00,USD,coil\n"))
	if u := p.wait(t, p.key, first.Name); u.State != "UPLOAD_STATE_SUCCEEDED" || u.RowsAccepted != "1" {
		t.Fatalf("first upload: %+v", u)
	}
	type totals struct {
		TotalKgCo2e, TotalSpendUsd, TransactionCount string
		ByMonth                                      []struct{ Key, KgCo2e string }
	}
	type supplier struct{ SpendUsd, KgCo2e, TransactionCount string }
	var before, after totals
	var supBefore, supAfter supplier
	p.call(t, "GET", "/v1/inventory/summary", p.key, nil, &before)
	p.call(t, "GET", "/v1/suppliers/S1", p.key, nil, &supBefore)
	if before.TransactionCount != "1" || len(before.ByMonth) != 1 || supBefore.TransactionCount != "1" {
		t.Fatalf("before the repeat: inventory %+v, supplier %+v", before, supBefore)
	}

	second := p.upload(t, p.key, []byte(head+"Q1,2024-04-05,S1,Acme,331110,100.00,USD,coil (date corrected)\n"))
	u := p.wait(t, p.key, second.Name)
	want := rowError{"2", "transaction_id", "transaction already stored by " + first.Name, "Q1"}
	// JSON leaves a zero count out.
	if u.State != "UPLOAD_STATE_SUCCEEDED" || u.RowsAccepted != "" || u.RowsRejected != "1" || len(u.ErrorSamples) != 1 || u.ErrorSamples[0] != want {
		t.Fatalf("repeat: %+v, want the row rejected as %+v", u, want)
	}
	p.call(t, "GET", "/v1/inventory/summary", p.key, nil, &after)
	p.call(t, "GET", "/v1/suppliers/S1", p.key, nil, &supAfter)
	if after.TotalKgCo2e != before.TotalKgCo2e || after.TotalSpendUsd != before.TotalSpendUsd || after.TransactionCount != "1" ||
		len(after.ByMonth) != 1 || after.ByMonth[0] != before.ByMonth[0] {
		t.Fatalf("inventory after the repeat = %+v, want %+v", after, before)
	}
	if supAfter != supBefore {
		t.Fatalf("S1 after the repeat = %+v, want %+v", supAfter, supBefore)
	}
}
