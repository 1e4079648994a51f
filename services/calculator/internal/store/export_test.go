package store

// ResultQuantity is resultQuantity, for the plan test.
const ResultQuantity = resultQuantity

// ParseGroupKey is parseGroupKey, for the key test.
var ParseGroupKey = parseGroupKey
