-- A supplier's transactions, latest first (the drill-down from a supplier),
-- answered from the index alone: a page is 50 rows scattered over the heap,
-- and reading them cost about 70 buffers and 20 reads from disk a page
-- (1.8 ms each under the REST mix, the largest read in PostgreSQL). With
-- every column a page shows in the index, a page is about 18 buffers, all
-- of them index pages a supplier's rows share, once the heap pages are
-- all-visible (VACUUM; the store vacuums after a large upload). It replaces
-- the narrower index on the same keys.
CREATE INDEX transactions_by_supplier_page ON transactions (tenant_id, supplier_id, tx_date, transaction_id)
    INCLUDE (amount_usd, naics_code, category, currency, description, upload_id, row_number);
DROP INDEX IF EXISTS transactions_by_supplier;
