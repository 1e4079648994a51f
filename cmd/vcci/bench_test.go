package main

import (
	"strings"
	"testing"
)

// checkRatio (end to end against the \copy) and checkMixRatio (the mixed
// file against the USD-only one) fail only over their limit, and say by
// how much.
func TestRatioChecks(t *testing.T) {
	for _, tc := range []struct {
		name             string
		check            func(got, base, limit float64) error
		got, base, limit float64
		fail             bool
		ratio            string
	}{
		{"copy: no limit", checkRatio, 100, 1, 0, false, ""},
		{"copy: under", checkRatio, 9.9, 1, 10, false, ""},
		{"copy: at the limit", checkRatio, 20, 2, 10, false, ""},
		{"copy: over", checkRatio, 20.5, 2, 10, true, "10.25x"},
		{"mix: no limit", checkMixRatio, 100, 1, 0, false, ""},
		{"mix: under", checkMixRatio, 12, 10, 1.25, false, ""},
		{"mix: at the limit", checkMixRatio, 12.5, 10, 1.25, false, ""},
		{"mix: over", checkMixRatio, 13, 10, 1.25, true, "1.30x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check(tc.got, tc.base, tc.limit)
			if (err != nil) != tc.fail {
				t.Fatalf("check(%v, %v, %v) = %v, want failure %v", tc.got, tc.base, tc.limit, err, tc.fail)
			}
			if err != nil && !strings.Contains(err.Error(), tc.ratio) {
				t.Fatalf("the message does not give the ratio %s: %v", tc.ratio, err)
			}
		})
	}
}
