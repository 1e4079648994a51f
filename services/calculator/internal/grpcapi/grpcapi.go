// Package grpcapi translates between the calculator's contract and its domain.
package grpcapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/cache"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/quality"
)

// API implements calculatorv1.CalculatorServiceServer.
type API struct {
	calculatorv1.UnimplementedCalculatorServiceServer
	svc    *calculator.Service
	tokens *pagetoken.Codec
}

// New returns the API over svc; tokens seal page tokens.
func New(svc *calculator.Service, tokens *pagetoken.Codec) *API {
	return &API{svc: svc, tokens: tokens}
}

// defaultPageSize is a factor page's size when the request gives none.
const defaultPageSize = 50

func (a *API) ListFactorSets(ctx context.Context, _ *calculatorv1.ListFactorSetsRequest) (*calculatorv1.ListFactorSetsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	sets, err := a.svc.FactorSets(ctx, tenant)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.ListFactorSetsResponse{}
	for _, s := range sets {
		resp.FactorSets = append(resp.FactorSets, factorSetProto(s))
	}
	return resp, nil
}

func (a *API) BatchGetFactors(ctx context.Context, req *calculatorv1.BatchGetFactorsRequest) (*calculatorv1.BatchGetFactorsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]calculator.FactorKey, len(req.GetNames()))
	for i, n := range req.GetNames() {
		if keys[i], err = factorKey(fmt.Sprintf("names[%d]", i), n); err != nil {
			return nil, err
		}
	}
	fs, err := a.svc.Factors(ctx, tenant, keys)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.BatchGetFactorsResponse{}
	for _, f := range fs {
		resp.Factors = append(resp.Factors, factorProto(f))
	}
	return resp, nil
}

func (a *API) GetFactor(ctx context.Context, req *calculatorv1.GetFactorRequest) (*calculatorv1.Factor, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	k, err := factorKey("name", req.GetName())
	if err != nil {
		return nil, err
	}
	f, err := a.svc.Factor(ctx, tenant, k)
	if err != nil {
		return nil, err
	}
	return factorProto(f), nil
}

func (a *API) ListFactors(ctx context.Context, req *calculatorv1.ListFactorsRequest) (*calculatorv1.ListFactorsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	q := calculator.FactorQuery{Limit: defaultPageSize}
	set, ok := strings.CutPrefix(req.GetParent(), "factorSets/")
	if !ok || badSegment(set) {
		return nil, apperr.Invalid("parent", "%q is not factorSets/{set} or factorSets/-", req.GetParent())
	}
	q.Set = set
	switch n := req.GetPageSize(); {
	case n < 0:
		return nil, apperr.Invalid("page_size", "must not be negative, got %d", n)
	case n > 0:
		// AIP-158: a larger size is served as the largest.
		q.Limit = min(int(n), calculator.MaxFactorPage)
	}
	if q.Conds, err = parseFilter(req.GetFilter()); err != nil {
		return nil, err
	}
	q.Order = strings.TrimSuffix(strings.Join(strings.Fields(strings.ToLower(req.GetOrderBy())), " "), " asc")
	if q.Order == "" {
		q.Order = calculator.DefaultFactorOrder
	}
	if !slices.Contains(calculator.FactorOrders(), q.Order) {
		return nil, apperr.Invalid("order_by", "%q is not one of: %s", req.GetOrderBy(), strings.Join(calculator.FactorOrders(), ", "))
	}
	fp := fmt.Sprintf("factors|set=%q|filter=%s|order=%s", q.Set, filterKey(q.Conds), q.Order)
	if t := req.GetPageToken(); t != "" {
		if q.After, err = a.tokens.Decode(t, tenant, fp); err != nil {
			return nil, err
		}
		if len(q.After) != 3 {
			return nil, apperr.Invalid("page_token", "is malformed; pass next_page_token unchanged")
		}
	}
	page, err := a.svc.ListFactors(ctx, tenant, q)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.ListFactorsResponse{Factors: make([]*calculatorv1.Factor, len(page.Factors)), TotalSize: page.Total}
	for i, f := range page.Factors {
		resp.Factors[i] = factorProto(f)
	}
	if page.Next != nil {
		resp.NextPageToken = a.tokens.Encode(tenant, fp, page.Next)
	}
	return resp, nil
}

