// Package grpcapi translates between intake's contract and the directory:
// the reads of suppliers and transactions.
package grpcapi

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/batch"
	"github.com/vcci-dev/vcci/pkg/cache"
	"github.com/vcci-dev/vcci/pkg/fieldmask"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/intake/internal/directory"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// ResultFetcher resolves emission results by transaction id and date (the
// calculator's BatchGetEmissionResults); ids not calculated are left out.
type ResultFetcher func(ctx context.Context, tenant uuid.UUID, ids []string, dates []string) (map[string]*calculatorv1.EmissionResult, error)

// Cache keeps encoded responses per tenant; Get loads on a miss.
type Cache interface {
	Get(ctx context.Context, scope, key string, load func(context.Context) ([]byte, error)) ([]byte, error)
}

// API implements the directory's RPCs of intakev1.IntakeServiceServer:
// reads of suppliers and transactions. The upload RPCs answer
// Unimplemented here; intake's API serves them and forwards reads here.
type API struct {
	intakev1.UnimplementedIntakeServiceServer
	svc     *directory.Service
	tokens  *pagetoken.Codec
	results ResultFetcher
	cache   Cache // nil: no caching
}

// New returns the API over svc. tokens seal page tokens; results, if not
// nil, resolves the emission results of transactions; answers, if not
// nil, keeps the encoded answers.
func New(svc *directory.Service, tokens *pagetoken.Codec, results ResultFetcher, answers Cache) *API {
	return &API{svc: svc, tokens: tokens, results: results, cache: answers}
}

// filterDates are the bounds outside which a date filter is refused as
// absurd.
func filterDates() (lo, hi time.Time) {
	return time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2199, 12, 31, 0, 0, 0, 0, time.UTC)
}

const (
	defaultPageSize = 50
	maxQueryLen     = 200
	maxIDLen        = 128
	// maxOffset bounds offset pagination: deep pages cost a scan of every
	// row before them, so past this the cursor is the way.
	maxOffset = 100_000
)

func (a *API) GetSupplier(ctx context.Context, req *intakev1.GetSupplierRequest) (*intakev1.Supplier, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := supplierID("name", req.GetName(), true)
	if err != nil {
		return nil, err
	}
	mask, err := fieldmask.Parse(&intakev1.Supplier{}, req.GetReadMask(), "read_mask")
	if err != nil {
		return nil, err
	}
	out := &intakev1.Supplier{}
	err = a.cached(ctx, SupplierScope(tenant, id), "get|"+id+"|"+mask.String(), out, func(ctx context.Context) (proto.Message, error) {
		s, err := a.svc.Supplier(ctx, tenant, id, mask.Fields())
		if err != nil {
			return nil, err
		}
		p := supplierProto(s)
		mask.Prune(p)
		return p, nil
	})
	return out, err
}

func (a *API) BatchGetSuppliers(ctx context.Context, req *intakev1.BatchGetSuppliersRequest) (*intakev1.BatchGetSuppliersResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(req.GetNames()))
	for i, n := range req.GetNames() {
		id, ok := strings.CutPrefix(n, "suppliers/")
		if !ok || id == "" || strings.IndexByte(id, 0) >= 0 {
			return nil, apperr.Invalid(fmt.Sprintf("names[%d]", i), "%q is not suppliers/{supplier}", n)
		}
		ids[i] = id
	}
	ss, err := a.svc.Suppliers(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	resp := &intakev1.BatchGetSuppliersResponse{}
	for _, s := range ss {
		resp.Suppliers = append(resp.Suppliers, supplierProto(s))
	}
	return resp, nil
}

