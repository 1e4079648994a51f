package grpcapi

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/batch"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// FactorSet is the spend factor set uploads are checked against until
// the tenant chooses another (CalculationSettings.spend_factor_set).
const FactorSet = "epa-supply-chain-v1.3.0"

// Calculator is intake's client of the calculator service: the worker's
// calculations and code checks, and the emission results that reads of
// transactions show. It calls as the tenant concerned, with intake's
// service token.
type Calculator struct {
	client calculatorv1.CalculatorServiceClient
	token  string
	// known is every tenant's memory of the codes that have a factor, with
	// their category, by tenant and set: a factor set is never changed once
	// loaded (a new version is a new set), but two tenants may each have a
	// set of one name.
	known sync.Map
}

// NewCalculator returns a Calculator over client that calls with token.
func NewCalculator(client calculatorv1.CalculatorServiceClient, token string) *Calculator {
	return &Calculator{client: client, token: token}
}

// Calculations calculates the worker's rows as tenant.
func (c *Calculator) Calculations(tenant uuid.UUID) intake.Calculator {
	return calculatorClient{c.client, tenant, c.token}
}

// Codes checks the codes of tenant's uploads against FactorSet.
func (c *Calculator) Codes(tenant uuid.UUID) intake.CodeChecker {
	return newCodeChecker(c.client, tenant, c.token, &c.known)
}

// Results resolves emission results by transaction id and date; ids not
// calculated yet are left out. Never kept here: a recalculation gives a
// line a new version.
func (c *Calculator) Results(ctx context.Context, tenant uuid.UUID, ids, dates []string) (map[string]*calculatorv1.EmissionResult, error) {
	return emissionResults(ctx, c.client, tenant, c.token, ids, dates)
}

// calculatorClient calculates rows through the calculator, as the tenant.
type calculatorClient struct {
	c      calculatorv1.CalculatorServiceClient
	tenant uuid.UUID
	token  string
}

func (c calculatorClient) Calculate(ctx context.Context, upload int64, rows []intake.Row) (intake.Calculated, error) {
	req := &calculatorv1.CalculateEmissionsRequest{Upload: "uploads/" + strconv.FormatInt(upload, 10), Lines: make([]*calculatorv1.SpendLine, len(rows))}
	var last int64
	var lastName string
	for i, r := range rows {
		req.Lines[i] = &calculatorv1.SpendLine{TransactionId: r.TransactionID, Date: r.Date.Format(time.DateOnly),
			SupplierId: r.SupplierID, NaicsCode: r.NAICS, ProductId: r.ProductID, SupplierCountry: r.Country}
		if r.Currency == "USD" || r.Currency == "" {
			req.Lines[i].AmountUsd = r.Amount
		} else { // the calculator converts it, and records how
			req.Lines[i].Currency, req.Lines[i].Amount = r.Currency, r.Amount
		}
		if r.Activity != "" || r.ProductID != "" {
			req.Lines[i].Activity, req.Lines[i].Quantity, req.Lines[i].Unit = r.Activity, r.Quantity, r.Unit
		}
		// The category intake stored: the line's own or its factor's.
		req.Lines[i].Category = commonv1.ScopeCategory(r.Category)
		if r.Upload != 0 && r.Upload != upload { // a batch of uploads
			if r.Upload != last {
				last, lastName = r.Upload, "uploads/"+strconv.FormatInt(r.Upload, 10)
			}
			req.Lines[i].Upload = lastName
		}
	}
	ctx = tenancy.AsService(ctx, c.tenant, c.token)
	// A batch that lost a write conflict or met a restarting calculator is
	// sent again at once (the calculator skips what it stored); only a
	// lasting failure fails the upload's attempt.
	for attempt := 1; ; attempt++ {
		resp, err := c.c.CalculateEmissions(ctx, req)
		if err == nil {
			return calculatedByUpload(resp)
		}
		if code := status.Code(err); attempt == 5 || (code != codes.Aborted && code != codes.Unavailable) {
			return intake.Calculated{}, unavailable(err)
		}
		select {
		case <-ctx.Done():
			return intake.Calculated{}, ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
		}
	}
}

// unavailable marks err as intake.ErrCalculatorUnavailable when the
// calculator could not be reached, so that the upload waits for it.
func unavailable(err error) error {
	if status.Code(err) == codes.Unavailable {
		return fmt.Errorf("%w: %w", intake.ErrCalculatorUnavailable, err)
	}
	return err
}

