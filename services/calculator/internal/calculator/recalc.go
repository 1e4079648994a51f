package calculator

// RecalculationStore is the persistence recalculations need.
type RecalculationStore interface{}
