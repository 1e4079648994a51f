package grpcapi_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/intake/internal/directory"
	"github.com/vcci-dev/vcci/services/intake/internal/directory/grpcapi"
	dirstore "github.com/vcci-dev/vcci/services/intake/internal/directory/store"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// The fake calculator's kg is 2 x amount, so every intensity is 2.
const suppliersFile = `transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,supplier_country
T01,2024-01-05,S1,Müller Stahl GmbH,331110,1000.00,USD,coil,de
T02,2024-02-05,S1,Müller Stahl GmbH,331110,500.00,USD,coil,DE
T03,2024-02-06,S2,ACME Steel Corp,331110,700.00,USD,beams,US
T04,2024-03-07,S3,Acme Logistics,484110,300.00,USD,freight,US
T05,2024-03-08,S3,Acme Logistics,484110,100.00,USD,freight,
T06,2024-04-01,S4,Café Central,722511,40.00,USD,lunch,AT
T07,2024-04-02,S5,Zeta Freight,484110,900.00,USD,freight,FR
T08,2024-05-03,S5,Zeta Freight,541511,-100.00,USD,refund,FR
T09,2024-05-04,S6,Omega Paper,322121,60.00,USD,paper,
T10,2024-06-05,S2,ACME Steel Corp,332312,200.00,USD,rebar,US
`

type env struct {
	api     *grpcapi.API
	pool    *pgxpool.Pool
	a, b    uuid.UUID
	results atomic.Int64 // emission-result fetches
	worker  *intake.Worker
	svc     *intake.Service
}

func setup(t *testing.T, c grpcapi.Cache, changed func(context.Context, uuid.UUID, []string)) *env {
	t.Helper()
	pool := testsupport.NewPool(t, "intake_read", store.Migrate)
	e := &env{pool: pool, a: testsupport.Tenant(t, pool, "a"), b: testsupport.Tenant(t, pool, "b")}
	st := store.New(pool)
	e.worker = intaketest.NewWorker(st, intaketest.NewCalc(), intake.WorkerOptions{Batch: 3, Changed: changed})
	e.svc = intake.New(st, 1<<20)
	e.api = grpcapi.New(directory.New(dirstore.New(pool)), pagetoken.New([]byte("0123456789abcdef0123456789abcdef")),
		func(_ context.Context, _ uuid.UUID, ids, dates []string) (map[string]*calculatorv1.EmissionResult, error) {
			e.results.Add(1)
			if len(dates) != len(ids) || dates[0] == "0001-01-01" {
				return nil, fmt.Errorf("results asked without their dates: %v", dates)
			}
			out := map[string]*calculatorv1.EmissionResult{}
			for _, id := range ids {
				out[id] = &calculatorv1.EmissionResult{Name: "emissionResults/" + id, KgCo2E: "1", Method: "spend-based"}
			}
			return out, nil
		}, c)
	e.upload(t, e.a, suppliersFile)
	return e
}

func (e *env) upload(t *testing.T, tenant uuid.UUID, file string) {
	t.Helper()
	if _, err := e.svc.Receive(context.Background(), tenant, intake.NewUpload{Filename: "f.csv"}, strings.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	intaketest.Drain(t, e.pool, e.worker)
}

func as(tenant uuid.UUID) context.Context {
	return tenancy.WithTenant(context.Background(), tenant, "test-key")
}

func ids(ss []*intakev1.Supplier) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimPrefix(s.GetName(), "suppliers/")
	}
	return out
}

