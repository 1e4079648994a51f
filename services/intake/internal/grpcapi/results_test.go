package grpcapi

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
)

func TestResultMemoAsksOnlyForWhatItHasNotSeen(t *testing.T) {
	m := newResultMemo(2)
	a, b := uuid.New(), uuid.New()
	var asked [][]string
	fetch := func(_ context.Context, ids, dates []string) (map[string]*calculatorv1.EmissionResult, error) {
		asked = append(asked, slices.Clone(ids))
		out := map[string]*calculatorv1.EmissionResult{}
		for i, id := range ids {
			if id != "T9" { // T9 is not calculated yet
				out[id] = &calculatorv1.EmissionResult{Name: "emissionResults/" + id, KgCo2E: dates[i]}
			}
		}
		return out, nil
	}
	ctx := context.Background()
	got, _ := m.results(ctx, a, []string{"T1", "T9"}, []string{"2024-01-01", "2024-01-02"}, fetch)
	if len(got) != 1 || got["T1"].GetKgCo2E() != "2024-01-01" {
		t.Fatalf("first: %v", got)
	}
	// A caller's pruning does not reach the memo.
	got["T1"].KgCo2E = ""
	got, _ = m.results(ctx, a, []string{"T1", "T9"}, []string{"2024-01-01", "2024-01-02"}, fetch)
	if got["T1"].GetKgCo2E() != "2024-01-01" || len(asked) != 2 || !slices.Equal(asked[1], []string{"T9"}) {
		t.Fatalf("second: %v, asked %v", got, asked)
	}
	// Another tenant, or another date, is another result.
	for _, c := range []struct {
		tenant uuid.UUID
		date   string
	}{{b, "2024-01-01"}, {a, "2024-02-01"}} {
		if _, err := m.results(ctx, c.tenant, []string{"T1"}, []string{c.date}, fetch); err != nil {
			t.Fatal(err)
		}
	}
	if len(asked) != 4 {
		t.Fatalf("asked %v", asked)
	}
}
