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
	tenant, id, err := mappingName(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	m, err := a.svc.Mapping(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return mappingProto(m), nil
}

func (a *API) ListColumnMappings(ctx context.Context, req *intakev1.ListColumnMappingsRequest) (*intakev1.ListColumnMappingsResponse, error) {
	p, err := a.startPage(ctx, "columnMappings", req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	ms, err := a.svc.Mappings(ctx, p.tenant, p.after, p.size+1)
	if err != nil {
		return nil, err
	}
	resp := &intakev1.ListColumnMappingsResponse{}
	ms, resp.NextPageToken = nextPage(a, p, ms, func(m intake.ColumnMapping) string { return m.ID })
	for _, m := range ms {
		resp.ColumnMappings = append(resp.ColumnMappings, mappingProto(m))
	}
	return resp, nil
}

func (a *API) DeleteColumnMapping(ctx context.Context, req *intakev1.DeleteColumnMappingRequest) (*emptypb.Empty, error) {
	tenant, id, err := mappingName(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if err := a.svc.DeleteMapping(ctx, tenant, id); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// mappingName is the caller's tenant and the id of the mapping name names.
func mappingName(ctx context.Context, name string) (uuid.UUID, string, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return uuid.Nil, "", err
	}
	id, err := intake.MappingID("name", name)
	return tenant, id, err
}

func mappingProto(m intake.ColumnMapping) *intakev1.ColumnMapping {
	return &intakev1.ColumnMapping{Name: intake.MappingPrefix + m.ID, Columns: m.Columns, CreateTime: timestamppb.New(m.CreatedAt)}
}
