package main

import (
	"slices"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/loadgen"
)

func TestByUseOrdersByCPUThenName(t *testing.T) {
	names, total := byUse(map[string]float64{"redis": 1, "gateway": 3, "intake": 3, "postgresql": 2})
	if want := []string{"gateway", "intake", "postgresql", "redis"}; !slices.Equal(names, want) || total != 9 {
		t.Fatalf("byUse = %v, %v; want %v, 9", names, total, want)
	}
}

func TestStudyLineIsCPUPerRequest(t *testing.T) {
	r := loadgen.Result{Total: loadgen.OpResult{Requests: 2000, RPS: 100,
		Latencies: []time.Duration{time.Millisecond, 2 * time.Millisecond, 40 * time.Millisecond}}}
	got := studyLine("1:0:0:0", r, map[string]float64{"gateway": 1.2, "intake": 0.8, "redis": 0.001})
	// 2.001 CPU s over 2,000 requests; redis' 0.0005 ms is below the 0.005 ms shown.
	want := "- 1:0:0:0: 100 rps, 0 errors, p95 40.0 ms; 1.000 ms CPU/request: gateway 0.600, intake 0.400"
	if got != want {
		t.Fatalf("studyLine =\n%s\nwant\n%s", got, want)
	}
}

func TestDrainedSaysWhatWasLeft(t *testing.T) {
	if s := (drained{}).String(); s != "no upload was left queued" {
		t.Fatalf("empty drain = %q", s)
	}
	s := drained{Pending: 12, Took: 1500 * time.Millisecond, CPU: "x"}.String()
	if want := "12 uploads were still queued or running; they finished 1.5 s later (CPU meanwhile: x)"; s != want {
		t.Fatalf("drain = %q, want %q", s, want)
	}
	s = drained{Pending: 12, Took: 1500 * time.Millisecond, CPU: "x", Sustained: 812.4}.String()
	if want := "12 uploads were still queued or running; they finished 1.5 s later (CPU meanwhile: x); over the mix and that wait together, 812 requests/s"; s != want {
		t.Fatalf("drain = %q, want %q", s, want)
	}
}

func TestEdgeCountsReadTheGatewayMetrics(t *testing.T) {
	before := parseEdgeCounts("# HELP x\nvcci_gateway_edge_cache_requests_total{result=\"hit\"} 10\nvcci_gateway_edge_cache_requests_total{result=\"miss\"} 5\n")
	after := parseEdgeCounts("vcci_gateway_edge_cache_requests_total{result=\"hit\"} 1510\nvcci_gateway_edge_cache_requests_total{result=\"miss\"} 505\nvcci_gateway_edge_cache_requests_total{result=\"bypass\"} 1e+01\nother 3\n")
	got := after.since(before).String()
	if want := "1,500 GETs answered at the edge (75%), 500 sent on to a service, 10 sent on while it could not be trusted"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if (edgeResults{}).String() != "" || edgeResults(nil).since(before) != nil {
		t.Fatal("no counts should say nothing")
	}
}
