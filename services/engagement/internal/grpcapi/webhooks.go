package grpcapi

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
)

const (
	endpointPrefix = "webhookEndpoints/"
	deliveryPrefix = "webhookDeliveries/"
)

// parseID reads "{prefix}{id}" in field.
func parseID(field, prefix, name string) (int64, error) {
	s, ok := strings.CutPrefix(name, prefix)
	id, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || id <= 0 {
		return 0, apperr.Invalid(field, "%q is not %s{id}", name, prefix)
	}
	return id, nil
}

func (a *API) CreateWebhookEndpoint(ctx context.Context, req *engagementv1.CreateWebhookEndpointRequest) (*engagementv1.WebhookEndpoint, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	p := req.GetEndpoint()
	if p == nil {
		return nil, apperr.Invalid("endpoint", "is required")
	}
	e, err := a.hooks.CreateEndpoint(ctx, tenant, engagement.Endpoint{URL: p.GetUrl(), Events: p.GetEvents(), Description: p.GetDescription()})
	if err != nil {
		return nil, err
	}
	return endpointProto(e), nil
}

// endpointOf is the caller's tenant and the endpoint id name holds
// ("webhookEndpoints/{id}", field "name").
func endpointOf(ctx context.Context, name string) (uuid.UUID, int64, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return uuid.Nil, 0, err
	}
	id, err := parseID("name", endpointPrefix, name)
	return tenant, id, err
}

func (a *API) GetWebhookEndpoint(ctx context.Context, req *engagementv1.GetWebhookEndpointRequest) (*engagementv1.WebhookEndpoint, error) {
	tenant, id, err := endpointOf(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	e, err := a.hooks.Endpoint(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return endpointProto(e), nil
}

func (a *API) ListWebhookEndpoints(ctx context.Context, req *engagementv1.ListWebhookEndpointsRequest) (*engagementv1.ListWebhookEndpointsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	size, after, err := page(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	es, err := a.hooks.Endpoints(ctx, tenant, after, size+1)
	if err != nil {
		return nil, err
	}
	endpoints, next := listPage(es, size, endpointProto, func(e engagement.Endpoint) engagement.Cursor {
		return engagement.Cursor{CreatedAt: e.CreatedAt, ID: e.ID}
	})
	return &engagementv1.ListWebhookEndpointsResponse{Endpoints: endpoints, NextPageToken: next}, nil
}

func (a *API) DeleteWebhookEndpoint(ctx context.Context, req *engagementv1.DeleteWebhookEndpointRequest) (*emptypb.Empty, error) {
	tenant, id, err := endpointOf(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if err := a.hooks.DeleteEndpoint(ctx, tenant, id); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (a *API) EnableWebhookEndpoint(ctx context.Context, req *engagementv1.EnableWebhookEndpointRequest) (*engagementv1.WebhookEndpoint, error) {
	tenant, id, err := endpointOf(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	e, err := a.hooks.EnableEndpoint(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return endpointProto(e), nil
}

func (a *API) ListWebhookDeliveries(ctx context.Context, req *engagementv1.ListWebhookDeliveriesRequest) (*engagementv1.ListWebhookDeliveriesResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	endpoint, err := parseID("parent", endpointPrefix, req.GetParent())
	if err != nil {
		return nil, err
	}
	size, after, err := page(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	ds, err := a.hooks.Deliveries(ctx, tenant, endpoint, after, size+1)
	if err != nil {
		return nil, err
	}
	deliveries, next := listPage(ds, size, deliveryProto, func(d engagement.Delivery) engagement.Cursor {
		return engagement.Cursor{CreatedAt: d.CreatedAt, ID: d.ID}
	})
	return &engagementv1.ListWebhookDeliveriesResponse{Deliveries: deliveries, NextPageToken: next}, nil
}

func (a *API) RedeliverWebhook(ctx context.Context, req *engagementv1.RedeliverWebhookRequest) (*engagementv1.WebhookDelivery, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := parseID("name", deliveryPrefix, req.GetName())
	if err != nil {
		return nil, err
	}
	d, err := a.hooks.Redeliver(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return deliveryProto(d), nil
}

func (a *API) PublishEvent(ctx context.Context, req *engagementv1.PublishEventRequest) (*engagementv1.PublishEventResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	published, n, err := a.hooks.Publish(ctx, tenant, engagement.Event{ID: req.GetEventId(), Type: req.GetType(), Data: json.RawMessage(req.GetData())})
	if err != nil {
		return nil, err
	}
	return &engagementv1.PublishEventResponse{Published: published, Deliveries: int32(n)}, nil //nolint:gosec // G115: at most MaxEndpoints
}

func endpointProto(e engagement.Endpoint) *engagementv1.WebhookEndpoint {
	p := &engagementv1.WebhookEndpoint{
		Name: endpointPrefix + strconv.FormatInt(e.ID, 10), Url: e.URL, Events: e.Events, Description: e.Description,
		Secret: e.Secret, State: engagementv1.WebhookEndpointState_WEBHOOK_ENDPOINT_STATE_ENABLED,
		DisabledReason: e.DisabledReason, CreateTime: timestamppb.New(e.CreatedAt),
	}
	if !e.Enabled {
		p.State = engagementv1.WebhookEndpointState_WEBHOOK_ENDPOINT_STATE_DISABLED
		p.DisableTime = timestamppb.New(e.DisabledAt)
	}
	return p
}

func deliveryProto(d engagement.Delivery) *engagementv1.WebhookDelivery {
	return &engagementv1.WebhookDelivery{
		Name: deliveryPrefix + strconv.FormatInt(d.ID, 10), Endpoint: endpointPrefix + strconv.FormatInt(d.EndpointID, 10),
		EventId: d.EventID, EventType: d.EventType, State: engagementv1.WebhookDeliveryState(d.State),
		StatusCode: d.StatusCode, LatencyMs: d.LatencyMs, Attempts: d.Attempts, LastError: d.LastError,
		CreateTime: timestamppb.New(d.CreatedAt), UpdateTime: timestamppb.New(d.UpdatedAt),
	}
}
