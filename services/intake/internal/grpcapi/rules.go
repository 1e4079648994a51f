package grpcapi

import (
	"context"
	"math"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

func (a *API) CreateCategoryRule(ctx context.Context, req *intakev1.CreateCategoryRuleRequest) (*intakev1.CategoryRule, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetCategoryRule()
	r, err := a.svc.CreateRule(ctx, tenant, intake.CategoryRule{ID: req.GetCategoryRuleId(), NAICSPrefix: in.GetNaicsPrefix(),
		ActivityPrefix: in.GetActivityPrefix(), SupplierID: in.GetSupplierId(), Category: ruleCategory(in.GetCategory()),
		Description: in.GetDescription()})
	if err != nil {
		return nil, err
	}
	return ruleProto(r), nil
}

// ruleCategory is c as a category number for CheckRule to judge, or -1 for
// a value past int16's range (an open enum takes any int32).
func ruleCategory(c commonv1.ScopeCategory) int16 {
	if c < math.MinInt16 || c > math.MaxInt16 {
		return -1
	}
	return int16(c)
}

func (a *API) GetCategoryRule(ctx context.Context, req *intakev1.GetCategoryRuleRequest) (*intakev1.CategoryRule, error) {
	return getNamed(ctx, req.GetName(), intake.RuleID, a.svc.Rule, ruleProto)
}

func (a *API) ListCategoryRules(ctx context.Context, req *intakev1.ListCategoryRulesRequest) (*intakev1.ListCategoryRulesResponse, error) {
	rs, next, err := listNamed(ctx, a, "categoryRules", req, a.svc.Rules, func(r intake.CategoryRule) string { return r.ID }, ruleProto)
	if err != nil {
		return nil, err
	}
	return &intakev1.ListCategoryRulesResponse{CategoryRules: rs, NextPageToken: next}, nil
}

func (a *API) DeleteCategoryRule(ctx context.Context, req *intakev1.DeleteCategoryRuleRequest) (*emptypb.Empty, error) {
	return deleteNamed(ctx, req.GetName(), intake.RuleID, a.svc.DeleteRule)
}

func ruleProto(r intake.CategoryRule) *intakev1.CategoryRule {
	return &intakev1.CategoryRule{Name: intake.RulePrefix + r.ID, NaicsPrefix: r.NAICSPrefix, ActivityPrefix: r.ActivityPrefix,
		SupplierId: r.SupplierID, Category: commonv1.ScopeCategory(r.Category), Description: r.Description,
		CreateTime: timestamppb.New(r.CreatedAt)}
}
