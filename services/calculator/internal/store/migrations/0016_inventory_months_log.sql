-- A period as of a day. Each month's group says the last day it changed
-- (day, UTC, as the daily log of 0010). The statement that moves it to a
-- later day keeps its figures at the end of the earlier day in prev_*
-- (NULL otherwise) and logs them to inventory_months_log under that day.
-- A period as of a day reads each group as it is, if it has not changed
-- since, else its latest logged day up to it. A group is logged once a
-- day it changes, not once a batch: a large upload of a day logs nothing.
ALTER TABLE inventory_months
    ADD COLUMN day date NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')::date,
    ADD COLUMN prev_day date,
    ADD COLUMN prev_kg_co2e numeric,
    ADD COLUMN prev_spend_usd numeric,
    ADD COLUMN prev_tx_count bigint,
    ADD COLUMN prev_kg_co2e_ar4 numeric,
    ADD COLUMN prev_kg_co2e_ar6 numeric;
ALTER TABLE inventory_months ALTER COLUMN day DROP DEFAULT;

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
);
ALTER TABLE inventory_months_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE inventory_months_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inventory_months_log
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT ON inventory_months_log TO vcci_app;

-- The day a tenant's months are logged from: its groups before this
-- migration are dated the day it ran, with nothing logged before, so a
-- period can be read as of that day or later only. A tenant without a
-- row had no data before: every change is logged.
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

-- Across tenants: the owner is let past the tenant policies in this
-- migration's transaction only, as in 0013.
ALTER TABLE inventory_months NO FORCE ROW LEVEL SECURITY;
ALTER TABLE inventory_months_log_start NO FORCE ROW LEVEL SECURITY;
INSERT INTO inventory_months_log_start (tenant_id, day)
SELECT DISTINCT tenant_id, day FROM inventory_months;
ALTER TABLE inventory_months FORCE ROW LEVEL SECURITY;
ALTER TABLE inventory_months_log_start FORCE ROW LEVEL SECURITY;
