package edge

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
)

// randomPage is a page as the intake may send it: transactions with or
// without their supplier and result (read masks), empty ones, a token and
// page info or not.
func randomPage(rng *rand.Rand, n int) *intakev1.ListTransactionsResponse {
	p := &intakev1.ListTransactionsResponse{}
	if rng.IntN(2) == 0 {
		p.NextPageToken = fmt.Sprintf("tok%d", rng.IntN(100))
	}
	if rng.IntN(2) == 0 {
		p.PageInfo = &commonv1.PageInfo{Page: 2, PerPage: 50, Total: int64(rng.IntN(1000)), HasNext: true}
	}
	for i := range n {
		t := &intakev1.Transaction{}
		if rng.IntN(10) > 0 { // now and then a transaction masked down to nothing
			t.Name, t.Date, t.AmountUsd = fmt.Sprintf("transactions/T%d", i), "2024-03-01", fmt.Sprintf("%d.50", rng.IntN(1000))
			t.Category, t.RowNumber, t.Description = commonv1.ScopeCategory(1+rng.IntN(15)), int64(i+2), `line "quoted" é`
		}
		if rng.IntN(3) > 0 {
			s := fmt.Sprintf("S%d", rng.IntN(4))
			t.SupplierId = s
			t.Supplier = &intakev1.Supplier{Name: "suppliers/" + s, DisplayName: "Acme " + s, SpendUsd: fmt.Sprintf("%d.0000", rng.IntN(1e6)), NaicsCodes: []string{"331110"}}
			if rng.IntN(5) == 0 {
				t.Supplier = &intakev1.Supplier{} // masked to nothing, still present
			}
		}
		if rng.IntN(2) == 0 {
			t.EmissionResult = &calculatorv1.EmissionResult{KgCo2E: "1.5000000", FactorValue: "0.787", Method: "spend-based"}
		}
		p.Transactions = append(p.Transactions, t)
	}
	return p
}

func TestTransactionPagesRenderAsProtojsonDoes(t *testing.T) {
	plain := &runtime.JSONPb{}
	pages := newTxPages(func(m proto.Message) ([]byte, error) { return plain.Marshal(m) })
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		p := randomPage(rng, 1+rng.IntN(60))
		raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := pages.render(raw)
		if !ok {
			t.Fatalf("page %d not rendered", i)
		}
		want, _ := plain.Marshal(p)
		if !sameJSON(t, got, want) {
			t.Fatalf("page %d:\n%s\nwant\n%s", i, got, want)
		}
	}
	// Not taken apart: no transactions, or a transaction whose supplier
	// field is repeated (proto would merge the two).
	if _, ok := pages.render(nil); ok {
		t.Fatal("an empty page was rendered in parts")
	}
	tx, _ := proto.Marshal(&intakev1.Transaction{Name: "transactions/T1", Supplier: &intakev1.Supplier{Name: "suppliers/S1"}})
	sup, _ := proto.Marshal(&intakev1.Transaction{Supplier: &intakev1.Supplier{SpendUsd: "1"}})
	twice, _ := proto.Marshal(&intakev1.ListTransactionsResponse{})
	elem := slices.Concat(tx, sup)
	twice = append(twice, 0x0a, byte(len(elem)))
	twice = append(twice, elem...)
	if _, ok := pages.render(twice); ok {
		t.Fatal("a transaction with two supplier fields was rendered in parts")
	}
}

// A page whose suppliers' totals moved costs one new part per supplier;
// its transactions come from the memo.
func TestTransactionPartsAreReused(t *testing.T) {
	plain := &runtime.JSONPb{}
	pages := newTxPages(func(m proto.Message) ([]byte, error) { return plain.Marshal(m) })
	p := page(50, "10.0000")
	raw, _ := proto.Marshal(p)
	first, _ := pages.render(raw)
	if n := pages.parts.Len(); n != 51 {
		t.Fatalf("%d parts after the first page, want 50 transactions and 1 supplier", n)
	}
	for _, tx := range p.GetTransactions() {
		tx.Supplier.SpendUsd = "250.0000"
	}
	raw2, _ := proto.Marshal(p)
	second, _ := pages.render(raw2)
	want, _ := plain.Marshal(p)
	if pages.parts.Len() != 52 || !sameJSON(t, second, want) || sameJSON(t, first, second) {
		t.Fatalf("%d parts after the supplier moved, want 52; JSON right %v", pages.parts.Len(), sameJSON(t, second, want))
	}
}

func BenchmarkTransactionPage(b *testing.B) {
	p := page(50, "10.0000")
	plain := &runtime.JSONPb{}
	pages := newTxPages(func(m proto.Message) ([]byte, error) { return plain.Marshal(m) })
	b.Run("protojson", func(b *testing.B) {
		for b.Loop() {
			if _, err := plain.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parts, supplier moved", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n++
			for _, tx := range p.GetTransactions() {
				tx.Supplier.SpendUsd = fmt.Sprintf("%d.0000", n)
			}
			raw, _ := proto.Marshal(p)
			if _, ok := pages.render(raw); !ok {
				b.Fatal("not rendered")
			}
		}
	})
}
