-- Summary dimensions by month of the lines' dates (dim as in
-- emission_totals: 1 supplier, 2 category, 4 month; NAICS codes by month
-- cost a tenth of a calculation to keep and are read from the lines),
-- kept in the transaction that stores results, so a summary of a
-- reporting period (a hotspot pack's Pareto) sums its months' groups
-- instead of its lines: its cost follows keys times months, not lines. Only the key is
-- indexed, so adding to a group is a HOT update, as in inventory_months.
-- Keys compare bytewise, as the results' supplier ids do (0014).
CREATE TABLE summary_months (
    tenant_id   uuid NOT NULL,
    dim         smallint NOT NULL CHECK (dim IN (1, 2, 4)),
    month       date NOT NULL,
    key         text COLLATE "C" NOT NULL,
    kg_co2e     numeric NOT NULL,
    kg_co2e_ar4 numeric NOT NULL,
    kg_co2e_ar6 numeric NOT NULL,
    spend_usd   numeric NOT NULL,
    tx_count    bigint NOT NULL,
    PRIMARY KEY (tenant_id, dim, month, key)
) WITH (fillfactor = 70);
ALTER TABLE summary_months ENABLE ROW LEVEL SECURITY;
ALTER TABLE summary_months FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON summary_months
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, UPDATE ON summary_months TO vcci_app;

-- The backfill spans tenants: the owner is let past the tenant policies
-- in this migration's transaction only, as in 0013.
ALTER TABLE factors NO FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_results NO FORCE ROW LEVEL SECURITY;
ALTER TABLE summary_months NO FORCE ROW LEVEL SECURITY;
INSERT INTO summary_months (tenant_id, dim, month, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count)
SELECT tenant_id, dim, month, key, sum(kg), sum(kg4), sum(kg6), sum(amt), sum(n)
FROM (
    SELECT g.tenant_id, g.month, g.supplier_id, g.category, g.kg, g.q * f.value_ar4 AS kg4, g.q * f.value_ar6 AS kg6, g.amt, g.n
    FROM (
        SELECT tenant_id, date_trunc('month', tx_date)::date AS month, supplier_id, category, factor_set_id,
            coalesce(factor_code, naics_code) AS fcode, sum(kg_co2e) AS kg, sum(amount_usd) AS amt, count(*) AS n,
            sum(coalesce(factor_quantity, amount_base_usd, amount_usd)) AS q
        FROM emission_results GROUP BY 1, 2, 3, 4, 5, 6) g
    JOIN factors f ON f.factor_set_id = g.factor_set_id AND f.code = g.fcode) l
CROSS JOIN LATERAL (VALUES (1::smallint, l.supplier_id), (2, l.category::text), (4, to_char(l.month, 'YYYY-MM'))) d(dim, key)
GROUP BY tenant_id, dim, month, key;
ALTER TABLE factors FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_results FORCE ROW LEVEL SECURITY;
ALTER TABLE summary_months FORCE ROW LEVEL SECURITY;