// calculatedByUpload reads a calculation's share of each upload.
func calculatedByUpload(resp *calculatorv1.CalculateEmissionsResponse) (intake.Calculated, error) {
	out := intake.Calculated{Uploads: make([]intake.UploadTotal, len(resp.GetUploads()))}
	for i, u := range resp.GetUploads() {
		id, ok := strings.CutPrefix(u.GetUpload(), "uploads/")
		n, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil {
			return intake.Calculated{}, fmt.Errorf("calculator answered for upload %q", u.GetUpload())
		}
		t := intake.UploadTotal{Upload: n, Count: u.GetLineCount(), Kg: u.GetKgCo2E(), Suppliers: make([]intake.SupplierTotal, len(u.GetSuppliers()))}
		for j, s := range u.GetSuppliers() {
			t.Suppliers[j] = intake.SupplierTotal{ID: s.GetKey(), Spend: s.GetSpendUsd(), Kg: s.GetKgCo2E(), Count: s.GetTransactionCount()}
		}
		out.Uploads[i] = t
	}
	return out, nil
}

// emissionResults reads results from the calculator as the platform (a
// user's one read is not charged twice to their rate limit).
func emissionResults(ctx context.Context, c calculatorv1.CalculatorServiceClient, tenant uuid.UUID, token string, ids, dates []string) (map[string]*calculatorv1.EmissionResult, error) {
	out := make(map[string]*calculatorv1.EmissionResult, len(ids))
	for start := 0; start < len(ids); start += 1000 {
		part := ids[start:min(start+1000, len(ids))]
		names := make([]string, len(part))
		for i, id := range part {
			names[i] = "emissionResults/" + id
		}
		resp, err := c.BatchGetEmissionResults(tenancy.AsService(ctx, tenant, token), &calculatorv1.BatchGetEmissionResultsRequest{
			Names: names, TransactionDates: dates[start:min(start+1000, len(dates))]})
		if err != nil {
			return nil, err
		}
		for _, r := range resp.GetResults() {
			out[strings.TrimPrefix(r.GetName(), "emissionResults/")] = r
		}
	}
	return out, nil
}

// codeChecker answers which NAICS codes have a factor in the tenant's
// spend set, and their category, through a DataLoader so concurrent checks
// of one upload share one BatchGetFactors call. Codes found are remembered
// for good (known).
type codeChecker struct {
	loader *batch.Loader[string, int16]
	known  *sync.Map // tenant|set|code -> category, for codes that have a factor
	set    *spendSet
	tenant uuid.UUID
}

// spendSet is the tenant's spend factor set, read once per checker (an
// upload's validation): the set its lines will be calculated with.
type spendSet struct {
	mu   sync.Mutex
	name string
	read func(context.Context) (string, error)
}

func (s *spendSet) get(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.name == "" {
		name, err := s.read(ctx)
		if err != nil {
			return "", err
		}
		s.name = name
	}
	return s.name, nil
}

func newCodeChecker(c calculatorv1.CalculatorServiceClient, tenant uuid.UUID, token string, known *sync.Map) codeChecker {
	set := &spendSet{read: func(ctx context.Context) (string, error) {
		s, err := c.GetCalculationSettings(tenancy.AsService(ctx, tenant, token), &calculatorv1.GetCalculationSettingsRequest{Name: "calculationSettings"})
		if err != nil {
			return "", unavailable(err)
		}
		if name, ok := strings.CutPrefix(s.GetSpendFactorSet(), "factorSets/"); ok && name != "" {
			return name, nil
		}
		return FactorSet, nil
	}}
	return codeChecker{batch.New(func(ctx context.Context, codes []string) (map[string]int16, error) {
		setName, err := set.get(ctx)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(codes))
		for i, code := range codes {
			names[i] = "factorSets/" + setName + "/factors/" + code
		}
		resp, err := c.BatchGetFactors(tenancy.AsService(ctx, tenant, token), &calculatorv1.BatchGetFactorsRequest{Names: names})
		if err != nil {
			return nil, unavailable(err)
		}
		out := make(map[string]int16, len(resp.GetFactors()))
		for _, f := range resp.GetFactors() {
			cat := f.GetCategory()
			if cat < 0 || cat > math.MaxInt16 {
				return nil, fmt.Errorf("calculator returned category %d for NAICS code %s", cat, f.GetCode())
			}
			out[f.GetCode()] = int16(cat)
		}
		return out, nil
	}, batch.Options{MaxBatch: 1000}), known, set, tenant}
}

func (c codeChecker) Categories(ctx context.Context, naics []string) (map[string]int16, error) {
	setName, err := c.set.get(ctx)
	if err != nil {
		return nil, err
	}
	prefix := c.tenant.String() + "|" + setName + "|"
	out := make(map[string]int16, len(naics))
	var ask []string
	for _, code := range naics {
		if cat, ok := c.known.Load(prefix + code); ok {
			out[code] = cat.(int16)
		} else {
			ask = append(ask, code)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	got, err := c.loader.LoadMany(ctx, ask)
	if err != nil {
		return nil, err
	}
	for code, cat := range got {
		out[code] = cat
		if cat != 0 {
			c.known.Store(prefix+code, cat)
		}
	}
	return out, nil
}
