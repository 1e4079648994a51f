package grpcapi

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/quality"
)

var supplierKinds = map[calculatorv1.SupplierFactorKind]string{
	calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_COMPANY: calculator.SupplierCompany,
	calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_PRODUCT: calculator.SupplierProduct,
}

// maxRequestID bounds a create's request_id.
const maxRequestID = 100

func (a *API) CreateSupplierFactor(ctx context.Context, req *calculatorv1.CreateSupplierFactorRequest) (*calculatorv1.SupplierFactor, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	p := req.GetSupplierFactor()
	if p == nil {
		return nil, apperr.Invalid("supplier_factor", "required")
	}
	sf := calculator.SupplierFactor{SupplierID: p.GetSupplierId(), Kind: supplierKinds[p.GetKind()], ProductID: p.GetProductId(),
		DeclaredUnit: p.GetDeclaredUnit(), Value: p.GetKgCo2EPerUnit(), ReportingYear: int16(min(max(p.GetReportingYear(), -1), 1<<15-1)),
		Verified: p.GetVerified(), PrimaryShare: p.GetPrimaryDataShare(), Boundary: p.GetBoundary()}
	for _, g := range p.GetGases() {
		sf.Gases = append(sf.Gases, calculator.Gas{Gas: g.GetGas(), Value: g.GetValue()})
	}
	for _, d := range []struct {
		field, v string
		to       *time.Time
	}{{"supplier_factor.valid_from", p.GetValidFrom(), &sf.ValidFrom}, {"supplier_factor.valid_to", p.GetValidTo(), &sf.ValidTo}} {
		if d.v == "" {
			continue // the service says it is required
		}
		if *d.to, err = time.Parse(time.DateOnly, d.v); err != nil {
			return nil, apperr.Invalid(d.field, "%q is not a YYYY-MM-DD date", d.v)
		}
	}
	if sf.RequestID = req.GetRequestId(); len(sf.RequestID) > maxRequestID || strings.ContainsRune(sf.RequestID, 0) {
		return nil, apperr.Invalid("request_id", "at most %d bytes, no NUL byte", maxRequestID)
	}
	if req.GetValidateOnly() {
		out, err := a.svc.CheckSupplierFactor(sf)
		if err != nil {
			return nil, err
		}
		p := supplierFactorProto(out)
		p.Name, p.Factor, p.CreateTime = "", "", nil
		return p, nil
	}
	out, err := a.svc.CreateSupplierFactor(ctx, tenant, sf)
	if err != nil {
		return nil, err
	}
	return supplierFactorProto(out), nil
}

func supplierFactorProto(f calculator.SupplierFactor) *calculatorv1.SupplierFactor {
	out := &calculatorv1.SupplierFactor{Name: "supplierFactors/" + strconv.FormatInt(f.ID, 10), SupplierId: f.SupplierID,
		ProductId: f.ProductID, DeclaredUnit: f.DeclaredUnit, KgCo2EPerUnit: f.Value, ReportingYear: int32(f.ReportingYear),
		Verified: f.Verified, PrimaryDataShare: f.PrimaryShare, Boundary: f.Boundary,
		ValidFrom: f.ValidFrom.Format(time.DateOnly), ValidTo: f.ValidTo.Format(time.DateOnly),
		Factor: "factorSets/" + calculator.SupplierSet + "/factors/" + f.Code(), CreateTime: timestamppb.New(f.CreateTime),
		Gases: gasesProto(f.Gases)}
	for k, v := range supplierKinds {
		if v == f.Kind {
			out.Kind = k
		}
	}
	if f.Recalculation != 0 {
		out.Recalculation = "recalculations/" + strconv.FormatInt(f.Recalculation, 10)
	}
	return out
}

