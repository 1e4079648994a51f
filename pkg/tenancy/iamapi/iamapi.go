// Package iamapi serves the tenant's administration over gRPC: its API keys
// (vcci.iam.v1.ApiKeyService) and its audit log (vcci.iam.v1.AuditService).
// It is written once here and registered by intake (docs/security.md says
// why); the shared interceptor lets only keys with the admin scope in.
package iamapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	iamv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/iam/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// Listing page sizes, as the contract states them.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// API implements iamv1.ApiKeyServiceServer and iamv1.AuditServiceServer.
type API struct {
	iamv1.UnimplementedApiKeyServiceServer
	iamv1.UnimplementedAuditServiceServer
	pool   *pgxpool.Pool
	audit  *tenancy.AuditLog
	tokens *pagetoken.Codec
}

// New returns the API over pool's iam schema, paging with tokens.
func New(pool *pgxpool.Pool, tokens *pagetoken.Codec) *API {
	return &API{pool: pool, audit: tenancy.NewAuditLog(pool), tokens: tokens}
}

// scopeOf is the one table between the contract's scopes and tenancy's.
var scopeOf = map[iamv1.Scope]tenancy.Scopes{
	iamv1.Scope_SCOPE_READ:  tenancy.ScopeRead,
	iamv1.Scope_SCOPE_WRITE: tenancy.ScopeWrite,
	iamv1.Scope_SCOPE_ADMIN: tenancy.ScopeAdmin,
}

func (a *API) CreateApiKey(ctx context.Context, req *iamv1.CreateApiKeyRequest) (*iamv1.CreateApiKeyResponse, error) { //nolint:staticcheck,revive // the generated interface names it so
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetApiKey()
	nk := tenancy.NewKey{Label: in.GetDisplayName()}
	for _, s := range in.GetScopes() {
		sc, ok := scopeOf[s]
		if !ok {
			return nil, apperr.Invalid("api_key.scopes", "unknown scope %s: give SCOPE_READ, SCOPE_WRITE or SCOPE_ADMIN", s)
		}
		nk.Scopes |= sc
	}
	if in.GetExpireTime() != nil {
		nk.Expires = in.GetExpireTime().AsTime()
	}
	key, info, err := tenancy.CreateKey(ctx, a.pool, tenant, nk)
	if err != nil {
		return nil, fmt.Errorf("iamapi.CreateApiKey: %w", err)
	}
	return &iamv1.CreateApiKeyResponse{ApiKey: keyProto(info), Key: key}, nil
}

func (a *API) ListApiKeys(ctx context.Context, req *iamv1.ListApiKeysRequest) (*iamv1.ListApiKeysResponse, error) { //nolint:staticcheck,revive // the generated interface names it so
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	var after *tenancy.KeyCursor
	if req.GetPageToken() != "" {
		keys, err := a.tokens.Decode(req.GetPageToken(), tenant, "apiKeys")
		if err != nil {
			return nil, fmt.Errorf("iamapi.ListApiKeys: %w", err)
		}
		after, err = keyCursor(keys)
		if err != nil {
			return nil, err
		}
	}
	keys, err := tenancy.ListKeys(ctx, a.pool, tenant, size+1, after)
	if err != nil {
		return nil, fmt.Errorf("iamapi.ListApiKeys: %w", err)
	}
	resp := &iamv1.ListApiKeysResponse{}
	if len(keys) > size {
		keys = keys[:size]
		last := keys[size-1]
		resp.NextPageToken = a.tokens.Encode(tenant, "apiKeys", []string{last.Created.Format(time.RFC3339Nano), last.ID.String()})
	}
	for _, k := range keys {
		resp.ApiKeys = append(resp.ApiKeys, keyProto(k))
	}
	return resp, nil
}

func (a *API) RevokeApiKey(ctx context.Context, req *iamv1.RevokeApiKeyRequest) (*iamv1.ApiKey, error) { //nolint:staticcheck,revive // the generated interface names it so
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := tenancy.ParseKeyName("name", req.GetName())
	if err != nil {
		return nil, fmt.Errorf("iamapi.RevokeApiKey: %w", err)
	}
	k, err := tenancy.RevokeKey(ctx, a.pool, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("iamapi.RevokeApiKey: %w", err)
	}
	return keyProto(k), nil
}

func (a *API) ListAuditEvents(ctx context.Context, req *iamv1.ListAuditEventsRequest) (*iamv1.ListAuditEventsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	var before int64
	if req.GetPageToken() != "" {
		keys, err := a.tokens.Decode(req.GetPageToken(), tenant, "auditEvents")
		if err != nil {
			return nil, fmt.Errorf("iamapi.ListAuditEvents: %w", err)
		}
		if len(keys) != 1 {
			return nil, apperr.Invalid(pagetoken.Param, "is malformed; pass next_page_token from the previous response unchanged")
		}
		if before, err = strconv.ParseInt(keys[0], 10, 64); err != nil {
			return nil, apperr.Invalid(pagetoken.Param, "is malformed; pass next_page_token from the previous response unchanged")
		}
	}
	events, err := a.audit.List(ctx, tenant, size+1, before)
	if err != nil {
		return nil, fmt.Errorf("iamapi.ListAuditEvents: %w", err)
	}
	resp := &iamv1.ListAuditEventsResponse{}
	if len(events) > size {
		events = events[:size]
		resp.NextPageToken = a.tokens.Encode(tenant, "auditEvents", []string{strconv.FormatInt(events[size-1].ID, 10)})
	}
	for _, e := range events {
		resp.AuditEvents = append(resp.AuditEvents, &iamv1.AuditEvent{
			Name: "auditEvents/" + strconv.FormatInt(e.ID, 10), EventTime: timestamppb.New(e.Time), Actor: e.Actor,
			KeyPrefix: e.KeyPrefix, Method: e.Method, Resource: e.Resource, RequestId: e.RequestID,
		})
	}
	return resp, nil
}

func pageSize(n int32) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 0 || n > MaxPageSize:
		return 0, apperr.Invalid("page_size", "must be between 1 and %d, got %d", MaxPageSize, n)
	}
	return int(n), nil
}

func keyCursor(keys []string) (*tenancy.KeyCursor, error) {
	bad := apperr.Invalid(pagetoken.Param, "is malformed; pass next_page_token from the previous response unchanged")
	if len(keys) != 2 {
		return nil, bad
	}
	created, err := time.Parse(time.RFC3339Nano, keys[0])
	if err != nil {
		return nil, bad
	}
	id, err := uuid.Parse(keys[1])
	if err != nil {
		return nil, bad
	}
	return &tenancy.KeyCursor{Created: created, ID: id}, nil
}

func keyProto(k tenancy.KeyInfo) *iamv1.ApiKey {
	out := &iamv1.ApiKey{Name: tenancy.KeyName(k.ID), DisplayName: k.Label, Prefix: k.Prefix, CreateTime: timestamppb.New(k.Created),
		ExpireTime: timestamp(k.Expires), LastUseTime: timestamp(k.LastUsed), RevokeTime: timestamp(k.Revoked)}
	for s, sc := range scopeOf {
		if k.Scopes.Has(sc) {
			out.Scopes = append(out.Scopes, s)
		}
	}
	slices.Sort(out.GetScopes())
	return out
}

// timestamp is t, or nil for the zero time (never).
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
