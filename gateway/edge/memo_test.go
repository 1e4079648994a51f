package edge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
)

func page(n int, amount string) *intakev1.ListTransactionsResponse {
	p := &intakev1.ListTransactionsResponse{NextPageToken: "tok"}
	for i := range n {
		p.Transactions = append(p.Transactions, &intakev1.Transaction{
			Name: fmt.Sprintf("transactions/T%05d", i), SupplierId: "S1", NaicsCode: "331110", AmountUsd: amount, Currency: "USD",
			Description: "steel coil", Date: "2024-03-01",
			Supplier: &intakev1.Supplier{Name: "suppliers/S1", DisplayName: "Acme Steel", SpendUsd: "100.0000"},
		})
	}
	return p
}

func TestMemoJSONAnswersExactlyAsProtojson(t *testing.T) {
	plain := &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{}}
	m := newMemoJSON(&runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{}})
	a, b := page(50, "10.0000"), page(50, "10.0001") // one digit apart in every line
	small := page(1, "1.0000")
	for round := range 3 {
		for _, msg := range []*intakev1.ListTransactionsResponse{a, b, small} {
			got, err := m.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := plain.Marshal(msg)
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d: memo JSON differs from protojson's:\n%.200s\n%.200s", round, got, want)
			}
		}
	}
	// The two large pages are memoised, the small one is not.
	if n := m.memo.Len(); n != 2 {
		t.Fatalf("memo holds %d entries, want 2", n)
	}
	// A message changed in place is encoded afresh, not served stale.
	a.Transactions[7].AmountUsd = "99.0000"
	got, _ := m.Marshal(a)
	if want, _ := plain.Marshal(a); !bytes.Equal(got, want) {
		t.Fatal("memo answered a changed message with its old JSON")
	}
	// The memo's bytes are shared: appending to them must not write into
	// the entry.
	got, _ = m.Marshal(b)
	_ = append(got, '!')
	again, _ := m.Marshal(b)
	if want, _ := plain.Marshal(b); !bytes.Equal(again, want) {
		t.Fatal("an append to a memoised answer changed the memo")
	}
}

func BenchmarkMemoJSON(b *testing.B) {
	msg := page(50, "10.0000")
	for _, tc := range []struct {
		name string
		m    runtime.Marshaler
	}{
		{"protojson", &runtime.JSONPb{}},
		{"memo", newMemoJSON(&runtime.JSONPb{})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := tc.m.Marshal(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// lazily is msg as lazyCodec hands it over: decoded or, for a large page of
// a lazy type, still encoded.
func lazily(t *testing.T, msg proto.Message) proto.Message {
	t.Helper()
	b, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	into := msg.ProtoReflect().New().Interface()
	if err := newLazyCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, into); err != nil {
		t.Fatal(err)
	}
	return into
}

func TestLazyCodecLeavesOnlyLargePagesEncoded(t *testing.T) {
	big := lazily(t, page(50, "10.0000")).(*intakev1.ListTransactionsResponse)
	if len(big.GetTransactions()) != 0 || stillEncoded(big) == nil {
		t.Fatalf("a 50-line page was decoded: %d lines", len(big.GetTransactions()))
	}
	small := lazily(t, page(1, "1.0000")).(*intakev1.ListTransactionsResponse)
	if len(small.GetTransactions()) != 1 || stillEncoded(small) != nil {
		t.Fatal("a one-line page was left encoded")
	}
	// Not a lazy type: decoded whatever its size.
	tx := &intakev1.Transaction{Name: "transactions/T1", Description: strings.Repeat("x", 4<<10)}
	if got := lazily(t, tx).(*intakev1.Transaction); got.GetName() != "transactions/T1" || stillEncoded(got) != nil {
		t.Fatalf("a transaction was left encoded: %v", got.GetName())
	}
}

func TestMemoJSONDecodesAnEncodedPageOnlyOnAMiss(t *testing.T) {
	plain := &runtime.JSONPb{}
	m := newMemoJSON(&runtime.JSONPb{})
	p := page(50, "10.0000")
	want, _ := plain.Marshal(p)
	for round := range 2 {
		got, err := m.Marshal(lazily(t, p))
		if err != nil || !sameJSON(t, got, want) {
			t.Fatalf("round %d: %v\n%.200s\nwant\n%.200s", round, err, got, want)
		}
		if n := m.memo.Len(); n != 1 {
			t.Fatalf("round %d: memo holds %d entries, want 1", round, n)
		}
	}
	// A page that differs in one digit is another entry, with its own JSON.
	q := page(50, "10.0001")
	got, _ := m.Marshal(lazily(t, q))
	if want, _ := plain.Marshal(q); !sameJSON(t, got, want) || m.memo.Len() != 2 {
		t.Fatalf("second page: memo %d entries, JSON equal %v", m.memo.Len(), sameJSON(t, got, want))
	}
	// Bytes that are not a page fail the request rather than answer wrong.
	bad := &intakev1.ListTransactionsResponse{}
	bad.ProtoReflect().SetUnknown(bytes.Repeat([]byte{0xff}, 3<<10))
	if _, err := m.Marshal(bad); err == nil {
		t.Fatal("garbage bytes marshaled without an error")
	}
}

// sameJSON reports whether a and b are the same JSON value (member order
// and white space aside).
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, a)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return reflect.DeepEqual(va, vb)
}