func (a *API) GetSupplierFactor(ctx context.Context, req *calculatorv1.GetSupplierFactorRequest) (*calculatorv1.SupplierFactor, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := ParseID("name", "supplierFactors/", req.GetName())
	if err != nil {
		return nil, err
	}
	f, err := a.svc.SupplierFactor(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return supplierFactorProto(f), nil
}

func (a *API) ListSupplierFactors(ctx context.Context, req *calculatorv1.ListSupplierFactorsRequest) (*calculatorv1.ListSupplierFactorsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(req.GetPageSize(), 100, calculator.MaxSupplierFactors)
	if err != nil {
		return nil, err
	}
	f := calculator.FactorFilter{Suppliers: req.GetSupplierIds()}
	switch {
	case req.GetSupplierId() != "" && len(f.Suppliers) > 0:
		return nil, apperr.Invalid("supplier_ids", "give supplier_id or supplier_ids, not both")
	case req.GetSupplierId() != "":
		f.Suppliers = []string{req.GetSupplierId()}
	}
	if t := req.GetMinCreateTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			return nil, apperr.Invalid("min_create_time", "%v", err)
		}
		f.Since = t.AsTime()
	}
	// The token holds the filter's fingerprint: a page of one listing does
	// not continue another.
	fp := "supplierFactors?" + strings.Join(f.Suppliers, "\x00") + "?" + f.Since.Format(time.RFC3339Nano)
	after, err := a.afterID(tenant, fp, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	fs, err := a.svc.ListSupplierFactors(ctx, tenant, f, limit+1, after)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.ListSupplierFactorsResponse{}
	if len(fs) > limit {
		fs = fs[:limit]
		resp.NextPageToken = a.idToken(tenant, fp, fs[limit-1].ID)
	}
	for _, f := range fs {
		resp.SupplierFactors = append(resp.SupplierFactors, supplierFactorProto(f))
	}
	return resp, nil
}

func (a *API) GetInventory(ctx context.Context, req *calculatorv1.GetInventoryRequest) (*calculatorv1.Inventory, error) {
	in, err := summaryArgs(ctx, req.GetGwpBasis(), req.GetPeriodStart(), req.GetPeriodEnd(), req.GetSnapshot(), req.GetAsOfDate())
	if err != nil {
		return nil, err
	}
	if in.p.Snapshot != 0 && !in.p.Day.IsZero() {
		return nil, apperr.Invalid("as_of_date", "give a snapshot or a date, not both")
	}
	at := calculator.InventoryAt{From: in.p.From, To: in.p.To, Snapshot: in.p.Snapshot, Day: in.p.Day}
	at.Months = req.GetIncludeMonths()
	inv, err := a.svc.Inventory(ctx, in.tenant, at, in.basis, int(req.GetIterations()), req.GetSeed())
	if err != nil {
		return nil, err
	}
	return inventoryProto(inv, req.GetIncludeGroups()), nil
}

// parseMonth reads field's "YYYY-MM" as its first day; "" is zero.
func parseMonth(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return time.Time{}, apperr.Invalid(field, "%q is not a YYYY-MM month", s)
	}
	return t, nil
}

func inventoryProto(inv calculator.Inventory, groups bool) *calculatorv1.Inventory {
	out := &calculatorv1.Inventory{GwpBasis: refdata.BasisProto(inv.Basis), TotalKgCo2E: inv.Kg, LineCount: inv.Count,
		Methods: methodsProto(inv.Methods), DataQuality: qualityProto(inv.Quality), Uncertainty: rangeProto(inv.Uncertainty),
		Iterations: int32(min(inv.Iterations, math.MaxInt32)), Seed: inv.Seed, //nolint:gosec // bounded by min
		GroupCount: int32(min(len(inv.Groups), math.MaxInt32)), FactorCount: int32(min(inv.Factors, math.MaxInt32)), //nolint:gosec // bounded by min
		ReadTime: timestamppb.New(inv.ReadTime)}
	if !inv.Day.IsZero() {
		out.AsOfDate = inv.Day.Format(time.DateOnly)
	}
	if inv.Snapshot != 0 {
		out.Snapshot = snapshotName(inv.Snapshot)
	}
	if !inv.From.IsZero() {
		out.PeriodStart, out.PeriodEnd = inv.From.Format("2006-01"), inv.To.Format("2006-01")
	}
	for _, m := range inv.Months {
		out.Months = append(out.Months, &calculatorv1.InventoryMonth{Month: m.Month.Format("2006-01"), KgCo2E: m.Kg, LineCount: m.Count})
	}
	for _, c := range inv.Categories {
		title, _ := calculator.CategoryName(int(c.Category))
		out.Categories = append(out.Categories, &calculatorv1.InventoryCategory{Category: commonv1.ScopeCategory(c.Category), Title: title,
			KgCo2E: c.Kg, LineCount: c.Count, Share: c.Share, Methods: methodsProto(c.Methods), DataQuality: qualityProto(c.Quality),
			Uncertainty: rangeProto(c.Uncertainty)})
	}
	if groups {
		for _, g := range inv.Groups {
			ind := ""
			if g.DQ != 0 {
				ind = strconv.Itoa(int(g.DQ))
			}
			out.Groups = append(out.Groups, &calculatorv1.InventoryGroup{Category: commonv1.ScopeCategory(g.Category),
				Factor: "factorSets/" + g.Set + "/factors/" + g.Code, Method: g.Method, Indicators: ind, KgCo2E: g.Kg,
				LineCount: g.Count, Sigma2: g.Sigma2})
		}
	}
	return out
}

