package main

import (
	"strings"
	"testing"
)

func TestCheckRatio(t *testing.T) {
	for _, tc := range []struct {
		name             string
		total, copy, max float64
		fail             bool
	}{
		{"no limit", 100, 1, 0, false},
		{"under", 9.9, 1, 10, false},
		{"at the limit", 20, 2, 10, false},
		{"over", 20.5, 2, 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRatio(tc.total, tc.copy, tc.max)
			if (err != nil) != tc.fail {
				t.Fatalf("checkRatio(%v, %v, %v) = %v, want failure %v", tc.total, tc.copy, tc.max, err, tc.fail)
			}
			if err != nil && !strings.Contains(err.Error(), "10.25x") {
				t.Fatalf("the message does not give the ratio: %v", err)
			}
		})
	}
}