func TestSupplierTotalsAndOrders(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := as(e.a)
	s1, err := e.api.GetSupplier(ctx, &intakev1.GetSupplierRequest{Name: "suppliers/S1"})
	if err != nil {
		t.Fatal(err)
	}
	if s1.GetDisplayName() != "Müller Stahl GmbH" || s1.GetCountry() != "DE" || s1.GetSpendUsd() != "1500.0000" ||
		s1.GetKgCo2E() != "3000.0000000" || s1.GetKgCo2EPerUsd() != "2.000000" || s1.GetTransactionCount() != 2 ||
		!slices.Equal(s1.GetNaicsCodes(), []string{"331110"}) || s1.GetCreateTime() == nil {
		t.Fatalf("S1 = %v", s1)
	}
	// Credit notes net: S5 is 900 - 100.
	s5, _ := e.api.GetSupplier(ctx, &intakev1.GetSupplierRequest{Name: "suppliers/S5"})
	if s5.GetSpendUsd() != "800.0000" || !slices.Equal(s5.GetNaicsCodes(), []string{"484110", "541511"}) || s5.GetCountry() != "FR" {
		t.Fatalf("S5 = %v", s5)
	}
	// S3's last row has no country: the one given earlier stays.
	s3, _ := e.api.GetSupplier(ctx, &intakev1.GetSupplierRequest{Name: "suppliers/S3"})
	if s3.GetCountry() != "US" {
		t.Fatalf("S3 country = %q", s3.GetCountry())
	}

	cases := []struct {
		req  *intakev1.ListSuppliersRequest
		want []string
	}{
		{&intakev1.ListSuppliersRequest{}, []string{"S1", "S2", "S5", "S3", "S6", "S4"}},
		{&intakev1.ListSuppliersRequest{OrderBy: "kg_co2e"}, []string{"S4", "S6", "S3", "S5", "S2", "S1"}},
		{&intakev1.ListSuppliersRequest{OrderBy: "SPEND_USD   desc"}, []string{"S1", "S2", "S5", "S3", "S6", "S4"}},
		{&intakev1.ListSuppliersRequest{OrderBy: "display_name"}, []string{"S2", "S3", "S4", "S1", "S6", "S5"}},
		{&intakev1.ListSuppliersRequest{OrderBy: "transaction_count desc"}, []string{"S5", "S3", "S2", "S1", "S6", "S4"}},
		{&intakev1.ListSuppliersRequest{NaicsCode: "484110"}, []string{"S5", "S3"}},
		{&intakev1.ListSuppliersRequest{Country: "us"}, []string{"S2", "S3"}},
		// Search ignores case and accents, and forgives a typo.
		{&intakev1.ListSuppliersRequest{Query: "muller"}, []string{"S1"}},
		{&intakev1.ListSuppliersRequest{Query: "CAFE"}, []string{"S4"}},
		{&intakev1.ListSuppliersRequest{Query: "acme steal"}, []string{"S2"}},
		{&intakev1.ListSuppliersRequest{Query: "acme", OrderBy: "spend_usd desc"}, []string{"S2", "S3"}},
		{&intakev1.ListSuppliersRequest{Query: "freigt"}, []string{"S5"}},
		{&intakev1.ListSuppliersRequest{Query: "100%_"}, nil},
	}
	for _, c := range cases {
		resp, err := e.api.ListSuppliers(ctx, c.req)
		if err != nil {
			t.Fatalf("%v: %v", c.req, err)
		}
		if got := ids(resp.GetSuppliers()); !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.req, got, c.want)
		}
	}
}

