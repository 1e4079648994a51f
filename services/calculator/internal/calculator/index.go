package calculator

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"
)

// setIndex is one factor set by code, its values parsed once for exact
// arithmetic.
type setIndex map[string]*parsedFactor

// parsedFactor is a factor with its decimals parsed: what the engine
// multiplies. ar4 and ar6 are nil when the factor has no re-expressed value.
type parsedFactor struct {
	Factor
	value    fixed
	ar4, ar6 *fixed
	gases    []fixed
}

func newSetIndex(fs []Factor) (setIndex, error) {
	idx := make(setIndex, len(fs))
	for _, f := range fs {
		p := &parsedFactor{Factor: f, gases: make([]fixed, len(f.Gases))}
		var err error
		if p.value, err = parseFixed(f.Value); err != nil {
			return nil, fmt.Errorf("factor %s/%s: %w", f.Set, f.Code, err)
		}
		if p.ar4, err = optionalFixed(f.AR4); err != nil {
			return nil, fmt.Errorf("factor %s/%s: AR4: %w", f.Set, f.Code, err)
		}
		if p.ar6, err = optionalFixed(f.AR6); err != nil {
			return nil, fmt.Errorf("factor %s/%s: AR6: %w", f.Set, f.Code, err)
		}
		for i, g := range f.Gases {
			if p.gases[i], err = parseFixed(g.Value); err != nil {
				return nil, fmt.Errorf("factor %s/%s: gas %s: %w", f.Set, f.Code, g.Gas, err)
			}
		}
		idx[f.Code] = p
	}
	return idx, nil
}

// maxIndexes bounds the parsed sets a Service keeps (a parsed EPA set is
// about a megabyte): the sets of the tenants calculating now. The factor
// cache holds a set per tenant, so each tenant's sets have their own index.
const maxIndexes = 100

// indexes keeps each cached set's index beside it, keyed by the cached
// slice itself: the factor cache hands the same slice to every call until
// it reloads the set, and a reloaded set (a new slice) is indexed anew.
type indexes struct {
	mu sync.Mutex
	m  map[*Factor]setIndex
}

func (x *indexes) get(fs []Factor) (setIndex, error) {
	if len(fs) == 0 {
		return setIndex{}, nil
	}
	x.mu.Lock()
	idx, ok := x.m[&fs[0]]
	x.mu.Unlock()
	if ok {
		return idx, nil
	}
	idx, err := newSetIndex(fs)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m == nil {
		x.m = map[*Factor]setIndex{}
	}
	for k := range x.m { // full: one goes, at random (map order), rebuilt if used again
		if len(x.m) < maxIndexes {
			break
		}
		delete(x.m, k)
	}
	x.m[&fs[0]] = idx
	return idx, nil
}

// index returns one set by code, from the factor cache when there is one
// (else read whole from the store); a set the tenant cannot see is empty.
func (s *Service) index(ctx context.Context, tenant uuid.UUID, set string) (setIndex, error) {
	load := func(ctx context.Context) ([]Factor, error) { return s.store.SetFactors(ctx, tenant, set) }
	if s.factors == nil {
		fs, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return newSetIndex(fs)
	}
	fs, err := s.factors.Set(ctx, tenant, set, load)
	if err != nil {
		return nil, err
	}
	return s.indexes.get(fs)
}