// factorKey reads "factorSets/{set}/factors/{code}".
func factorKey(field, name string) (calculator.FactorKey, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "factorSets" || parts[2] != "factors" || badSegment(parts[1]) || badSegment(parts[3]) {
		return calculator.FactorKey{}, apperr.Invalid(field, "%q is not factorSets/{set}/factors/{code}", name)
	}
	return calculator.FactorKey{Set: parts[1], Code: parts[3]}, nil
}

// badSegment reports a name segment no row can have; PostgreSQL would
// fail a lookup of a NUL byte rather than find nothing.
func badSegment(s string) bool {
	return s == "" || len(s) > 128 || strings.IndexByte(s, 0) >= 0
}

func factorProto(f calculator.Factor) *calculatorv1.Factor {
	return &calculatorv1.Factor{
		Name: "factorSets/" + f.Set + "/factors/" + f.Code, Code: f.Code, Title: f.Title,
		Value: f.Value, Unit: f.Unit, Category: commonv1.ScopeCategory(f.Category),
		FactorSet: "factorSets/" + f.Set, FactorSetVersion: f.SetVersion, Source: f.Source, Region: f.Region, Year: int32(f.Year),
		Gases: gasesProto(f.Gases), GasUnit: f.GasUnit, ValueAr4: f.AR4, ValueAr6: f.AR6, Licence: f.Licence,
		ActivityUnit: f.ActivityUnit,
	}
}

func gasesProto(gs []calculator.Gas) []*calculatorv1.FactorGas {
	out := make([]*calculatorv1.FactorGas, len(gs))
	for i, g := range gs {
		out[i] = &calculatorv1.FactorGas{Gas: g.Gas, Value: g.Value}
	}
	return out
}

func (a *API) CalculateEmissions(ctx context.Context, req *calculatorv1.CalculateEmissionsRequest) (*calculatorv1.CalculateEmissionsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	// The request's upload is the default of lines that name none.
	var upload int64
	if req.GetUpload() != "" {
		if upload, err = ParseID("upload", "uploads/", req.GetUpload()); err != nil {
			return nil, err
		}
	}
	lines := make([]calculator.Line, len(req.GetLines()))
	lastName, last := "", int64(0) // a batch's lines come grouped by upload
	for i, l := range req.GetLines() {
		if lines[i], err = lineFromProto(fmt.Sprintf("lines[%d]", i), l); err != nil {
			return nil, err
		}
		up := upload
		switch name := l.GetUpload(); {
		case name == "" && upload == 0:
			return nil, apperr.Invalid(fmt.Sprintf("lines[%d].upload", i), "required when the request names no upload")
		case name == "":
		case name == lastName:
			up = last
		default:
			if up, err = ParseID(fmt.Sprintf("lines[%d].upload", i), "uploads/", name); err != nil {
				return nil, err
			}
			lastName, last = name, up
		}
		lines[i].Upload = up
	}
	out, err := a.svc.Calculate(ctx, tenant, lines)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.CalculateEmissionsResponse{LinesCalculated: out.Stored, LinesSkipped: out.Skipped, KgCo2E: out.Kg,
		Suppliers: totalsProto(out.Suppliers), Uploads: make([]*calculatorv1.UploadEmissions, len(out.Uploads))}
	for i, u := range out.Uploads {
		resp.Uploads[i] = &calculatorv1.UploadEmissions{Upload: "uploads/" + strconv.FormatInt(u.Upload, 10), KgCo2E: u.Kg,
			LineCount: u.Count, Suppliers: totalsProto(u.Suppliers)}
	}
	return resp, nil
}

