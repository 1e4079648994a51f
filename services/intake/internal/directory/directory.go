// Package directory reads back what intake stored: its suppliers, with the
// running totals of their calculated lines, and its transactions, one at a
// time or a page at a time. The upload pipeline (package intake) writes
// them; the directory only reads.
package directory

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
func SupplierOrders() []string {
	return []string{"kg_co2e desc", "kg_co2e", "spend_usd desc", "spend_usd",
		"display_name", "display_name desc", "transaction_count desc", "relevance"}
}

// TransactionOrders are the orders ListTransactions takes.
func TransactionOrders() []string {
	return []string{"date desc", "date", "amount_usd desc", "amount_usd"}
}

// Supplier is a supplier named in spend data, with the totals of its
// calculated lines.
type Supplier struct {
	ID, Name             string
	CreatedAt, UpdatedAt time.Time
	Country              string
	NAICSCodes           []string
	Spend, Kg, Intensity string // exact decimals; Intensity empty when spend is 0
	Count                int64
}

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
	Order                string   // one of SupplierOrders()
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
	Order             string    // one of TransactionOrders()
	Fields            []string  // Transaction fields to read; nil means all
	Page
}

// Transaction is a stored purchase line.
type Transaction struct {
	ID                     string
	Date                   time.Time
	SupplierID, NAICS      string
	Amount, Currency, Desc string // Amount in USD
	Original               string // the amount in Currency
	Category               int16
	CategorySource         string // "line", "factor" or "categoryRules/{rule}"
	Upload, Row            int64
}

// TransactionPage is one page of transactions.
type TransactionPage struct {
	Transactions []Transaction
	Next         []string
	Total        int64
}

// Store is the persistence the directory reads.
type Store interface {
	ListSuppliers(ctx context.Context, tenant uuid.UUID, q SupplierQuery) (SupplierPage, error)
	Supplier(ctx context.Context, tenant uuid.UUID, id string, fields []string) (Supplier, error)
	// SuppliersByID reads the suppliers named, with the fields given (nil:
	// all); unknown ids are left out.
	SuppliersByID(ctx context.Context, tenant uuid.UUID, ids []string, fields []string) ([]Supplier, error)
	ListTransactions(ctx context.Context, tenant uuid.UUID, q TransactionQuery) (TransactionPage, error)
	Transaction(ctx context.Context, tenant uuid.UUID, id string, fields []string) (Transaction, error)
}

// Service is the directory's API-facing logic.
type Service struct {
	store Store
}

// New returns a Service.
func New(store Store) *Service { return &Service{store: store} }

// Supplier reads one supplier, with the fields given (nil: all).
func (s *Service) Supplier(ctx context.Context, tenant uuid.UUID, id string, fields []string) (Supplier, error) {
	return s.store.Supplier(ctx, tenant, id, fields)
}

// Suppliers resolves supplier ids, every field; unknown ones are left out.
func (s *Service) Suppliers(ctx context.Context, tenant uuid.UUID, ids []string) ([]Supplier, error) {
	if len(ids) > 1000 {
		return nil, apperr.Invalid("names", "at most 1000 names, got %d", len(ids))
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.store.SuppliersByID(ctx, tenant, ids, nil)
}

// SuppliersByID reads the suppliers named, with the fields given (nil:
// all), in one call; unknown ids are left out.
func (s *Service) SuppliersByID(ctx context.Context, tenant uuid.UUID, ids []string, fields []string) ([]Supplier, error) {
	return s.store.SuppliersByID(ctx, tenant, ids, fields)
}

// ListSuppliers reads one page of suppliers.
func (s *Service) ListSuppliers(ctx context.Context, tenant uuid.UUID, q SupplierQuery) (SupplierPage, error) {
	return s.store.ListSuppliers(ctx, tenant, q)
}

// Transaction reads one transaction, with the fields given (nil: all).
func (s *Service) Transaction(ctx context.Context, tenant uuid.UUID, id string, fields []string) (Transaction, error) {
	return s.store.Transaction(ctx, tenant, id, fields)
}

// ListTransactions reads one page of transactions.
func (s *Service) ListTransactions(ctx context.Context, tenant uuid.UUID, q TransactionQuery) (TransactionPage, error) {
	return s.store.ListTransactions(ctx, tenant, q)
}