func TestSupplierCursorAndOffsetPages(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := as(e.a)
	var got []string
	req := &intakev1.ListSuppliersRequest{PageSize: 4}
	for pages := 0; ; pages++ {
		resp, err := e.api.ListSuppliers(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(resp.GetSuppliers())...)
		if resp.GetPageInfo() != nil {
			t.Fatal("cursor mode returned page_info")
		}
		if resp.GetNextPageToken() == "" {
			if pages != 1 {
				t.Fatalf("%d pages, want 2", pages+1)
			}
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if want := []string{"S1", "S2", "S5", "S3", "S6", "S4"}; !slices.Equal(got, want) {
		t.Fatalf("cursor walk = %v, want %v", got, want)
	}

	resp, err := e.api.ListSuppliers(ctx, &intakev1.ListSuppliersRequest{Page: 2, PerPage: 4})
	if err != nil {
		t.Fatal(err)
	}
	pi := resp.GetPageInfo()
	if !slices.Equal(ids(resp.GetSuppliers()), []string{"S6", "S4"}) || pi.GetTotal() != 6 || pi.GetTotalPages() != 2 ||
		pi.GetHasNext() || pi.GetPage() != 2 || pi.GetPerPage() != 4 || resp.GetNextPageToken() != "" {
		t.Fatalf("offset page 2 = %v", resp)
	}
	resp, _ = e.api.ListSuppliers(ctx, &intakev1.ListSuppliersRequest{PerPage: 5, NaicsCode: "331110"})
	if pi := resp.GetPageInfo(); pi.GetTotal() != 2 || pi.GetPage() != 1 || pi.GetHasNext() {
		t.Fatalf("filtered offset page = %v", resp)
	}
}

func TestTransactionsCursorIsStableUnderInserts(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := as(e.a)
	resp, err := e.api.ListTransactions(ctx, &intakev1.ListTransactionsRequest{PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	got := txIDs(resp.GetTransactions())
	// Newer and older lines land between the pages.
	e.upload(t, e.a, "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"+
		"N1,2024-12-01,S1,Müller Stahl GmbH,331110,1.00,USD,new\nN2,2023-01-01,S1,Müller Stahl GmbH,331110,1.00,USD,old\n")
	tok := resp.GetNextPageToken()
	for tok != "" {
		resp, err = e.api.ListTransactions(ctx, &intakev1.ListTransactionsRequest{PageSize: 4, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, txIDs(resp.GetTransactions())...)
		tok = resp.GetNextPageToken()
	}
	want := []string{"T10", "T09", "T08", "T07", "T06", "T05", "T04", "T03", "T02", "T01", "N2"}
	if !slices.Equal(got, want) {
		t.Fatalf("walk = %v, want %v (no repeats, nothing skipped, the new older line at the end)", got, want)
	}
}

func txIDs(ts []*intakev1.Transaction) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = strings.TrimPrefix(t.GetName(), "transactions/")
	}
	return out
}

func TestTransactionFiltersAndJoins(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := as(e.a)
	cases := []struct {
		req  *intakev1.ListTransactionsRequest
		want []string
	}{
		{&intakev1.ListTransactionsRequest{Supplier: "suppliers/S1"}, []string{"T02", "T01"}},
		{&intakev1.ListTransactionsRequest{Supplier: "S3", OrderBy: "date"}, []string{"T04", "T05"}},
		{&intakev1.ListTransactionsRequest{StartDate: "2024-03-01", EndDate: "2024-04-01"}, []string{"T06", "T05", "T04"}},
		{&intakev1.ListTransactionsRequest{NaicsCode: "484110", OrderBy: "amount_usd desc"}, []string{"T07", "T04", "T05"}},
		{&intakev1.ListTransactionsRequest{Category: commonv1.ScopeCategory_SCOPE_CATEGORY_UPSTREAM_TRANSPORTATION}, []string{"T07", "T05", "T04"}},
		{&intakev1.ListTransactionsRequest{OrderBy: "amount_usd", PageSize: 2}, []string{"T08", "T06"}},
	}
	for _, c := range cases {
		resp, err := e.api.ListTransactions(ctx, c.req)
		if err != nil {
			t.Fatalf("%v: %v", c.req, err)
		}
		if got := txIDs(resp.GetTransactions()); !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.req, got, c.want)
		}
	}

	// Everything, with the supplier and the result joined in one call each.
	before := e.results.Load()
	resp, err := e.api.ListTransactions(ctx, &intakev1.ListTransactionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.results.Load() - before; n != 1 {
		t.Fatalf("%d emission-result calls for one page, want 1", n)
	}
	t4 := resp.GetTransactions()[6]
	if t4.GetName() != "transactions/T04" || t4.GetDate() != "2024-03-07" || t4.GetAmountUsd() != "300.0000" ||
		t4.GetCategory() != commonv1.ScopeCategory_SCOPE_CATEGORY_UPSTREAM_TRANSPORTATION || t4.GetSupplier().GetDisplayName() != "Acme Logistics" ||
		t4.GetEmissionResult().GetName() != "emissionResults/T04" || t4.GetRowNumber() != 5 || !strings.HasPrefix(t4.GetUpload(), "uploads/") {
		t.Fatalf("T04 = %v", t4)
	}
	// A transaction's supplier says who the supplier is; its running
	// totals, which every upload changes, come only when the mask names them.
	if s := t4.GetSupplier(); s.GetKgCo2E() != "" || s.GetSpendUsd() != "" || s.GetKgCo2EPerUsd() != "" || s.GetTransactionCount() != 0 || s.GetUpdateTime() != nil || s.GetCreateTime() == nil {
		t.Fatalf("T04's supplier = %v, want no running totals", s)
	}
	full, err := e.api.GetSupplier(ctx, &intakev1.GetSupplierRequest{Name: "suppliers/" + t4.GetSupplierId()})
	if err != nil || full.GetKgCo2E() == "" || full.GetTransactionCount() == 0 {
		t.Fatalf("T04's supplier in full = %v, %v", full, err)
	}
	withTotals, err := e.api.GetTransaction(ctx, &intakev1.GetTransactionRequest{Name: "transactions/T04",
		ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"supplier.kg_co2e", "supplier.transaction_count"}}})
	if err != nil || withTotals.GetSupplier().GetKgCo2E() != full.GetKgCo2E() || withTotals.GetSupplier().GetTransactionCount() != full.GetTransactionCount() {
		t.Fatalf("T04 with its supplier's totals = %v, %v; want kg %s, count %d", withTotals, err, full.GetKgCo2E(), full.GetTransactionCount())
	}

	// A mask without the joined fields makes no calls for them, and returns
	// only what it names.
	before = e.results.Load()
	resp, err = e.api.ListTransactions(ctx, &intakev1.ListTransactionsRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "amountUsd"}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.results.Load() - before; n != 0 {
		t.Fatalf("%d emission-result calls with a mask leaving them out", n)
	}
	if tx := resp.GetTransactions()[0]; tx.GetName() != "transactions/T10" || tx.GetAmountUsd() != "200.0000" || tx.GetDate() != "" ||
		tx.GetSupplier() != nil || tx.GetDescription() != "" {
		t.Fatalf("masked = %v", tx)
	}
	got, err := e.api.GetTransaction(ctx, &intakev1.GetTransactionRequest{Name: "transactions/T03",
		ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"supplier.display_name", "emission_result.kg_co2e"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetName() != "" || got.GetSupplier().GetDisplayName() != "ACME Steel Corp" || got.GetSupplier().GetName() != "" ||
		got.GetEmissionResult().GetKgCo2E() != "1" || got.GetEmissionResult().GetMethod() != "" {
		t.Fatalf("masked get = %v", got)
	}
	sup, err := e.api.GetSupplier(ctx, &intakev1.GetSupplierRequest{Name: "suppliers/S2", ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"kg_co2e"}}})
	if err != nil || sup.GetKgCo2E() != "1800.0000000" || sup.GetDisplayName() != "" || sup.GetName() != "" {
		t.Fatalf("masked supplier = %v, %v", sup, err)
	}
}

