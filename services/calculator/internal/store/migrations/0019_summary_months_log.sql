-- Suppliers (by method), categories and months as of a day, as 0016 keeps
-- the inventory's months: each summary_months group says the last day it
-- changed; the statement that moves it to a later day logs its figures at
-- the end of the earlier day to summary_months_log under that day. A
-- hotspot pack as of a day reads each group as it is, if it has not
-- changed since, else its latest logged day up to it. Logged once a day a
-- group changes, not once a batch.
ALTER TABLE summary_months
    ADD COLUMN day date NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')::date,
    ADD COLUMN prev_day date,
    ADD COLUMN prev_kg_co2e numeric,
    ADD COLUMN prev_spend_usd numeric,
    ADD COLUMN prev_tx_count bigint,
    ADD COLUMN prev_kg_co2e_ar4 numeric,
    ADD COLUMN prev_kg_co2e_ar6 numeric;
ALTER TABLE summary_months ALTER COLUMN day DROP DEFAULT;

CREATE TABLE summary_months_log (
    tenant_id   uuid NOT NULL,
    dim         smallint NOT NULL,
    month       date NOT NULL,
    key         text COLLATE "C" NOT NULL,
    day         date NOT NULL,
    kg_co2e     numeric NOT NULL,
    kg_co2e_ar4 numeric NOT NULL,
    kg_co2e_ar6 numeric NOT NULL,
    spend_usd   numeric NOT NULL,
    tx_count    bigint NOT NULL,
    PRIMARY KEY (tenant_id, dim, month, key, day)
);
ALTER TABLE summary_months_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE summary_months_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON summary_months_log
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT ON summary_months_log TO vcci_app;

-- The day a tenant's summaries are logged from, as
-- inventory_months_log_start: groups kept before this migration are dated
-- the day it ran. A tenant without a row had no data before.
CREATE TABLE summary_months_log_start (
    tenant_id uuid PRIMARY KEY,
    day       date NOT NULL
);
ALTER TABLE summary_months_log_start ENABLE ROW LEVEL SECURITY;
ALTER TABLE summary_months_log_start FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON summary_months_log_start
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT ON summary_months_log_start TO vcci_app;

-- Across tenants: the owner is let past the tenant policies in this
-- migration's transaction only, as in 0013.
ALTER TABLE summary_months NO FORCE ROW LEVEL SECURITY;
ALTER TABLE summary_months_log_start NO FORCE ROW LEVEL SECURITY;
INSERT INTO summary_months_log_start (tenant_id, day)
SELECT DISTINCT tenant_id, day FROM summary_months;
ALTER TABLE summary_months FORCE ROW LEVEL SECURITY;
ALTER TABLE summary_months_log_start FORCE ROW LEVEL SECURITY;
