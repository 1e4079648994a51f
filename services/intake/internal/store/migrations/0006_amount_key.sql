-- Pages of transactions ordered by amount resume after the last row shown
-- with a keyset condition, (amount, id) < (last amount, last id). Under the
-- transactions policy PostgreSQL applies a condition to the table's columns
-- inside an index scan only when its operators are leakproof, and numeric's
-- are not: the condition was a filter over the index, so page n read and
-- threw away the n-1 pages before it. The amount in ten-thousandths of a
-- dollar is an integer (numeric(18, 4): at most 18 digits, which bigint
-- holds), bigint's comparisons are leakproof, and the index on it takes the
-- keyset condition as its bound, as the date index does.
ALTER TABLE transactions ADD COLUMN amount_e4 bigint GENERATED ALWAYS AS ((amount_usd * 10000)::bigint) STORED;
DROP INDEX transactions_by_amount;
CREATE INDEX transactions_by_amount ON transactions (tenant_id, amount_e4, transaction_id);
