package calculator

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// resultsStore answers Results from a fixed set and records what it was asked.
type resultsStore struct {
	Store
	have  map[string]Result
	asked [][]string
}

func (s *resultsStore) Results(_ context.Context, _ uuid.UUID, ids []string, _ []time.Time) ([]Result, error) {
	s.asked = append(s.asked, slices.Clone(ids))
	var out []Result
	for _, id := range ids {
		if r, ok := s.have[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func TestResultsAreCachedOnceFoundAndOnlyThen(t *testing.T) {
	ctx := context.Background()
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	st := &resultsStore{have: map[string]Result{
		"T1": {TransactionID: "T1", Date: day, Kg: "1.0000000"},
		"T2": {TransactionID: "T2", Date: day, Kg: "2.0000000"},
	}}
	svc := New(st, nil, nil, nil)
	a, b := uuid.New(), uuid.New()
	ids, dates := []string{"T1", "T2", "T3"}, []time.Time{day, day, day}
	kgs := func(rs []Result) []string {
		out := make([]string, 0, len(rs))
		for _, r := range rs {
			out = append(out, r.TransactionID+"="+r.Kg)
		}
		slices.Sort(out)
		return out
	}
	for range 2 {
		rs, err := svc.Results(ctx, a, ids, dates)
		if err != nil || !slices.Equal(kgs(rs), []string{"T1=1.0000000", "T2=2.0000000"}) {
			t.Fatalf("results = %v, %v", kgs(rs), err)
		}
	}
	// The second call asked the store only for T3, which was not found
	// and may be calculated later.
	if len(st.asked) != 2 || !slices.Equal(st.asked[1], []string{"T3"}) {
		t.Fatalf("store asked %v", st.asked)
	}
	// T3 is calculated: the next call finds it.
	st.have["T3"] = Result{TransactionID: "T3", Date: day, Kg: "3.0000000"}
	if rs, _ := svc.Results(ctx, a, ids, dates); len(rs) != 3 {
		t.Fatalf("after T3 was calculated: %v", kgs(rs))
	}
	// Another tenant, another date, or no dates: not from a's entries.
	for _, c := range []struct {
		tenant uuid.UUID
		dates  []time.Time
	}{{b, dates[:1]}, {a, []time.Time{day.AddDate(0, 0, 1)}}, {a, nil}} {
		if _, err := svc.Results(ctx, c.tenant, ids[:1], c.dates); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(st.asked); n != 6 {
		t.Fatalf("store asked %d times, want 6: %v", n, st.asked)
	}
}

func TestResultCacheEvictsTheOldest(t *testing.T) {
	c := newResultCache(2)
	tenant := uuid.New()
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	c.put(tenant, []Result{{TransactionID: "A", Date: day}, {TransactionID: "B", Date: day}})
	c.put(tenant, []Result{{TransactionID: "A", Date: day}, {TransactionID: "C", Date: day}}) // A again: no new slot
	hits, missing := c.get(tenant, []string{"A", "B", "C"}, []time.Time{day, day, day})
	if len(hits) != 2 || !slices.Equal(missing, []int{0}) {
		t.Fatalf("hits %v, missing %v: want A evicted, B and C kept", hits, missing)
	}
}
