package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
)

// A set asked for before it was imported is cached as empty; the import
// forgets the tenant's sets on every replica.
func TestImportForgetsTheTenantsCachedSets(t *testing.T) {
	ctx := context.Background()
	r := startReplicas(t)
	tenant, svc1, svc2 := r.tenant, r.svc1, r.svc2
	key := calculator.FactorKey{Set: "acme-travel-2025", Code: "hotel.uk.room-night"}
	for _, svc := range []*calculator.Service{svc1, svc2} {
		if _, err := svc.Factor(ctx, tenant, key); apperr.KindOf(err) != apperr.NotFound {
			t.Fatalf("before the import: %v, want not found", err)
		}
	}
	set := factors.Set{Name: key.Set, DisplayName: "ACME travel", Publisher: "ACME", Version: "1", Source: "ACME", Kind: factors.KindActivity}
	if _, err := svc1.ImportFactorSet(ctx, tenant, set, []byte("code,title,value,category,unit,region\nhotel.uk.room-night,Hotel,12.5,6,room-night,\n")); err != nil {
		t.Fatal(err)
	}
	if f, err := svc1.Factor(ctx, tenant, key); err != nil || f.Value != "12.5" {
		t.Fatalf("replica 1 after the import: %+v, %v", f, err)
	}
	testsupport.WaitFor(t, "replica 2 to see the import", 5*time.Second, func() bool {
		f, err := svc2.Factor(ctx, tenant, key)
		return err == nil && f.Value == "12.5"
	})
}