func (a *API) GetEmissionResult(ctx context.Context, req *calculatorv1.GetEmissionResultRequest) (*calculatorv1.EmissionResult, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := resultID("name", req.GetName())
	if err != nil {
		return nil, err
	}
	r, err := a.svc.Result(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return resultProto(r), nil
}

func (a *API) BatchGetEmissionResults(ctx context.Context, req *calculatorv1.BatchGetEmissionResultsRequest) (*calculatorv1.BatchGetEmissionResultsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(req.GetNames()))
	for i, n := range req.GetNames() {
		if ids[i], err = resultID(fmt.Sprintf("names[%d]", i), n); err != nil {
			return nil, err
		}
	}
	var dates []time.Time
	if n := len(req.GetTransactionDates()); n > 0 {
		if n != len(ids) {
			return nil, apperr.Invalid("transaction_dates", "has %d dates for %d names; give one per name or none", n, len(ids))
		}
		dates = make([]time.Time, n)
		for i, d := range req.GetTransactionDates() {
			if dates[i], err = time.Parse(time.DateOnly, d); err != nil {
				return nil, apperr.Invalid(fmt.Sprintf("transaction_dates[%d]", i), "%q is not a YYYY-MM-DD date", d)
			}
		}
	}
	rs, err := a.svc.Results(ctx, tenant, ids, dates)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.BatchGetEmissionResultsResponse{Results: make([]*calculatorv1.EmissionResult, len(rs))}
	for i, r := range rs {
		resp.Results[i] = resultProto(r)
	}
	return resp, nil
}

func resultID(field, name string) (string, error) {
	id, ok := strings.CutPrefix(name, "emissionResults/")
	// A NUL byte cannot be in a stored id, and PostgreSQL would fail the
	// lookup rather than find nothing.
	if !ok || id == "" || strings.ContainsAny(id, "/\x00") {
		return "", apperr.Invalid(field, "%q is not emissionResults/{transaction_id}", name)
	}
	return id, nil
}

func resultProto(r calculator.Result) *calculatorv1.EmissionResult {
	out := &calculatorv1.EmissionResult{
		Name: "emissionResults/" + r.TransactionID, Upload: r.Upload, Date: r.Date.Format(time.DateOnly),
		SupplierId: r.SupplierID, NaicsCode: r.NAICS, AmountUsd: r.Amount, Category: commonv1.ScopeCategory(r.Category),
		Method: r.Method, Factor: "factorSets/" + r.Set + "/factors/" + r.NAICS, FactorSetVersion: r.SetVersion,
		FactorValue: r.FactorValue, FactorUnit: r.Unit, KgCo2E: r.Kg, CalculateTime: timestamppb.New(r.CalculatedAt),
		AmountBaseUsd: r.AmountBase, PriceIndexMonth: r.PriceMonth, PriceIndex: r.PriceIndex, PriceIndexBase: r.PriceBase,
		PriceYear: int32(r.PriceYear),
	}
	if r.PriceIndex != "" {
		out.PriceIndexSeries = refdata.CPISeries
	}
	if r.Currency != "" {
		out.Currency, out.Amount, out.FxRate, out.FxMonth, out.FxSeries = r.Currency, r.Original, r.FXRate, r.FXMonth, refdata.FXSeries
	}
	if r.Activity != "" {
		out.Factor = "factorSets/" + r.Set + "/factors/" + r.Activity
		out.Activity, out.Quantity, out.Unit, out.FactorQuantity = r.Activity, r.Quantity, r.QtyUnit, r.FactorQty
		out.UnitConversion = calculator.UnitConversion(r.QtyUnit, r.ActivityUnit)
	}
	if r.FactorCode != "" {
		out.Factor = "factorSets/" + r.Set + "/factors/" + r.FactorCode
	}
	if r.Activity == "" && r.Quantity != "" { // a product line's quantity as given
		out.Quantity, out.Unit = r.Quantity, r.QtyUnit
	}
	if r.Activity == "" && r.FactorQty != "" { // supplier data: the quantity its factor multiplies
		out.FactorQuantity = r.FactorQty
		if r.Quantity != "" {
			out.UnitConversion = calculator.UnitConversion(r.QtyUnit, r.ActivityUnit)
		}
	}
	out.Gases, out.GasUnit, out.GwpBasis, out.KgCo2EAr4, out.KgCo2EAr6 = gasesProto(r.Gases), r.GasUnit, calculatorv1.GwpBasis_GWP_BASIS_AR5, r.KgAR4, r.KgAR6
	out.ProductId, out.SupplierCountry, out.Version = r.ProductID, r.SupplierCountry, r.Version
	if d, err := quality.Unpack(r.DQ); err == nil && r.DQ != 0 {
		out.DataQuality = lineQualityProto(d)
	}
	return out
}

