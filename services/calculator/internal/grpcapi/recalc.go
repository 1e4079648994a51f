package grpcapi

import (
	"context"
	"strconv"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
)

const recalcPrefix = "recalculations/"

func (a *API) CreateRecalculation(ctx context.Context, req *calculatorv1.CreateRecalculationRequest) (*calculatorv1.Recalculation, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetRecalculation()
	r := calculator.Recalculation{Reason: in.GetReason(), SupplierID: in.GetSupplierId()}
	if y := in.GetYear(); y != 0 && (y < 1990 || y > 2100) {
		return nil, apperr.Invalid("recalculation.year", "%d is outside 1990..2100", y)
	}
	r.Year = int16(in.GetYear()) //nolint:gosec // checked above
	if fs := in.GetFactorSet(); fs != "" {
		if r.FactorSet, err = settingsSet("recalculation.factor_set", fs); err != nil {
			return nil, err
		}
	}
	out, err := a.svc.CreateRecalculation(ctx, tenant, r)
	if err != nil {
		return nil, err
	}
	return recalcProto(out), nil
}

func (a *API) RecalculateBaseYear(ctx context.Context, req *calculatorv1.RecalculateBaseYearRequest) (*calculatorv1.Recalculation, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	out, err := a.svc.RecalculateBaseYear(ctx, tenant, req.GetReason())
	if err != nil {
		return nil, err
	}
	return recalcProto(out), nil
}

func (a *API) GetRecalculation(ctx context.Context, req *calculatorv1.GetRecalculationRequest) (*calculatorv1.Recalculation, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := ParseID("name", recalcPrefix, req.GetName())
	if err != nil {
		return nil, err
	}
	r, err := a.svc.Recalculation(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return recalcProto(r), nil
}

// pageSize is a request's page size: def when 0, at most the limit most (AIP-158).
func pageSize(n int32, def, most int) (int, error) {
	switch {
	case n < 0:
		return 0, apperr.Invalid("page_size", "must not be negative, got %d", n)
	case n == 0:
		return def, nil
	}
	return min(int(n), most), nil
}

// afterID reads a page token of a newest-first listing by id (query fp):
// the last id served, 0 for the first page.
func (a *API) afterID(tenant uuid.UUID, fp, token string) (int64, error) {
	if token == "" {
		return 0, nil
	}
	keys, err := a.tokens.Decode(token, tenant, fp)
	if err != nil {
		return 0, err
	}
	var id int64
	if len(keys) == 1 {
		id, err = strconv.ParseInt(keys[0], 10, 64)
	}
	if len(keys) != 1 || err != nil || id <= 0 {
		return 0, apperr.Invalid("page_token", "is malformed; pass next_page_token unchanged")
	}
	return id, nil
}

// idToken is the page token after id, for afterID.
func (a *API) idToken(tenant uuid.UUID, fp string, id int64) string {
	return a.tokens.Encode(tenant, fp, []string{strconv.FormatInt(id, 10)})
}

func (a *API) ListRecalculations(ctx context.Context, req *calculatorv1.ListRecalculationsRequest) (*calculatorv1.ListRecalculationsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(req.GetPageSize(), 20, 100)
	if err != nil {
		return nil, err
	}
	const fp = "recalculations"
	after, err := a.afterID(tenant, fp, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	rs, err := a.svc.Recalculations(ctx, tenant, limit+1, after)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.ListRecalculationsResponse{}
	if len(rs) > limit {
		rs = rs[:limit]
		resp.NextPageToken = a.idToken(tenant, fp, rs[limit-1].ID)
	}
	for _, r := range rs {
		resp.Recalculations = append(resp.Recalculations, recalcProto(r))
	}
	return resp, nil
}

func (a *API) ListRecalculationChanges(ctx context.Context, req *calculatorv1.ListRecalculationChangesRequest) (*calculatorv1.ListRecalculationChangesResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := ParseID("parent", recalcPrefix, req.GetParent())
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(req.GetPageSize(), 100, 1000)
	if err != nil {
		return nil, err
	}
	fp := "recalculationChanges|" + strconv.FormatInt(id, 10)
	var after *calculator.RecalcCursor
	if t := req.GetPageToken(); t != "" {
		keys, err := a.tokens.Decode(t, tenant, fp)
		if err != nil {
			return nil, err
		}
		var d time.Time
		if len(keys) == 2 {
			d, err = time.Parse(time.DateOnly, keys[0])
		}
		if len(keys) != 2 || err != nil {
			return nil, apperr.Invalid("page_token", "is malformed; pass next_page_token unchanged")
		}
		after = &calculator.RecalcCursor{Date: d, ID: keys[1]}
	}
	page, err := a.svc.Changes(ctx, tenant, id, limit, after)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.ListRecalculationChangesResponse{}
	for _, c := range page.Changes {
		resp.Changes = append(resp.Changes, &calculatorv1.RecalculationChange{Result: "emissionResults/" + c.TransactionID,
			Date: c.Date.Format(time.DateOnly), SupplierId: c.SupplierID, Before: versionProto(c.Before), After: versionProto(c.After),
			KgCo2EDelta: c.Delta})
	}
	if page.Next != nil {
		resp.NextPageToken = a.tokens.Encode(tenant, fp, []string{page.Next.Date.Format(time.DateOnly), page.Next.ID})
	}
	return resp, nil
}

func versionProto(v calculator.ResultVersion) *calculatorv1.ResultVersion {
	out := &calculatorv1.ResultVersion{Version: v.Version, Method: v.Method, Factor: "factorSets/" + v.Set + "/factors/" + v.Code,
		FactorSetVersion: v.SetVersion, FactorValue: v.FactorValue, KgCo2E: v.Kg}
	if v.DQ != 0 {
		out.Indicators = strconv.Itoa(int(v.DQ))
	}
	return out
}

var recalcStates = map[string]calculatorv1.RecalculationState{
	calculator.RecalcQueued: calculatorv1.RecalculationState_RECALCULATION_STATE_QUEUED, calculator.RecalcRunning: calculatorv1.RecalculationState_RECALCULATION_STATE_RUNNING,
	calculator.RecalcSucceeded: calculatorv1.RecalculationState_RECALCULATION_STATE_SUCCEEDED, calculator.RecalcFailed: calculatorv1.RecalculationState_RECALCULATION_STATE_FAILED,
}

func recalcProto(r calculator.Recalculation) *calculatorv1.Recalculation {
	out := &calculatorv1.Recalculation{Name: recalcPrefix + strconv.FormatInt(r.ID, 10), Reason: r.Reason, SupplierId: r.SupplierID,
		Year: int32(r.Year), BaseYear: r.BaseYear, State: recalcStates[r.State], LineCount: r.LineCount, LinesDone: r.LinesDone,
		LinesChanged: r.LinesChanged, KgCo2EBefore: r.KgBefore, KgCo2EAfter: r.KgAfter, ChangePercent: r.ChangePercent,
		Significant: r.Significant, SignificanceThresholdPercent: r.Threshold, CreateTime: timestamppb.New(r.CreateTime),
		Error: r.Error, Attempts: r.Attempts}
	if r.FactorSet != "" {
		out.FactorSet = "factorSets/" + r.FactorSet
	}
	if !r.FinishTime.IsZero() {
		out.FinishTime = timestamppb.New(r.FinishTime)
	}
	return out
}
