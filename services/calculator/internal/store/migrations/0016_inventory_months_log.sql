-- The inventory's groups by month of the lines' dates as they changed,
-- per day (the daily log of 0010 by month, as inventory_months is
-- emission_totals' dimension 5 by month): a period as of a day sums its
-- months' days up to it. Kept in the transaction that stores results.
-- Keyed month first: a period's read walks its months, whatever the days.
CREATE TABLE inventory_months_log (
    tenant_id   uuid NOT NULL,
    month       date NOT NULL,
    key         text NOT NULL,
    day         date NOT NULL,
    kg_co2e     numeric NOT NULL,
    kg_co2e_ar4 numeric NOT NULL,
    kg_co2e_ar6 numeric NOT NULL,
    spend_usd   numeric NOT NULL,
    tx_count    bigint NOT NULL,
    PRIMARY KEY (tenant_id, month, key, day)
) WITH (fillfactor = 70);
ALTER TABLE inventory_months_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE inventory_months_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inventory_months_log
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, UPDATE ON inventory_months_log TO vcci_app;

-- The day a tenant's months log starts: the months it had before are
-- logged whole under that day, so a period can be read as of it or later
-- only. A tenant without a row had no data before: its log holds every
-- change.
CREATE TABLE inventory_months_log_start (
    tenant_id uuid PRIMARY KEY,
    day       date NOT NULL
);
ALTER TABLE inventory_months_log_start ENABLE ROW LEVEL SECURITY;
ALTER TABLE inventory_months_log_start FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inventory_months_log_start
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT ON inventory_months_log_start TO vcci_app;

-- The backfill spans tenants: the owner is let past the tenant policies
-- in this migration's transaction only, as in 0013. Days are UTC, as the
-- calculator logs them.
ALTER TABLE inventory_months NO FORCE ROW LEVEL SECURITY;
ALTER TABLE inventory_months_log NO FORCE ROW LEVEL SECURITY;
ALTER TABLE inventory_months_log_start NO FORCE ROW LEVEL SECURITY;
INSERT INTO inventory_months_log (tenant_id, month, key, day, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count)
SELECT tenant_id, month, key, (now() AT TIME ZONE 'UTC')::date, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count
FROM inventory_months WHERE tx_count <> 0;
INSERT INTO inventory_months_log_start (tenant_id, day)
SELECT DISTINCT tenant_id, (now() AT TIME ZONE 'UTC')::date FROM inventory_months_log;
ALTER TABLE inventory_months FORCE ROW LEVEL SECURITY;
ALTER TABLE inventory_months_log FORCE ROW LEVEL SECURITY;
ALTER TABLE inventory_months_log_start FORCE ROW LEVEL SECURITY;
