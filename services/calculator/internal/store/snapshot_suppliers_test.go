package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
)

// groupsOf writes a summary as "AR5 S1 785.6353397/2, S2 ...".
func groupsOf(s calculator.Summary) string {
	gs := make([]string, len(s.Groups))
	for i, g := range s.Groups {
		gs[i] = fmt.Sprintf("%s %s/%d", g.Key, g.Kg, g.Count)
	}
	return string(s.Basis) + " " + strings.Join(gs, ", ")
}

// A snapshot keeps its suppliers, their methods, categories and months:
// after S1's own figure recalculates its 2024 lines and the tenant moves
// to AR6, the snapshot's summaries are as recorded, under the basis it was
// taken with, while today's follow the recalculation.
func TestASnapshotKeepsItsSuppliers(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	startWorkers(t, f.pool, f.svc, 2)
	if _, err := f.svc.Calculate(ctx, f.tenant, []calculator.Line{line2025}); err != nil {
		t.Fatal(err)
	}
	snap, err := f.svc.CreateSnapshot(ctx, f.tenant, "as reported")
	if err != nil || !snap.Suppliers {
		t.Fatalf("snapshot %+v, %v", snap, err)
	}
	companyFigureForS1(t, f)
	if _, err := f.svc.UpdateSettings(ctx, f.tenant, calculator.Settings{Basis: refdata.AR6}); err != nil {
		t.Fatal(err)
	}

	then := calculator.Period{Snapshot: snap.ID}
	y2024 := months("2024-01", "2024-12")
	then2024 := y2024
	then2024.Snapshot = snap.ID
	for _, tc := range []struct {
		name  string
		dim   calculator.Dimension
		basis refdata.Basis
		p     calculator.Period
		want  string
	}{
		{"suppliers as recorded", calculator.BySupplier, "", then, "AR5 S1 785.6353397/2, S2 237.7060028/2"},
		{"suppliers of 2024 as recorded", calculator.BySupplier, "", then2024, "AR5 S1 785.6353397/2, S2 119.8383536/1"},
		{"suppliers of 2024 now", calculator.BySupplier, refdata.AR5, y2024, "AR5 S1 505.2500000/2, S2 119.8383536/1"},
		{"months of 2024 as recorded", calculator.ByMonth, "", then2024, "AR5 2024-01 746.7794993/1, 2024-02 38.8558404/1, 2024-07 119.8383536/1"},
		{"categories as recorded", calculator.ByCategory, "", then, "AR5 1 785.6353397/2, 6 237.7060028/2"},
	} {
		sum, err := f.svc.SummarizeUnder(ctx, f.tenant, tc.dim, 0, tc.basis, tc.p)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := groupsOf(sum); got != tc.want || sum.Period != tc.p {
			t.Errorf("%s: %s of %+v, want %s", tc.name, got, sum.Period, tc.want)
		}
	}
	// Under another basis, the snapshot's own re-expressed figures: today's
	// AR4 figures of an unchanged supplier are the same.
	ar4Then, err := f.svc.SummarizeUnder(ctx, f.tenant, calculator.BySupplier, 0, refdata.AR4, then2024)
	if err != nil {
		t.Fatal(err)
	}
	ar4Now, err := f.svc.SummarizeUnder(ctx, f.tenant, calculator.BySupplier, 0, refdata.AR4, y2024)
	if err != nil {
		t.Fatal(err)
	}
	if ar4Then.Basis != refdata.AR4 || len(ar4Then.Groups) != 2 || ar4Then.Groups[1].Kg != ar4Now.Groups[1].Kg || ar4Then.Groups[0].Kg == ar4Now.Groups[0].Kg {
		t.Errorf("2024 under AR4 as recorded %s, now %s", groupsOf(ar4Then), groupsOf(ar4Now))
	}

	// Methods as recorded, and now.
	for _, tc := range []struct {
		p    calculator.Period
		want string
	}{
		{then, "S1 2 785.6353397: spend-based 785.6353397/2 1.0000; "},
		{calculator.Period{}, "S1 2 505.2500000: supplier-company 505.2500000/2 1.0000; "},
	} {
		ms, err := f.svc.SupplierMethods(ctx, f.tenant, []string{"S1"}, refdata.AR5, tc.p)
		if err != nil {
			t.Fatal(err)
		}
		if got := mixes(ms); got != tc.want || ms.Period != tc.p {
			t.Errorf("S1's methods of %+v: %s, want %s", tc.p, got, tc.want)
		}
	}

	var ae *apperr.Error
	_, err = f.svc.SummarizeUnder(ctx, f.tenant, calculator.ByNAICS, 0, "", then)
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "group_by" {
		t.Errorf("NAICS codes of a snapshot: %v", err)
	}
	for name, tenant := range map[string]uuid.UUID{"a snapshot not there": f.tenant, "another tenant's snapshot": uuid.New()} {
		p := calculator.Period{Snapshot: snap.ID}
		if name == "a snapshot not there" {
			p.Snapshot = snap.ID + 1
		}
		if _, err := f.svc.SummarizeUnder(ctx, tenant, calculator.BySupplier, 0, "", p); !errors.Is(err, calculator.ErrSnapshotNotFound) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := f.svc.SupplierMethods(ctx, tenant, []string{"S1"}, "", p); !errors.Is(err, calculator.ErrSnapshotNotFound) {
			t.Errorf("%s, methods: %v", name, err)
		}
	}
	// As a snapshot recorded before suppliers were kept reads.
	if _, err := f.pool.Exec(ctx, `UPDATE calculator.inventory_snapshots SET suppliers = false WHERE id = $1`, snap.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.SummarizeUnder(ctx, f.tenant, calculator.BySupplier, 0, "", then)
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "snapshot" {
		t.Errorf("suppliers of a snapshot without them: %v", err)
	}
	_, err = f.svc.SupplierMethods(ctx, f.tenant, []string{"S1"}, "", then)
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "snapshot" {
		t.Errorf("methods of a snapshot without suppliers: %v", err)
	}
}
