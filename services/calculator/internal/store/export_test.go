package store

// ResultQuantity is resultQuantity, for the plan test.
const ResultQuantity = resultQuantity
