-- The counters of migration 0007 were one row per key, added to with an
-- upsert. Concurrent uploads touch the same days and months, so each upsert
-- waited for the other upload's transaction to commit: under the design's
-- load (about 50 ten-line uploads a second) validations queued behind each
-- other on those row locks and an upload took 5-12 s to succeed.
--
-- Now each insert appends its own delta rows, which lock nothing another
-- upload needs. Readers already sum n over a key's rows. A periodic job
-- (store.CompactCounts) folds each key's rows back into one.
ALTER TABLE transaction_days DROP CONSTRAINT transaction_days_pkey;
ALTER TABLE transaction_suppliers DROP CONSTRAINT transaction_suppliers_pkey;
ALTER TABLE transaction_codes DROP CONSTRAINT transaction_codes_pkey;
CREATE INDEX transaction_days_key ON transaction_days (tenant_id, tx_date);
CREATE INDEX transaction_suppliers_key ON transaction_suppliers (tenant_id, supplier_id);
CREATE INDEX transaction_codes_key ON transaction_codes (tenant_id, naics_code, category, month);

CREATE OR REPLACE FUNCTION transaction_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO intake.transaction_days (tenant_id, tx_date, n)
    SELECT tenant_id, tx_date, count(*) FROM new_transactions GROUP BY 1, 2;
    INSERT INTO intake.transaction_suppliers (tenant_id, supplier_id, n)
    SELECT tenant_id, supplier_id, count(*) FROM new_transactions GROUP BY 1, 2;
    INSERT INTO intake.transaction_codes (tenant_id, naics_code, category, month, n)
    SELECT tenant_id, naics_code, category, date_trunc('month', tx_date)::date, count(*) FROM new_transactions GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;