func TestTenantsAreIsolated(t *testing.T) {
	e := setup(t, nil, nil)
	resp, err := e.api.ListSuppliers(as(e.a), &intakev1.ListSuppliersRequest{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	other := as(e.b)
	if _, err := e.api.GetSupplier(other, &intakev1.GetSupplierRequest{Name: "suppliers/S1"}); !errors.Is(err, directory.ErrSupplierNotFound) {
		t.Fatalf("b reading a's supplier: %v", err)
	}
	if _, err := e.api.GetTransaction(other, &intakev1.GetTransactionRequest{Name: "transactions/T01"}); !errors.Is(err, directory.ErrTransactionNotFound) {
		t.Fatalf("b reading a's transaction: %v", err)
	}
	for _, req := range []*intakev1.ListSuppliersRequest{{}, {Query: "acme"}, {PerPage: 10}} {
		r, err := e.api.ListSuppliers(other, req)
		if err != nil || len(r.GetSuppliers()) != 0 {
			t.Fatalf("b listing %v: %v, %v", req, r, err)
		}
	}
	r, err := e.api.ListTransactions(other, &intakev1.ListTransactionsRequest{})
	if err != nil || len(r.GetTransactions()) != 0 {
		t.Fatalf("b listing transactions: %v, %v", r, err)
	}
	// a's token is refused for b, not answered with a's next page.
	_, err = e.api.ListSuppliers(other, &intakev1.ListSuppliersRequest{PageSize: 2, PageToken: resp.GetNextPageToken()})
	wantInvalid(t, err, "page_token", "another caller")
}

func wantInvalid(t *testing.T, err error, field, says string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument {
		t.Fatalf("err = %v, want InvalidArgument on %s", err, field)
	}
	if len(ae.Violations) != 1 || ae.Violations[0].Field != field || !strings.Contains(err.Error(), says) {
		t.Fatalf("err = %q %+v, want %s to say %q", err, ae.Violations, field, says)
	}
}

func TestBadReadInput(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := as(e.a)
	first, err := e.api.ListSuppliers(ctx, &intakev1.ListSuppliersRequest{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	txFirst, err := e.api.ListTransactions(ctx, &intakev1.ListTransactionsRequest{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	sup := []struct {
		req         *intakev1.ListSuppliersRequest
		field, says string
	}{
		{&intakev1.ListSuppliersRequest{PageSize: 1001}, "page_size", "at most 1000"},
		{&intakev1.ListSuppliersRequest{PageSize: -1}, "page_size", "positive"},
		{&intakev1.ListSuppliersRequest{PerPage: 5000}, "per_page", "at most 1000"},
		{&intakev1.ListSuppliersRequest{Page: -2}, "page", "1 or more"},
		{&intakev1.ListSuppliersRequest{Page: 100_000, PerPage: 1000}, "page", "page_token"},
		{&intakev1.ListSuppliersRequest{PageToken: "not-a-token"}, "page_token", "malformed"},
		{&intakev1.ListSuppliersRequest{PageToken: first.GetNextPageToken(), Page: 2}, "page_token", "cannot be combined"},
		{&intakev1.ListSuppliersRequest{PageSize: 10, PerPage: 10}, "page_size", "cannot be combined"},
		{&intakev1.ListSuppliersRequest{PageToken: first.GetNextPageToken(), OrderBy: "spend_usd desc"}, "page_token", "different query"},
		{&intakev1.ListSuppliersRequest{PageToken: first.GetNextPageToken(), Country: "DE"}, "page_token", "different query"},
		{&intakev1.ListSuppliersRequest{PageToken: txFirst.GetNextPageToken()}, "page_token", "different query"},
		{&intakev1.ListSuppliersRequest{OrderBy: "kg_co2e; DROP TABLE intake.suppliers"}, "order_by", "is not one of"},
		{&intakev1.ListSuppliersRequest{OrderBy: "(SELECT 1)"}, "order_by", "is not one of"},
		{&intakev1.ListSuppliersRequest{OrderBy: "relevance"}, "order_by", "needs a query"},
		{&intakev1.ListSuppliersRequest{NaicsCode: "33111' OR '1'='1"}, "naics_code", "6-digit"},
		{&intakev1.ListSuppliersRequest{Country: "Germany"}, "country", "alpha-2"},
		{&intakev1.ListSuppliersRequest{Query: strings.Repeat("x", 201)}, "query", "longer than 200"},
		// PostgreSQL refuses NUL in text: sent, it would fail the call.
		{&intakev1.ListSuppliersRequest{Query: "acme\x00"}, "query", "NUL byte"},
		{&intakev1.ListSuppliersRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"kg_co2e", "password"}}}, "read_mask", `unknown field "password" in Supplier`},
	}
	for _, c := range sup {
		_, err := e.api.ListSuppliers(ctx, c.req)
		wantInvalid(t, err, c.field, c.says)
	}
	txs := []struct {
		req         *intakev1.ListTransactionsRequest
		field, says string
	}{
		{&intakev1.ListTransactionsRequest{PageSize: 1001}, "page_size", "at most 1000"},
		{&intakev1.ListTransactionsRequest{StartDate: "2024-13-01"}, "start_date", "YYYY-MM-DD"},
		{&intakev1.ListTransactionsRequest{EndDate: "yesterday"}, "end_date", "YYYY-MM-DD"},
		{&intakev1.ListTransactionsRequest{StartDate: "2024-05-01", EndDate: "2024-01-01"}, "end_date", "before start_date"},
		{&intakev1.ListTransactionsRequest{StartDate: "0001-01-01"}, "start_date", "outside"},
		{&intakev1.ListTransactionsRequest{EndDate: "9999-12-31"}, "end_date", "outside"},
		{&intakev1.ListTransactionsRequest{Category: 99}, "category", "1-15"},
		{&intakev1.ListTransactionsRequest{Supplier: "suppliers/a/b"}, "supplier", "suppliers/{supplier}"},
		{&intakev1.ListTransactionsRequest{Supplier: "S1\x00"}, "supplier", "suppliers/{supplier}"},
		{&intakev1.ListTransactionsRequest{NaicsCode: "48411"}, "naics_code", "6-digit"},
		{&intakev1.ListTransactionsRequest{OrderBy: "tx_date desc"}, "order_by", "is not one of"},
		{&intakev1.ListTransactionsRequest{OrderBy: "date desc, 1/0"}, "order_by", "is not one of"},
		{&intakev1.ListTransactionsRequest{PageToken: txFirst.GetNextPageToken(), Supplier: "S1"}, "page_token", "different query"},
		{&intakev1.ListTransactionsRequest{PageToken: first.GetNextPageToken()}, "page_token", "different query"},
		{&intakev1.ListTransactionsRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"supplier.secret"}}}, "read_mask", `unknown field "secret" in Supplier`},
	}
	for _, c := range txs {
		_, err := e.api.ListTransactions(ctx, c.req)
		wantInvalid(t, err, c.field, c.says)
	}
	_, err = e.api.GetSupplier(ctx, &intakev1.GetSupplierRequest{Name: "S1"})
	wantInvalid(t, err, "name", "suppliers/{supplier}")
	_, err = e.api.GetTransaction(ctx, &intakev1.GetTransactionRequest{Name: "transactions/"})
	wantInvalid(t, err, "name", "transactions/{transaction_id}")
	_, err = e.api.GetSupplier(ctx, &intakev1.GetSupplierRequest{Name: "suppliers/S1\x00"})
	wantInvalid(t, err, "name", "suppliers/{supplier}")
	_, err = e.api.GetTransaction(ctx, &intakev1.GetTransactionRequest{Name: "transactions/T01\x00"})
	wantInvalid(t, err, "name", "transactions/{transaction_id}")
	_, err = e.api.BatchGetSuppliers(ctx, &intakev1.BatchGetSuppliersRequest{Names: []string{"suppliers/S1", "suppliers/\x00"}})
	wantInvalid(t, err, "names[1]", "suppliers/{supplier}")

	// Injection text in filters is data: it matches nothing and breaks nothing.
	r, err := e.api.ListSuppliers(ctx, &intakev1.ListSuppliersRequest{Query: "'; DROP TABLE intake.suppliers; --"})
	if err != nil || len(r.GetSuppliers()) != 0 {
		t.Fatalf("injection query: %v, %v", r, err)
	}
	r2, err := e.api.ListTransactions(ctx, &intakev1.ListTransactionsRequest{Supplier: "S1' OR '1'='1"})
	if err != nil || len(r2.GetTransactions()) != 0 {
		t.Fatalf("injection supplier: %v, %v", r2, err)
	}
	if all, _ := e.api.ListSuppliers(ctx, &intakev1.ListSuppliersRequest{}); len(all.GetSuppliers()) != 6 {
		t.Fatal(fmt.Sprint("suppliers gone after injection attempts: ", all))
	}
}

