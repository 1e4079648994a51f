package grpcapi

import (
	"context"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"google.golang.org/protobuf/proto"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
)

// resultMemo keeps emission results the calculator has returned. A stored
// result never changes (the calculator inserts it once and skips the line
// on any later calculation), so a page of transactions rebuilt after a
// write, which is most pages under upload traffic, needs no call to the
// calculator for results already seen. "Not calculated yet" is never kept.
type resultMemo struct {
	c *lru.Cache[resultKey, *calculatorv1.EmissionResult]
}

type resultKey struct {
	tenant   uuid.UUID
	id, date string
}

// resultMemoSize holds the results of a thousand suppliers' first pages
// several times over: about 30 MB.
const resultMemoSize = 100_000

func newResultMemo(size int) *resultMemo {
	c, _ := lru.New[resultKey, *calculatorv1.EmissionResult](size) // only fails for a size <= 0
	return &resultMemo{c: c}
}

// results answers from the memo what it can and asks fetch for the rest.
// Callers get their own copies: pages prune them to the read mask.
func (m *resultMemo) results(ctx context.Context, tenant uuid.UUID, ids, dates []string,
	fetch func(ctx context.Context, ids, dates []string) (map[string]*calculatorv1.EmissionResult, error)) (map[string]*calculatorv1.EmissionResult, error) {
	out := make(map[string]*calculatorv1.EmissionResult, len(ids))
	var missIDs, missDates []string
	for i, id := range ids {
		if r, ok := m.c.Get(resultKey{tenant, id, dates[i]}); ok {
			out[id] = proto.CloneOf(r)
			continue
		}
		missIDs, missDates = append(missIDs, id), append(missDates, dates[i])
	}
	if len(missIDs) == 0 {
		return out, nil
	}
	got, err := fetch(ctx, missIDs, missDates)
	if err != nil {
		return nil, err
	}
	for i, id := range missIDs {
		r, ok := got[id]
		if !ok {
			continue
		}
		m.c.Add(resultKey{tenant, id, missDates[i]}, r)
		out[id] = proto.CloneOf(r)
	}
	return out, nil
}
