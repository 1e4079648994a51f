package grpcapi

import (
	"context"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

func (a *API) CreateColumnMapping(ctx context.Context, req *intakev1.CreateColumnMappingRequest) (*intakev1.ColumnMapping, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	m, err := a.svc.CreateMapping(ctx, tenant, intake.ColumnMapping{ID: req.GetColumnMappingId(), Columns: req.GetColumnMapping().GetColumns()})
	if err != nil {
		return nil, err
	}
	return mappingProto(m), nil
}

func (a *API) GetColumnMapping(ctx context.Context, req *intakev1.GetColumnMappingRequest) (*intakev1.ColumnMapping, error) {
	return getNamed(ctx, req.GetName(), intake.MappingID, a.svc.Mapping, mappingProto)
}

func (a *API) ListColumnMappings(ctx context.Context, req *intakev1.ListColumnMappingsRequest) (*intakev1.ListColumnMappingsResponse, error) {
	ms, next, err := listNamed(ctx, a, "columnMappings", req, a.svc.Mappings, func(m intake.ColumnMapping) string { return m.ID }, mappingProto)
	if err != nil {
		return nil, err
	}
	return &intakev1.ListColumnMappingsResponse{ColumnMappings: ms, NextPageToken: next}, nil
}

func (a *API) DeleteColumnMapping(ctx context.Context, req *intakev1.DeleteColumnMappingRequest) (*emptypb.Empty, error) {
	return deleteNamed(ctx, req.GetName(), intake.MappingID, a.svc.DeleteMapping)
}

func mappingProto(m intake.ColumnMapping) *intakev1.ColumnMapping {
	return &intakev1.ColumnMapping{Name: intake.MappingPrefix + m.ID, Columns: m.Columns, CreateTime: timestamppb.New(m.CreatedAt)}
}

// Helpers for the tenant's resources named "{collection}/{id}" (column
// mappings, category rules): parse reads the id of a request's name field.
type parseName func(field, name string) (string, error)

// named is the caller's tenant and the id of the resource name names.
func named(ctx context.Context, name string, parse parseName) (uuid.UUID, string, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return uuid.Nil, "", err
	}
	id, err := parse("name", name)
	return tenant, id, err
}

// getNamed answers a Get of the resource name names.
func getNamed[T, P any](ctx context.Context, name string, parse parseName, get func(context.Context, uuid.UUID, string) (T, error), toProto func(T) P) (P, error) {
	var none P
	tenant, id, err := named(ctx, name, parse)
	if err != nil {
		return none, err
	}
	x, err := get(ctx, tenant, id)
	if err != nil {
		return none, err
	}
	return toProto(x), nil
}

// deleteNamed answers a Delete of the resource name names.
func deleteNamed(ctx context.Context, name string, parse parseName, del func(context.Context, uuid.UUID, string) error) (*emptypb.Empty, error) {
	tenant, id, err := named(ctx, name, parse)
	if err != nil {
		return nil, err
	}
	if err := del(ctx, tenant, id); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// pageRequest is a List request of cursor pages.
type pageRequest interface {
	GetPageSize() int32
	GetPageToken() string
}

// listNamed answers a List of a collection by id: its page, as protos, and
// the next page's token.
func listNamed[T, P any](ctx context.Context, a *API, collection string, req pageRequest,
	list func(context.Context, uuid.UUID, string, int) ([]T, error), id func(T) string, toProto func(T) P,
) ([]P, string, error) {
	p, err := a.startPage(ctx, collection, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, "", err
	}
	xs, err := list(ctx, p.tenant, p.after, p.size+1)
	if err != nil {
		return nil, "", err
	}
	xs, next := nextPage(a, p, xs, id)
	out := make([]P, len(xs))
	for i, x := range xs {
		out[i] = toProto(x)
	}
	return out, next, nil
}