// A cached read served over gRPC goes out as the cached encoding itself;
// the client must see exactly what an in-process caller (which gets it
// decoded) sees, as real fields.
func TestCachedReadsOverGRPCAreTheDecodedAnswer(t *testing.T) {
	e := setup(t, &scopedCache{m: map[string]map[string][]byte{}}, nil)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(tenancy.WithTenant(ctx, e.a, "test-key"), req)
	}))
	intakev1.RegisterIntakeServiceServer(srv, e.api)
	client := intakev1.NewIntakeServiceClient(testsupport.ServeInMemory(t, srv))
	ctx := context.Background()

	txReq := &intakev1.ListTransactionsRequest{PageSize: 4}
	want, err := e.api.ListTransactions(as(e.a), txReq) // loads and caches
	if err != nil || len(want.GetTransactions()) != 4 || want.GetTransactions()[0].GetSupplier().GetDisplayName() == "" {
		t.Fatalf("in process: %v, %v", want, err)
	}
	for range 2 {
		got, err := client.ListTransactions(ctx, txReq)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) || len(got.ProtoReflect().GetUnknown()) != 0 || got.GetNextPageToken() == "" {
			t.Fatalf("over gRPC:\n%v\nin process:\n%v", got, want)
		}
	}
	sup, err := e.api.GetSupplier(as(e.a), &intakev1.GetSupplierRequest{Name: "suppliers/S1"})
	if err != nil || sup.GetDisplayName() != "Müller Stahl GmbH" {
		t.Fatalf("in process: %v, %v", sup, err)
	}
	got, err := client.GetSupplier(ctx, &intakev1.GetSupplierRequest{Name: "suppliers/S1"})
	if err != nil || !proto.Equal(got, sup) || got.GetKgCo2E() != "3000.0000000" {
		t.Fatalf("over gRPC: %v, %v; want %v", got, err, sup)
	}
}