// lineQualityProto is one line's indicators and score.
func lineQualityProto(d quality.Indicators) *calculatorv1.DataQuality {
	digit := func(v int8) string { return strconv.Itoa(int(v)) }
	return &calculatorv1.DataQuality{Technology: digit(d.Technology), Time: digit(d.Time), Geography: digit(d.Geography),
		Completeness: digit(d.Completeness), Reliability: digit(d.Reliability), Score: d.Score()}
}

// summaryIn is a summary request's tenant, basis and period of months.
type summaryIn struct {
	tenant uuid.UUID
	basis  refdata.Basis
	p      calculator.Period
}

// summaryArgs reads a summary request's basis, period ("YYYY-MM" both,
// or neither), snapshot and day for the caller's tenant.
func summaryArgs(ctx context.Context, b calculatorv1.GwpBasis, start, end, snapshot, asOf string) (summaryIn, error) {
	var in summaryIn
	var err error
	if in.tenant, err = tenancy.MustTenant(ctx); err != nil {
		return in, err
	}
	if in.basis, err = refdata.BasisFromProto(fieldGWPBasis, b); err != nil {
		return in, err
	}
	if in.p.From, err = parseMonth("period_start", start); err != nil {
		return in, err
	}
	if in.p.To, err = parseMonth("period_end", end); err != nil {
		return in, err
	}
	if asOf != "" {
		if in.p.Day, err = time.Parse(time.DateOnly, asOf); err != nil {
			return in, apperr.Invalid("as_of_date", "%q is not a YYYY-MM-DD date", asOf)
		}
	}
	if snapshot != "" {
		in.p.Snapshot, err = ParseID("snapshot", snapshotPrefix, snapshot)
	}
	return in, err
}

// dayName is a period's day as the contract gives it; "" for none.
func dayName(p calculator.Period) string {
	if p.Day.IsZero() {
		return ""
	}
	return p.Day.Format(time.DateOnly)
}

// snapshotPrefix begins an inventory snapshot's name.
const snapshotPrefix = "inventorySnapshots/"

// snapshotName is snapshot id's name; "" for none (0).
func snapshotName(id int64) string {
	if id == 0 {
		return ""
	}
	return snapshotPrefix + strconv.FormatInt(id, 10)
}

func (a *API) SummarizeEmissions(ctx context.Context, req *calculatorv1.SummarizeEmissionsRequest) (*calculatorv1.SummarizeEmissionsResponse, error) {
	in, err := summaryArgs(ctx, req.GetGwpBasis(), req.GetPeriodStart(), req.GetPeriodEnd(), req.GetSnapshot(), req.GetAsOfDate())
	if err != nil {
		return nil, err
	}
	// The answer is the (cached) summary alone: the REST gateway may keep it
	// as long as the summary's cache version stands.
	ctx, stamps := cache.CollectStamps(ctx)
	sum, err := a.svc.SummarizeUnder(ctx, in.tenant, calculator.Dimension(req.GetGroupBy()), int(req.GetLimit()), in.basis, in.p)
	if err != nil {
		return nil, err
	}
	grpcserver.MarkCached(ctx, stamps)
	return summaryProto(sum), nil
}

func summaryProto(sum calculator.Summary) *calculatorv1.SummarizeEmissionsResponse {
	resp := &calculatorv1.SummarizeEmissionsResponse{
		TotalKgCo2E: sum.TotalKg, TotalSpendUsd: sum.TotalUSD, TransactionCount: sum.Count, GroupCount: sum.GroupCount,
		GwpBasis: refdata.BasisProto(sum.Basis), Snapshot: snapshotName(sum.Period.Snapshot), AsOfDate: dayName(sum.Period),
	}
	if sum.Period.Set() {
		resp.PeriodStart, resp.PeriodEnd = sum.Period.From.Format("2006-01"), sum.Period.To.Format("2006-01")
	}
	for _, g := range sum.Groups {
		resp.Groups = append(resp.Groups, &commonv1.EmissionTotal{
			Key: g.Key, Label: g.Label, KgCo2E: g.Kg, SpendUsd: g.Spend, TransactionCount: g.Count, Share: g.Share,
		})
	}
	return resp
}