func methodsProto(ms []calculator.MethodShare) []*calculatorv1.MethodShare {
	out := make([]*calculatorv1.MethodShare, len(ms))
	for i, m := range ms {
		out[i] = &calculatorv1.MethodShare{Method: m.Method, KgCo2E: m.Kg, LineCount: m.Count, Share: m.Share}
	}
	return out
}

func qualityProto(q calculator.Quality) *calculatorv1.DataQuality {
	if q.Score == "" {
		return nil // nothing assessed
	}
	i := q.Indicators
	return &calculatorv1.DataQuality{Technology: i.Technology, Time: i.Time, Geography: i.Geography, Completeness: i.Completeness,
		Reliability: i.Reliability, Score: q.Score}
}

// rangeProto reports percentiles to the gram: a Monte Carlo range is an
// estimate, not an exact sum.
func rangeProto(r quality.Range) *calculatorv1.UncertaintyRange {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	return &calculatorv1.UncertaintyRange{P5: f(r.P5), P50: f(r.P50), P95: f(r.P95)}
}

func (a *API) CreateInventorySnapshot(ctx context.Context, req *calculatorv1.CreateInventorySnapshotRequest) (*calculatorv1.InventorySnapshot, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	n, err := a.svc.CreateSnapshot(ctx, tenant, req.GetSnapshot().GetDisplayName())
	if err != nil {
		return nil, err
	}
	return snapshotProto(n), nil
}

func snapshotProto(n calculator.Snapshot) *calculatorv1.InventorySnapshot {
	return &calculatorv1.InventorySnapshot{Name: snapshotName(n.ID), DisplayName: n.Name,
		CreateTime: timestamppb.New(n.CreateTime), GwpBasis: refdata.BasisProto(n.Basis), TotalKgCo2E: n.Kg, LineCount: n.Count,
		MonthsRecorded: n.Months, SuppliersRecorded: n.Suppliers}
}

func (a *API) ListInventorySnapshots(ctx context.Context, _ *calculatorv1.ListInventorySnapshotsRequest) (*calculatorv1.ListInventorySnapshotsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	ns, err := a.svc.Snapshots(ctx, tenant)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.ListInventorySnapshotsResponse{}
	for _, n := range ns {
		resp.Snapshots = append(resp.Snapshots, snapshotProto(n))
	}
	return resp, nil
}

// IntakeTotals is intake's supplier totals, kept in step with
// recalculations through c.
func IntakeTotals(c intakev1.IntakeServiceClient) calculator.SupplierTotals { return intakeTotals{c} }

type intakeTotals struct{ c intakev1.IntakeServiceClient }

func (t intakeTotals) AdjustSupplierTotals(ctx context.Context, tenant uuid.UUID, id string, suppliers []calculator.Group) error {
	req := &intakev1.AdjustSupplierTotalsRequest{AdjustmentId: id, Suppliers: make([]*commonv1.EmissionTotal, len(suppliers))}
	for i, g := range suppliers {
		req.Suppliers[i] = &commonv1.EmissionTotal{Key: g.Key, KgCo2E: g.Kg}
	}
	// As the tenant, with the calculator's service token (service.Dial).
	_, err := t.c.AdjustSupplierTotals(tenancy.AsService(ctx, tenant, ""), req)
	return err
}
