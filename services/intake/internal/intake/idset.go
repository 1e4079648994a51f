package intake

import "hash/maphash"

// idSet remembers transaction ids by a 128-bit hash (two independent
// 64-bit maphash seeds), so memory grows by ~40 bytes a row whatever the id
// length; a false duplicate needs a 128-bit collision (~1e-26 at 1M rows).
//
// It holds at most max ids: past that it only checks ids against the ones
// it holds, and full reports that later duplicates went unchecked (the
// store finds them in the staged rows instead).
type idSet struct {
	s1, s2 maphash.Seed
	m      map[[2]uint64]int64
	max    int
	full   bool
}

// newIDSet starts small and grows with the file: most uploads are a few
// rows, and a map sized for a big one is most of a small one's cost.
func newIDSet(limit int) *idSet {
	return &idSet{s1: maphash.MakeSeed(), s2: maphash.MakeSeed(), m: make(map[[2]uint64]int64, 64), max: limit}
}

// add records id at line; it returns the first line and true if id was seen.
func (s *idSet) add(id string, line int64) (int64, bool) {
	k := [2]uint64{maphash.String(s.s1, id), maphash.String(s.s2, id)}
	if first, ok := s.m[k]; ok {
		return first, true
	}
	if len(s.m) >= s.max {
		s.full = true
		return 0, false
	}
	s.m[k] = line
	return 0, false
}