func (a *API) ListSuppliers(ctx context.Context, req *intakev1.ListSuppliersRequest) (*intakev1.ListSuppliersResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	q := directory.SupplierQuery{Text: strings.TrimSpace(req.GetQuery()), NAICS: req.GetNaicsCode(), Country: strings.ToUpper(req.GetCountry())}
	switch {
	case len(q.Text) > maxQueryLen:
		return nil, apperr.Invalid("query", "longer than %d bytes", maxQueryLen)
	case !utf8.ValidString(q.Text):
		return nil, apperr.Invalid("query", "not valid UTF-8")
	case strings.IndexByte(q.Text, 0) >= 0:
		return nil, apperr.Invalid("query", "contains a NUL byte")
	case q.NAICS != "" && !intake.IsNAICS(q.NAICS):
		return nil, apperr.Invalid("naics_code", "%q is not a 6-digit NAICS code", q.NAICS)
	case q.Country != "" && !intake.IsCountry(q.Country):
		return nil, apperr.Invalid("country", "%q is not an ISO 3166-1 alpha-2 code (like DE or US)", req.GetCountry())
	}
	def := "kg_co2e desc"
	if q.Text != "" {
		def = "relevance"
	}
	if q.Order, err = orderBy(req.GetOrderBy(), def, directory.SupplierOrders()); err != nil {
		return nil, err
	}
	if q.Order == "relevance" && q.Text == "" {
		return nil, apperr.Invalid("order_by", "relevance needs a query to be relevant to")
	}
	mask, err := fieldmask.Parse(&intakev1.Supplier{}, req.GetReadMask(), "read_mask")
	if err != nil {
		return nil, err
	}
	q.Fields = mask.Fields()
	fp := fmt.Sprintf("suppliers|q=%s|naics=%s|country=%s|order=%s", q.Text, q.NAICS, q.Country, q.Order)
	if q.Page, err = a.page(tenant, fp, req.GetPageSize(), req.GetPageToken(), req.GetPage(), req.GetPerPage()); err != nil {
		return nil, err
	}
	out := &intakev1.ListSuppliersResponse{}
	key := fmt.Sprintf("list|%s|%s|%d|%d|%d|%s", fp, req.GetPageToken(), q.Limit, q.Offset, req.GetPage(), mask)
	err = a.cached(ctx, tenant.String(), key, out, func(ctx context.Context) (proto.Message, error) {
		page, err := a.svc.ListSuppliers(ctx, tenant, q)
		if err != nil {
			return nil, err
		}
		resp := &intakev1.ListSuppliersResponse{Suppliers: make([]*intakev1.Supplier, len(page.Suppliers))}
		for i, s := range page.Suppliers {
			resp.Suppliers[i] = supplierProto(s)
			mask.Prune(resp.GetSuppliers()[i])
		}
		a.finishPage(tenant, fp, q.Page, req.GetPage(), page.Next, page.Total, &resp.NextPageToken, &resp.PageInfo)
		return resp, nil
	})
	return out, err
}

