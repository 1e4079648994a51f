package testsupport

import (
	"context"

	"github.com/google/uuid"
	"google.golang.org/grpc/metadata"

	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// APIKey is the one key KeyAuth accepts.
const APIKey = "vcci_test-key-for-acme" //nolint:gosec // G101: a fake key that only KeyAuth accepts

// KeyAuth is the authenticator of a service under test that reads no key
// table: APIKey is Tenant's, every other key is refused with
// tenancy.ErrBadKey.
type KeyAuth struct{ Tenant uuid.UUID }

// Authenticate returns the tenant key belongs to.
func (a KeyAuth) Authenticate(_ context.Context, key string) (uuid.UUID, error) {
	if key != APIKey {
		return uuid.Nil, tenancy.ErrBadKey
	}
	return a.Tenant, nil
}

// WithKey returns a context whose outgoing calls carry key as their API key.
func WithKey(key string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "x-api-key", key)
}