func (a *API) BatchGetSupplierMethods(ctx context.Context, req *calculatorv1.BatchGetSupplierMethodsRequest) (*calculatorv1.BatchGetSupplierMethodsResponse, error) {
	in, err := summaryArgs(ctx, req.GetGwpBasis(), req.GetPeriodStart(), req.GetPeriodEnd(), req.GetSnapshot(), req.GetAsOfDate())
	if err != nil {
		return nil, err
	}
	ms, err := a.svc.SupplierMethods(ctx, in.tenant, req.GetSupplierIds(), in.basis, in.p)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.BatchGetSupplierMethodsResponse{GwpBasis: refdata.BasisProto(ms.Basis), Snapshot: snapshotName(ms.Period.Snapshot),
		AsOfDate: dayName(ms.Period)}
	if ms.Period.Set() {
		resp.PeriodStart, resp.PeriodEnd = ms.Period.From.Format("2006-01"), ms.Period.To.Format("2006-01")
	}
	for _, s := range ms.Suppliers {
		resp.Suppliers = append(resp.Suppliers, &calculatorv1.SupplierMethods{SupplierId: s.SupplierID, Methods: methodsProto(s.Methods),
			TotalKgCo2E: s.Kg, LineCount: s.Count})
	}
	return resp, nil
}

func totalsProto(gs []calculator.Group) []*commonv1.EmissionTotal {
	out := make([]*commonv1.EmissionTotal, len(gs))
	for i, g := range gs {
		out[i] = &commonv1.EmissionTotal{Key: g.Key, KgCo2E: g.Kg, SpendUsd: g.Spend, TransactionCount: g.Count}
	}
	return out
}

// ParseID reads the numeric id of a resource name such as "uploads/42".
func ParseID(field, prefix, name string) (int64, error) {
	s, ok := strings.CutPrefix(name, prefix)
	var id int64
	if ok {
		var err error
		id, err = strconv.ParseInt(s, 10, 64)
		ok = err == nil && id > 0 && strconv.FormatInt(id, 10) == s
	}
	if !ok {
		return 0, apperr.Invalid(field, "%q is not %s{id}", name, prefix)
	}
	return id, nil
}

// settingsName is the name of a tenant's one CalculationSettings.
const settingsName = "calculationSettings"

func (a *API) GetCalculationSettings(ctx context.Context, req *calculatorv1.GetCalculationSettingsRequest) (*calculatorv1.CalculationSettings, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	if n := req.GetName(); n != "" && n != settingsName {
		return nil, apperr.Invalid("name", "%q is not %s", n, settingsName)
	}
	s, err := a.svc.Settings(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return settingsProto(s), nil
}

func (a *API) UpdateCalculationSettings(ctx context.Context, req *calculatorv1.UpdateCalculationSettingsRequest) (*calculatorv1.CalculationSettings, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetSettings()
	if n := in.GetName(); n != "" && n != settingsName {
		return nil, apperr.Invalid("settings.name", "%q is not %s", in.GetName(), settingsName)
	}
	set, err := settingsUpdate(in, req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	s, err := a.svc.UpdateSettings(ctx, tenant, set)
	if err != nil {
		return nil, err
	}
	return settingsProto(s), nil
}

func settingsProto(s calculator.Settings) *calculatorv1.CalculationSettings {
	out := &calculatorv1.CalculationSettings{Name: settingsName, GwpBasis: refdata.BasisProto(s.Basis),
		SpendFactorSet: "factorSets/" + s.SpendSet, ActivityFactorSet: "factorSets/" + s.ActivitySet,
		BaseYear: int32(s.BaseYear), SignificanceThresholdPercent: s.Threshold}
	if !s.UpdateTime.IsZero() {
		out.UpdateTime = timestamppb.New(s.UpdateTime)
	}
	return out
}
