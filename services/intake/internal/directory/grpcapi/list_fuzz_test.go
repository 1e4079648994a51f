package grpcapi_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/intake/internal/directory"
	"github.com/vcci-dev/vcci/services/intake/internal/directory/grpcapi"
	dirstore "github.com/vcci-dev/vcci/services/intake/internal/directory/store"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// fuzzAPI is the directory's API over a database holding suppliersFile for
// tenant a, shared by the fuzzing processes (testsupport.FuzzPool).
func fuzzAPI(f *testing.F) (*grpcapi.API, context.Context) {
	pool := testsupport.FuzzPool(f, "intake_read", func(pool *pgxpool.Pool) {
		st := store.New(pool)
		svc := intake.New(st, 1<<20)
		if _, err := svc.Receive(context.Background(), testsupport.Tenant(f, pool, "a"), intake.NewUpload{Filename: "f.csv"}, strings.NewReader(suppliersFile)); err != nil {
			f.Fatal(err)
		}
		intaketest.Drain(f, pool, intaketest.NewWorker(st, intaketest.NewCalc(), intake.WorkerOptions{}))
	}, store.Migrate)
	api := grpcapi.New(directory.New(dirstore.New(pool)), pagetoken.New([]byte("0123456789abcdef0123456789abcdef")), nil, nil)
	return api, as(testsupport.Tenant(f, pool, "a"))
}

// readMask is a REST-style read_mask (comma-separated); nil when empty.
func readMask(s string) *fieldmaskpb.FieldMask {
	if s == "" {
		return nil
	}
	return &fieldmaskpb.FieldMask{Paths: strings.Split(s, ",")}
}

// text is s as a request can carry it: protobuf strings are valid UTF-8.
func text(s string) string { return strings.ToValidUTF8(s, "") }

// wantBadField fails t unless err is nil or one InvalidArgument on one of
// fields: anything else (a database error is Internal) means a filter
// reached PostgreSQL in a form it refused.
func wantBadField(t *testing.T, err error, fields ...string) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || len(ae.Violations) != 1 || !slices.Contains(fields, ae.Violations[0].Field) {
		t.Fatalf("err = %v (%#v), want nil or InvalidArgument on one of %v", err, err, fields)
	}
}

// checkPage fails t if a page of n rows is larger than the request's size
// (pageSize or perPage; 0 means 50), or if, asked to follow, the page after
// it (read with next) fails.
func checkPage(t *testing.T, n int, pageSize, perPage int32, follow bool, next string, read func(token string) error) {
	t.Helper()
	size := max(int(pageSize), int(perPage))
	if size == 0 {
		size = 50
	}
	if n > size {
		t.Fatalf("%d rows on a page of %d", n, size)
	}
	if follow && next != "" {
		wantBadField(t, read(next))
	}
}

// FuzzListSuppliers sends ListSuppliers arbitrary filters, order, mask and
// paging, against PostgreSQL, and follows the next page token when asked.
func FuzzListSuppliers(f *testing.F) {
	f.Add("", "", "", "", "", int32(0), int32(0), int32(0), false)
	f.Add("acme", "", "us", "spend_usd desc", "name,displayName,kg_co2e", int32(1), int32(0), int32(0), true)
	f.Add("müller stahl", "331110", "DE", "relevance", "", int32(0), int32(1), int32(2), false)
	f.Add("100%_", "484110", "", "KG_CO2E  ASC", "country,naics_codes", int32(2), int32(0), int32(0), true)
	f.Add("'; DROP TABLE intake.suppliers; --", "", "", "display_name desc", "kgCo2ePerUsd", int32(1000), int32(0), int32(0), true)
	f.Add("", "", "", "transaction_count desc", "supplier.name", int32(-1), int32(100000), int32(1000), false)
	api, ctx := fuzzAPI(f)
	fields := []string{"query", "naics_code", "country", "order_by", "read_mask", "page_size", "page_token", "page", "per_page"}
	f.Fuzz(func(t *testing.T, query, naics, country, orderBy, mask string, pageSize, page, perPage int32, follow bool) {
		req := &intakev1.ListSuppliersRequest{Query: text(query), NaicsCode: text(naics), Country: text(country), OrderBy: text(orderBy),
			ReadMask: readMask(text(mask)), PageSize: pageSize, Page: page, PerPage: perPage}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		resp, err := api.ListSuppliers(ctx, req)
		wantBadField(t, err, fields...)
		if err == nil {
			checkPage(t, len(resp.GetSuppliers()), req.GetPageSize(), req.GetPerPage(), follow, resp.GetNextPageToken(), func(token string) error {
				req.PageToken = token
				_, err := api.ListSuppliers(ctx, req)
				return err
			})
		}
	})
}

// FuzzListTransactions is FuzzListSuppliers for ListTransactions.
func FuzzListTransactions(f *testing.F) {
	f.Add("", "", "", "", "", "", int32(0), int32(0), int32(0), int32(0), false)
	f.Add("suppliers/S1", "2024-01-01", "2024-03-31", "", "amount_usd desc", "date,amountUsd,supplier.displayName", int32(0), int32(1), int32(0), int32(0), true)
	f.Add("S3", "2024-02-15", "", "484110", "date", "supplier", int32(1), int32(0), int32(2), int32(1), false)
	f.Add("", "2024-01-10", "2024-05-20", "331110", "DATE DESC", "emission_result,row_number,upload", int32(commonv1.ScopeCategory_SCOPE_CATEGORY_INVESTMENTS), int32(2), int32(0), int32(0), true)
	f.Add("suppliers/a/b", "2024-13-01", "yesterday", "48411", "tx_date desc", "supplier.secret", int32(99), int32(-5), int32(-1), int32(0), false)
	f.Add("S1'; --", "1900-01-01", "2199-12-31", "", "amount_usd", "", int32(0), int32(0), int32(3), int32(500), true)
	api, ctx := fuzzAPI(f)
	fields := []string{"supplier", "start_date", "end_date", "naics_code", "category", "order_by", "read_mask", "page_size", "page_token", "page", "per_page"}
	f.Fuzz(func(t *testing.T, supplier, start, end, naics, orderBy, mask string, category, pageSize, page, perPage int32, follow bool) {
		req := &intakev1.ListTransactionsRequest{Supplier: text(supplier), StartDate: text(start), EndDate: text(end), NaicsCode: text(naics),
			Category: commonv1.ScopeCategory(category), OrderBy: text(orderBy), ReadMask: readMask(text(mask)),
			PageSize: pageSize, Page: page, PerPage: perPage}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		resp, err := api.ListTransactions(ctx, req)
		wantBadField(t, err, fields...)
		if err == nil {
			checkPage(t, len(resp.GetTransactions()), req.GetPageSize(), req.GetPerPage(), follow, resp.GetNextPageToken(), func(token string) error {
				req.PageToken = token
				_, err := api.ListTransactions(ctx, req)
				return err
			})
		}
	})
}
