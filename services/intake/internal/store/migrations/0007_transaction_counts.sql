-- Offset pages report page_info.total: how many transactions the filter
-- matches. Counting them under the transactions policy reads every row the
-- filter names, on every page. These counters hold the same numbers, kept
-- by a trigger in the transaction that stores the rows, so a total is exact
-- as soon as the rows are visible, whatever statement stored them (COPY or
-- INSERT). Transactions are never updated or deleted, so inserts are all
-- the counters follow.
--
-- Each counter is coarse enough that an upload adds to few rows of it (a
-- supplier's count by month would be nearly a row per line): by date,
-- for no filter or dates alone; by supplier, for a supplier alone; by NAICS
-- code, category and month, for codes and categories, with or without
-- dates. What they do not answer is counted from the rows, bounded: a
-- supplier with other filters counts that supplier's rows, and a date range
-- with a code or category counts the rows of the at most two months it cuts.
CREATE TABLE transaction_days (
    tenant_id uuid NOT NULL,
    tx_date   date NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (tenant_id, tx_date)
);
CREATE TABLE transaction_suppliers (
    tenant_id   uuid NOT NULL,
    supplier_id text NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (tenant_id, supplier_id)
);
CREATE TABLE transaction_codes (
    tenant_id  uuid NOT NULL,
    naics_code text NOT NULL,
    category   smallint NOT NULL,
    month      date NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (tenant_id, naics_code, category, month)
);

DO $mig$
DECLARE
    t text;
    -- Written once, run twice: over the stored rows (the backfill) and in
    -- the trigger over a statement's new rows. Key order, so concurrent
    -- uploads lock shared counters in the same order.
    add text := $sql$
    INSERT INTO intake.transaction_days AS c (tenant_id, tx_date, n)
    SELECT tenant_id, tx_date, count(*) FROM %1$s GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (tenant_id, tx_date) DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO intake.transaction_suppliers AS c (tenant_id, supplier_id, n)
    SELECT tenant_id, supplier_id, count(*) FROM %1$s GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (tenant_id, supplier_id) DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO intake.transaction_codes AS c (tenant_id, naics_code, category, month, n)
    SELECT tenant_id, naics_code, category, date_trunc('month', tx_date)::date, count(*) FROM %1$s GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (tenant_id, naics_code, category, month) DO UPDATE SET n = c.n + excluded.n;
    $sql$;
BEGIN
    FOREACH t IN ARRAY ARRAY['transaction_days', 'transaction_suppliers', 'transaction_codes'] LOOP
        EXECUTE format('ALTER TABLE intake.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON intake.%I USING (tenant_id = current_setting(''vcci.tenant_id'')::uuid) WITH CHECK (tenant_id = current_setting(''vcci.tenant_id'')::uuid)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON intake.%I TO vcci_app', t);
    END LOOP;
    EXECUTE format(add, 'intake.transactions');
    EXECUTE format($fn$CREATE FUNCTION intake.transaction_counts_add() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN %s RETURN NULL; END $body$$fn$, format(add, 'new_transactions'));
END $mig$;

-- One statement per insert, over all its rows.
CREATE TRIGGER transaction_counts_add AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS new_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION transaction_counts_add();