// scopedCache is a Cache in a map whose scopes can be invalidated, counting
// its loads.
type scopedCache struct {
	mu    sync.Mutex
	m     map[string]map[string][]byte // scope -> key -> value
	loads int
}

func (c *scopedCache) Get(ctx context.Context, scope, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.m[scope][key]; ok {
		return b, nil
	}
	c.loads++
	b, err := load(ctx)
	if err == nil {
		if c.m[scope] == nil {
			c.m[scope] = map[string][]byte{}
		}
		c.m[scope][key] = b
	}
	return b, err
}

func (c *scopedCache) invalidate(scope string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, scope)
}

func (c *scopedCache) loaded() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loads
}

// An upload invalidates the reads of the suppliers it names and the
// tenant's reads across suppliers; another supplier's reads stay cached.
func TestUploadInvalidatesTheScopesOfItsSuppliers(t *testing.T) {
	c := &scopedCache{m: map[string]map[string][]byte{}}
	var heard [][]string
	e := setup(t, c, func(_ context.Context, tenant uuid.UUID, suppliers []string) {
		heard = append(heard, suppliers)
		for _, s := range grpcapi.ChangedScopes(tenant, suppliers) {
			c.invalidate(s)
		}
	})
	other := ""
	for _, id := range []string{"S2", "S3", "S4", "S5", "S6"} {
		if grpcapi.SupplierScope(e.a, id) != grpcapi.SupplierScope(e.a, "S1") {
			other = id
			break
		}
	}
	if other == "" || grpcapi.SupplierScope(e.a, "S1") == grpcapi.SupplierScope(e.b, "S1") {
		t.Fatal("the test's suppliers share a scope")
	}
	ctx := as(e.a)
	reads := func() (s1, o *intakev1.Supplier, all, ofOther *intakev1.ListTransactionsResponse) {
		t.Helper()
		var err error
		if s1, err = e.api.GetSupplier(ctx, &intakev1.GetSupplierRequest{Name: "suppliers/S1"}); err != nil {
			t.Fatal(err)
		}
		if o, err = e.api.GetSupplier(ctx, &intakev1.GetSupplierRequest{Name: "suppliers/" + other}); err != nil {
			t.Fatal(err)
		}
		if all, err = e.api.ListTransactions(ctx, &intakev1.ListTransactionsRequest{PageSize: 20}); err != nil {
			t.Fatal(err)
		}
		if ofOther, err = e.api.ListTransactions(ctx, &intakev1.ListTransactionsRequest{Supplier: other}); err != nil {
			t.Fatal(err)
		}
		return s1, o, all, ofOther
	}
	s1, o, all, ofOther := reads()
	if n := c.loaded(); n != 4 || s1.GetKgCo2E() != "3000.0000000" || len(all.GetTransactions()) != 10 {
		t.Fatalf("first reads: %d loads, S1 %v, %d transactions", n, s1, len(all.GetTransactions()))
	}

	heard = nil
	e.upload(t, e.a, "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\nT11,2024-07-01,S1,Müller Stahl GmbH,331110,10.00,USD,coil\n")
	for _, h := range heard {
		if !slices.Equal(h, []string{"S1"}) {
			t.Fatalf("the worker named %v as changed, want [S1]", heard)
		}
	}
	if len(heard) == 0 {
		t.Fatal("the worker named no change")
	}
	s1b, ob, allb, ofOtherb := reads()
	// S1 and the page across suppliers are read again; the other supplier
	// and its page are not.
	if n := c.loaded(); n != 6 || s1b.GetKgCo2E() != "3020.0000000" || len(allb.GetTransactions()) != 11 {
		t.Fatalf("after an upload naming S1: %d loads (want 6), S1 %v, %d transactions", n, s1b, len(allb.GetTransactions()))
	}
	if !proto.Equal(ob, o) || !proto.Equal(ofOtherb, ofOther) {
		t.Fatalf("%s changed: %v, then %v", other, o, ob)
	}
}
