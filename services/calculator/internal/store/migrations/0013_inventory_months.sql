-- The inventory's groups by month of the lines' dates (key as dimension 5
-- of emission_totals: 'category|factor_set_id|method|indicators|factor
-- code'), kept in the transaction that stores results, so an inventory of
-- a reporting period (whole months) sums its months' groups instead of
-- its lines. A table of its own, unlike the other totals: only its key is
-- indexed, so adding to a group is a HOT update (fillfactor 70 keeps room
-- on the page), where emission_totals' index on kg sends every update to
-- a new index entry. Dimension 5 stays the groups of every month, which
-- the daily log and snapshots are kept from.
CREATE TABLE inventory_months (
    tenant_id   uuid NOT NULL,
    month       date NOT NULL,
    key         text NOT NULL,
    kg_co2e     numeric NOT NULL,
    kg_co2e_ar4 numeric NOT NULL,
    kg_co2e_ar6 numeric NOT NULL,
    spend_usd   numeric NOT NULL,
    tx_count    bigint NOT NULL,
    PRIMARY KEY (tenant_id, month, key)
) WITH (fillfactor = 70);
ALTER TABLE inventory_months ENABLE ROW LEVEL SECURITY;
ALTER TABLE inventory_months FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inventory_months
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, UPDATE ON inventory_months TO vcci_app;

-- The backfill spans tenants: the owner is let past the tenant policies
-- (0004) for it, in this migration's transaction only.
ALTER TABLE factors NO FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_results NO FORCE ROW LEVEL SECURITY;
ALTER TABLE inventory_months NO FORCE ROW LEVEL SECURITY;
INSERT INTO inventory_months (tenant_id, month, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count)
SELECT g.tenant_id, g.month, g.category || '|' || g.factor_set_id || '|' || g.method || '|' || g.dq || '|' || g.fcode,
    g.kg, g.q * f.value_ar4, g.q * f.value_ar6, g.amt, g.n
FROM (
    SELECT tenant_id, date_trunc('month', tx_date)::date AS month, category, factor_set_id, method, coalesce(dq, 0) AS dq,
        coalesce(factor_code, naics_code) AS fcode, sum(kg_co2e) AS kg, sum(amount_usd) AS amt, count(*) AS n,
        sum(coalesce(factor_quantity, amount_base_usd, amount_usd)) AS q
    FROM emission_results GROUP BY 1, 2, 3, 4, 5, 6, 7) g
JOIN factors f ON f.factor_set_id = g.factor_set_id AND f.code = g.fcode;
ALTER TABLE factors FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_results FORCE ROW LEVEL SECURITY;
ALTER TABLE inventory_months FORCE ROW LEVEL SECURITY;

-- A snapshot records the months too, so a period can be read from it.
-- Snapshots recorded before have none (months false): they are read whole.
CREATE TABLE inventory_snapshot_months (
    snapshot_id bigint NOT NULL REFERENCES inventory_snapshots (id),
    tenant_id   uuid NOT NULL,
    month       date NOT NULL,
    key         text NOT NULL,
    kg_co2e     numeric NOT NULL,
    kg_co2e_ar4 numeric NOT NULL,
    kg_co2e_ar6 numeric NOT NULL,
    spend_usd   numeric NOT NULL,
    tx_count    bigint NOT NULL,
    PRIMARY KEY (snapshot_id, month, key)
);
ALTER TABLE inventory_snapshot_months ENABLE ROW LEVEL SECURITY;
ALTER TABLE inventory_snapshot_months FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inventory_snapshot_months
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT ON inventory_snapshot_months TO vcci_app;
ALTER TABLE inventory_snapshots ADD COLUMN months boolean NOT NULL DEFAULT false;
