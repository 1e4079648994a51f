-- The counters of migration 0007 were one row per key, added to with an
-- upsert. Concurrent uploads touch the same days and months, so each upsert
-- waited for the other upload's transaction to commit: under the design's
-- load (about 50 ten-line uploads a second) validations queued behind each
-- other on those row locks and an upload took 5-12 s to succeed.
--
-- Now each insert appends its own delta rows, which lock nothing another
-- upload needs. Readers already sum n over a key's rows. A periodic job
-- (store.CompactCounts) folds each key that has deltas back into one row;
-- the partial indexes find those keys without reading the folded rows.
DO $mig$
DECLARE
    t text;
    k text;
BEGIN
    FOR t, k IN VALUES ('transaction_days', 'tenant_id, tx_date'), ('transaction_suppliers', 'tenant_id, supplier_id'),
        ('transaction_codes', 'tenant_id, naics_code, category, month') LOOP
        EXECUTE format('ALTER TABLE intake.%1$I DROP CONSTRAINT %2$I;
            ALTER TABLE intake.%1$I ADD COLUMN delta boolean NOT NULL DEFAULT false;
            CREATE INDEX %3$I ON intake.%1$I (%4$s);
            CREATE INDEX %5$I ON intake.%1$I (%4$s) WHERE delta', t, t || '_pkey', t || '_key', k, t || '_deltas');
    END LOOP;
END $mig$;

CREATE OR REPLACE FUNCTION transaction_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO intake.transaction_days (tenant_id, tx_date, n, delta)
    SELECT tenant_id, tx_date, count(*), true FROM new_transactions GROUP BY 1, 2;
    INSERT INTO intake.transaction_suppliers (tenant_id, supplier_id, n, delta)
    SELECT tenant_id, supplier_id, count(*), true FROM new_transactions GROUP BY 1, 2;
    INSERT INTO intake.transaction_codes (tenant_id, naics_code, category, month, n, delta)
    SELECT tenant_id, naics_code, category, date_trunc('month', tx_date)::date, count(*), true FROM new_transactions GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;
