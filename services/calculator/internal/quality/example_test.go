package quality_test

import (
	"fmt"
	"math"

	"github.com/vcci-dev/vcci/services/calculator/internal/quality"
)

// The worked example of docs/quality.md: three results of 2024.
func ExampleWeighted() {
	spend := quality.Assess(quality.Inputs{Method: quality.MethodSpend, LineYear: 2024,
		FactorYear: 2022, FactorRegion: "US", SupplierCountry: "US"})
	average := quality.Assess(quality.Inputs{Method: quality.MethodAverage, LineYear: 2024,
		FactorYear: 2024, FactorRegion: "GB", SupplierCountry: "DE"})
	company := quality.Assess(quality.Inputs{Method: quality.MethodCompany, LineYear: 2024,
		FactorYear: 2023, Verified: true})
	items := []quality.Weighed{{"1250.00", spend}, {"430.50", average}, {"-200.00", company}}
	for _, it := range items {
		fmt.Println(it.Kg, it.Indicators.Pack(), it.Indicators.Score())
	}
	score, _ := quality.Weighted(items)
	each, _ := quality.WeightedIndicators(items)
	fmt.Println(score)
	fmt.Printf("%+v\n", each)
	// Output:
	// 1250.00 41144 2.8
	// 430.50 21432 2.4
	// -200.00 31121 1.6
	// 2.58
	// {Technology:3.44 Time:1.00 Geography:1.69 Completeness:3.56 Reliability:3.22}
}

// The uncertainty example of docs/quality.md: 1,000 kg spend-based, 41344.
func ExampleSimulate() {
	s2 := quality.Sigma2(quality.MethodSpend, quality.Indicators{4, 1, 3, 4, 4})
	s := math.Sqrt(s2)
	fmt.Printf("sigma2 %.4f sigma %.4f\n", s2, s)
	fmt.Printf("analytic P5 %.1f P50 1000.0 P95 %.1f\n", 1000*math.Exp(-1.6448536*s), 1000*math.Exp(1.6448536*s))
	res, _ := quality.Simulate([]quality.Group{{Factor: "epa/331110", Category: 1, Kg: 1000, Sigma2: s2}},
		quality.Options{Seed: 1})
	fmt.Printf("simulated P5 %.1f P50 %.1f P95 %.1f (%d iterations, seed %d)\n",
		res.Total.P5, res.Total.P50, res.Total.P95, res.Iterations, res.Seed)
	// Output:
	// sigma2 0.0901 sigma 0.3002
	// analytic P5 610.3 P50 1000.0 P95 1638.4
	// simulated P5 609.2 P50 1002.4 P95 1645.6 (10000 iterations, seed 1)
}
