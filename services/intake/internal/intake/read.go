package intake

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// ErrSupplierNotFound and ErrTransactionNotFound answer reads of names that
// do not exist for the caller's tenant.
var (
	ErrSupplierNotFound    = apperr.New(apperr.NotFound, "supplier not found")
	ErrTransactionNotFound = apperr.New(apperr.NotFound, "transaction not found")
)

// MaxPageSize bounds every list call.
const MaxPageSize = 1000

// SupplierOrders are the orders ListSuppliers takes, by their order_by text.
var SupplierOrders = []string{"kg_co2e desc", "kg_co2e", "spend_usd desc", "spend_usd",
	"display_name", "display_name desc", "transaction_count desc", "relevance"}

// TransactionOrders are the orders ListTransactions takes.
var TransactionOrders = []string{"date desc", "date", "amount_usd desc", "amount_usd"}

// Page selects one page, by cursor or by offset.
type Page struct {
	Limit  int
	After  []string // cursor mode: the sort keys of the last row served
	Offset int      // offset mode
	Count  bool     // offset mode: also count every matching row
}

// SupplierQuery is a validated ListSuppliers call.
type SupplierQuery struct {
	Text, NAICS, Country string
	Order                string   // one of SupplierOrders
	Fields               []string // Supplier fields to read; nil means all
	Page
}

// SupplierPage is one page of suppliers.
type SupplierPage struct {
	Suppliers []Supplier
	Next      []string // sort keys to resume after; nil on the last page
	Total     int64    // when Page.Count
}

// TransactionQuery is a validated ListTransactions call.
type TransactionQuery struct {
	SupplierID, NAICS string
	Start, End        time.Time // zero: open
	Category          int16     // 0: any
	Order             string    // one of TransactionOrders
	Fields            []string  // Transaction fields to read; nil means all
	Page
}

// Transaction is a stored purchase line.
type Transaction struct {
	ID                     string
	Date                   time.Time
	SupplierID, NAICS      string
	Amount, Currency, Desc string
	Category               int16
	Upload, Row            int64
}

// TransactionPage is one page of transactions.
type TransactionPage struct {
	Transactions []Transaction
	Next         []string
	Total        int64
}

// Reader is the read side of the store.
type Reader interface {
	ListSuppliers(ctx context.Context, tenant uuid.UUID, q SupplierQuery) (SupplierPage, error)
	Supplier(ctx context.Context, tenant uuid.UUID, id string, fields []string) (Supplier, error)
	ListTransactions(ctx context.Context, tenant uuid.UUID, q TransactionQuery) (TransactionPage, error)
	Transaction(ctx context.Context, tenant uuid.UUID, id string, fields []string) (Transaction, error)
}