func (a *API) GetTransaction(ctx context.Context, req *intakev1.GetTransactionRequest) (*intakev1.Transaction, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, ok := strings.CutPrefix(req.GetName(), "transactions/")
	if !ok || badID(id) {
		return nil, apperr.Invalid("name", "%q is not transactions/{transaction_id}", req.GetName())
	}
	mask, err := fieldmask.Parse(&intakev1.Transaction{}, req.GetReadMask(), "read_mask")
	if err != nil {
		return nil, err
	}
	t, err := a.svc.Transaction(ctx, tenant, id, mask.Fields())
	if err != nil {
		return nil, err
	}
	out, err := a.transactions(ctx, tenant, []directory.Transaction{t}, mask)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func (a *API) ListTransactions(ctx context.Context, req *intakev1.ListTransactionsRequest) (*intakev1.ListTransactionsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	q := directory.TransactionQuery{NAICS: req.GetNaicsCode()}
	cat := req.GetCategory()
	if req.GetSupplier() != "" {
		if q.SupplierID, err = supplierID("supplier", req.GetSupplier(), false); err != nil {
			return nil, err
		}
	}
	if q.Start, err = filterDate("start_date", req.GetStartDate()); err != nil {
		return nil, err
	}
	if q.End, err = filterDate("end_date", req.GetEndDate()); err != nil {
		return nil, err
	}
	switch {
	case !q.Start.IsZero() && !q.End.IsZero() && q.End.Before(q.Start):
		return nil, apperr.Invalid("end_date", "%s is before start_date %s", req.GetEndDate(), req.GetStartDate())
	case q.NAICS != "" && !intake.IsNAICS(q.NAICS):
		return nil, apperr.Invalid("naics_code", "%q is not a 6-digit NAICS code", q.NAICS)
	case cat < 0 || cat > commonv1.ScopeCategory_SCOPE_CATEGORY_INVESTMENTS:
		return nil, apperr.Invalid("category", "%d is not a Scope 3 category (1-15)", cat)
	}
	q.Category = int16(cat)
	if q.Order, err = orderBy(req.GetOrderBy(), "date desc", directory.TransactionOrders()); err != nil {
		return nil, err
	}
	mask, err := fieldmask.Parse(&intakev1.Transaction{}, req.GetReadMask(), "read_mask")
	if err != nil {
		return nil, err
	}
	q.Fields = mask.Fields()
	fp := fmt.Sprintf("transactions|supplier=%s|start=%s|end=%s|naics=%s|cat=%d|order=%s",
		q.SupplierID, req.GetStartDate(), req.GetEndDate(), q.NAICS, q.Category, q.Order)
	if q.Page, err = a.page(tenant, fp, req.GetPageSize(), req.GetPageToken(), req.GetPage(), req.GetPerPage()); err != nil {
		return nil, err
	}
	// A page, with its suppliers and emission results, is cached until the
	// tenant's next upload is validated or calculated; one supplier's page,
	// until the next one that names a supplier of its scope.
	out := &intakev1.ListTransactionsResponse{}
	key := fmt.Sprintf("txlist|%s|%s|%d|%d|%d|%s", fp, req.GetPageToken(), q.Limit, q.Offset, req.GetPage(), mask)
	scope := tenant.String()
	if q.SupplierID != "" {
		scope = SupplierScope(tenant, q.SupplierID)
	}
	err = a.cached(ctx, scope, key, out, func(ctx context.Context) (proto.Message, error) {
		page, err := a.svc.ListTransactions(ctx, tenant, q)
		if err != nil {
			return nil, err
		}
		resp := &intakev1.ListTransactionsResponse{}
		if resp.Transactions, err = a.transactions(ctx, tenant, page.Transactions, mask); err != nil {
			return nil, err
		}
		a.finishPage(tenant, fp, q.Page, req.GetPage(), page.Next, page.Total, &resp.NextPageToken, &resp.PageInfo)
		return resp, nil
	})
	return out, err
}

// transactions builds the protos of ts, resolving their suppliers and
// emission results in one batched call each, and only when the mask asks.
func (a *API) transactions(ctx context.Context, tenant uuid.UUID, ts []directory.Transaction, mask fieldmask.Mask) ([]*intakev1.Transaction, error) {
	var suppliers map[string]directory.Supplier
	var results map[string]*calculatorv1.EmissionResult
	ids := func(f func(directory.Transaction) string) []string {
		seen := make(map[string]bool, len(ts))
		out := make([]string, 0, len(ts))
		for _, t := range ts {
			if k := f(t); !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		return out
	}
	if mask.Has("supplier") && len(ts) > 0 {
		sub := mask.Sub("supplier").Fields()
		if sub == nil {
			sub = supplierIdentity()
		}
		loader := batch.New(func(ctx context.Context, keys []string) (map[string]directory.Supplier, error) {
			ss, err := a.svc.SuppliersByID(ctx, tenant, keys, sub)
			if err != nil {
				return nil, err
			}
			m := make(map[string]directory.Supplier, len(ss))
			for _, s := range ss {
				m[s.ID] = s
			}
			return m, nil
		}, batch.Options{MaxBatch: directory.MaxPageSize})
		var err error
		if suppliers, err = loader.LoadMany(ctx, ids(func(t directory.Transaction) string { return t.SupplierID })); err != nil {
			return nil, err
		}
	}
	if mask.Has("emission_result") && len(ts) > 0 && a.results != nil {
		txIDs, dates := make([]string, len(ts)), make([]string, len(ts))
		for i, t := range ts {
			txIDs[i], dates[i] = t.ID, t.Date.Format(time.DateOnly)
		}
		var err error
		if results, err = a.results(ctx, tenant, txIDs, dates); err != nil {
			return nil, fmt.Errorf("reading emission results: %w", err)
		}
	}
	out := make([]*intakev1.Transaction, len(ts))
	for i, t := range ts {
		p := &intakev1.Transaction{Name: "transactions/" + t.ID, SupplierId: t.SupplierID, NaicsCode: t.NAICS, AmountUsd: t.Amount,
			Amount: t.Original, Currency: t.Currency, Description: t.Desc, Category: commonv1.ScopeCategory(t.Category), RowNumber: t.Row,
			CategorySource: t.CategorySource}
		if !t.Date.IsZero() {
			p.Date = t.Date.Format(time.DateOnly)
		}
		if t.Upload != 0 {
			p.Upload = "uploads/" + strconv.FormatInt(t.Upload, 10)
		}
		if s, ok := suppliers[t.SupplierID]; ok {
			p.Supplier = supplierProto(s)
		}
		p.EmissionResult = results[t.ID]
		mask.Prune(p)
		out[i] = p
	}
	return out, nil
}

// supplierIdentity are the supplier fields a transaction carries unless
// its read mask names others (supplier.kg_co2e): who the supplier is. The
// running totals change with every upload; in every line of every page,
// they would change each page, and its ETag, after each upload, and cost
// the lookup a join.
func supplierIdentity() []string {
	return []string{"display_name", "country", "naics_codes", "create_time"}
}

// page reads the pagination fields: cursor (page_size, page_token) or
// offset (page, per_page), never both.
func (a *API) page(tenant uuid.UUID, fp string, size int32, token string, page, perPage int32) (directory.Page, error) {
	if page != 0 || perPage != 0 {
		switch {
		case token != "":
			return directory.Page{}, apperr.Invalid("page_token", "cannot be combined with page and per_page; use one way of paging")
		case size != 0:
			return directory.Page{}, apperr.Invalid("page_size", "cannot be combined with page and per_page; offset paging uses per_page")
		case page < 0:
			return directory.Page{}, apperr.Invalid("page", "must be 1 or more, got %d", page)
		}
		n, err := limit("per_page", perPage)
		if err != nil {
			return directory.Page{}, err
		}
		if page == 0 {
			page = 1
		}
		off := (int64(page) - 1) * int64(n)
		if off > maxOffset {
			return directory.Page{}, apperr.Invalid("page", "page %d starts past row %d, the deepest offset served; use page_token to go further", page, maxOffset)
		}
		return directory.Page{Limit: n, Offset: int(off), Count: true}, nil
	}
	n, err := limit("page_size", size)
	if err != nil {
		return directory.Page{}, err
	}
	p := directory.Page{Limit: n}
	if token != "" {
		keys, err := a.tokens.Decode(token, tenant, fp)
		if err != nil {
			return directory.Page{}, err
		}
		if len(keys) != 2 {
			return directory.Page{}, apperr.Invalid("page_token", "is malformed; pass next_page_token unchanged")
		}
		p.After = keys
	}
	return p, nil
}

// count32 is n as the contract's int32, held within 0 and MaxInt32.
func count32(n int64) int32 { return int32(min(max(n, 0), math.MaxInt32)) }

// finishPage sets the next page token (cursor mode) or the page info.
func (a *API) finishPage(tenant uuid.UUID, fp string, p directory.Page, page int32, next []string, total int64, token *string, info **commonv1.PageInfo) {
	if p.Count {
		if page == 0 {
			page = 1
		}
		pages := (total + int64(p.Limit) - 1) / int64(p.Limit)
		*info = &commonv1.PageInfo{Page: page, PerPage: count32(int64(p.Limit)), Total: total, TotalPages: count32(pages),
			HasNext: int64(p.Offset+p.Limit) < total}
		return
	}
	if next != nil {
		*token = a.tokens.Encode(tenant, fp, next)
	}
}

func limit(field string, n int32) (int, error) {
	switch {
	case n == 0:
		return defaultPageSize, nil
	case n < 0:
		return 0, apperr.Invalid(field, "must be positive, got %d", n)
	case n > directory.MaxPageSize:
		return 0, apperr.Invalid(field, "must be at most %d, got %d", directory.MaxPageSize, n)
	}
	return int(n), nil
}

// orderBy normalises an order_by value ("KG_CO2E  DESC", "spend_usd asc")
// and checks it against the allowed ones.
func orderBy(v, def string, allowed []string) (string, error) {
	v = strings.Join(strings.Fields(strings.ToLower(v)), " ")
	v = strings.TrimSuffix(v, " asc")
	if v == "" {
		return def, nil
	}
	if !slices.Contains(allowed, v) {
		return "", apperr.Invalid("order_by", "%q is not one of: %s", v, strings.Join(allowed, ", "))
	}
	return v, nil
}

func filterDate(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return d, apperr.Invalid(field, "%q is not a YYYY-MM-DD date", v)
	}
	if lo, hi := filterDates(); d.Before(lo) || d.After(hi) {
		return d, apperr.Invalid(field, "%s is outside %s..%s", v, lo.Format(time.DateOnly), hi.Format(time.DateOnly))
	}
	return d, nil
}

// badID reports an id no row can have. PostgreSQL refuses a NUL byte in
// text outright: looked up, it would fail the call instead of finding
// nothing.
func badID(id string) bool {
	return id == "" || len(id) > maxIDLen || strings.ContainsAny(id, "/\x00")
}

// supplierID reads "suppliers/{id}" (or, unless strict, a bare id).
func supplierID(field, v string, strict bool) (string, error) {
	id, ok := strings.CutPrefix(v, "suppliers/")
	if !ok && !strict {
		id, ok = v, true
	}
	if !ok || badID(id) {
		return "", apperr.Invalid(field, "%q is not suppliers/{supplier}", v)
	}
	return id, nil
}

func supplierProto(s directory.Supplier) *intakev1.Supplier {
	p := &intakev1.Supplier{Name: "suppliers/" + s.ID, DisplayName: s.Name, Country: s.Country, NaicsCodes: s.NAICSCodes,
		SpendUsd: s.Spend, KgCo2E: s.Kg, KgCo2EPerUsd: s.Intensity, TransactionCount: s.Count}
	if !s.CreatedAt.IsZero() {
		p.CreateTime = timestamppb.New(s.CreatedAt)
	}
	if !s.UpdatedAt.IsZero() {
		p.UpdateTime = timestamppb.New(s.UpdatedAt)
	}
	return p
}

// supplierScopes is how many cache scopes a tenant's reads of one supplier
// (the supplier, its transactions) are spread over, by a hash of its id.
// An upload invalidates the scopes of the suppliers it names and the
// tenant's own (every read across suppliers), so a supplier's reads outlive
// writes to suppliers in other scopes.
const supplierScopes = 64

// SupplierScope is the cache scope of the reads of one supplier of tenant.
func SupplierScope(tenant uuid.UUID, supplier string) string {
	h := fnv.New32a()
	h.Write([]byte(supplier))
	return scopeNumber(tenant, h.Sum32()%supplierScopes)
}

func scopeNumber(tenant uuid.UUID, i uint32) string {
	return tenant.String() + "/suppliers/" + strconv.FormatUint(uint64(i), 10)
}

// ChangedScopes are the cache scopes to invalidate when suppliers of tenant
// changed (nil: any of them): the tenant's, then the suppliers'.
func ChangedScopes(tenant uuid.UUID, suppliers []string) []string {
	out := []string{tenant.String()}
	if suppliers == nil {
		for i := range uint32(supplierScopes) {
			out = append(out, scopeNumber(tenant, i))
		}
		return out
	}
	seen := make(map[string]bool, len(suppliers))
	for _, s := range suppliers {
		if sc := SupplierScope(tenant, s); !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	return out
}

// cached answers from the cache when there is one, filling out.
func (a *API) cached(ctx context.Context, scope string, key string, out proto.Message, load func(context.Context) (proto.Message, error)) error {
	if a.cache == nil {
		m, err := load(ctx)
		if err != nil {
			return err
		}
		proto.Merge(out, m)
		return nil
	}
	// The answer is the cached value and nothing else, so the REST gateway
	// may keep it until the version it was read under is invalidated.
	ctx, stamps := cache.CollectStamps(ctx)
	b, err := a.cache.Get(ctx, scope, key, func(ctx context.Context) ([]byte, error) {
		m, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(m)
	})
	if err != nil {
		return err
	}
	grpcserver.MarkCached(ctx, stamps)
	if grpc.ServerTransportStreamFromContext(ctx) != nil {
		// The answer goes out over gRPC, which only encodes it: hand it the
		// cached encoding as it is, rather than decoding it here to have it
		// encoded again (most of a cached read's cost). Unknown fields are
		// written out verbatim, and the client decodes them as the fields
		// they are. The bytes are shared and never changed.
		out.ProtoReflect().SetUnknown(b)
		return nil
	}
	if err := proto.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode cached answer: %w", err)
	}
	return nil
}
