-- A supplier's running totals move to a narrow table of their own. Every
-- calculated upload adds to the totals of the suppliers it names, so under
-- a steady stream of small uploads most of a tenant's active suppliers are
-- rewritten twice a second. In the suppliers table each such update wrote a
-- new version of a wide row (name, folded name, NAICS codes) and an entry in
-- all eight of its indexes, two of them GIN (a name's trigrams, its codes),
-- which vacuum then had to clean: under the REST mix the totals update took
-- 136 ms per batch and vacuuming suppliers 770 ms a run. Here an update
-- touches a row of three numbers and four B-tree indexes (measured on the
-- benchmark's 10,000 suppliers: updating 600 totals 26 ms instead of 37 ms,
-- vacuuming them 18 ms instead of 73 ms), and a new upload's supplier
-- upsert no longer waits on rows a completing batch holds locked.
--
-- Every supplier has exactly one totals row: a trigger adds it, at zero,
-- when the supplier is inserted. Reads join the two; "order by emissions"
-- walks supplier_totals_by_kg and finds each supplier by primary key.
CREATE TABLE supplier_totals (
    tenant_id   uuid NOT NULL,
    supplier_id text NOT NULL,
    spend_usd   numeric NOT NULL DEFAULT 0,
    kg_co2e     numeric NOT NULL DEFAULT 0,
    tx_count    bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, supplier_id),
    FOREIGN KEY (tenant_id, supplier_id) REFERENCES suppliers ON DELETE CASCADE
) WITH (fillfactor = 70);

INSERT INTO supplier_totals (tenant_id, supplier_id, spend_usd, kg_co2e, tx_count, updated_at)
SELECT tenant_id, supplier_id, spend_usd, kg_co2e, tx_count, updated_at FROM suppliers;

-- A page after the first starts inside these indexes, where its keyset
-- condition, (kg_co2e, supplier_id) < (last kg, last id), puts it (read
-- backwards for "largest first"). In the suppliers table, under its policy,
-- that condition was a filter: page n re-read the n-1 pages before it.
CREATE INDEX supplier_totals_by_kg ON supplier_totals (tenant_id, kg_co2e, supplier_id);
CREATE INDEX supplier_totals_by_spend ON supplier_totals (tenant_id, spend_usd, supplier_id);
CREATE INDEX supplier_totals_by_count ON supplier_totals (tenant_id, tx_count, supplier_id);

DROP INDEX suppliers_by_kg, suppliers_by_spend, suppliers_by_count;
ALTER TABLE suppliers DROP COLUMN spend_usd, DROP COLUMN kg_co2e, DROP COLUMN tx_count;

-- No row-level security policy here, unlike every other intake table:
-- PostgreSQL runs a query's own conditions on a table with a policy after
-- the policy unless they are leakproof, and numeric's < is not, so a page's
-- keyset condition on kg_co2e or spend_usd would be a filter over the index
-- instead of where the scan starts. Tenants stay apart all the same: every
-- read of totals joins the supplier row, which the suppliers policy guards;
-- every write names its tenant (Complete) or copies it from a supplier row
-- the policy has checked (the trigger below).
GRANT SELECT, INSERT, UPDATE, DELETE ON supplier_totals TO vcci_app;

CREATE FUNCTION supplier_totals_start() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO intake.supplier_totals (tenant_id, supplier_id)
    SELECT tenant_id, supplier_id FROM new_suppliers;
    RETURN NULL;
END $$;
-- One statement per insert, not one per row; an upsert's transition table
-- holds only the rows it inserted.
CREATE TRIGGER supplier_totals_start AFTER INSERT ON suppliers
    REFERENCING NEW TABLE AS new_suppliers
    FOR EACH STATEMENT EXECUTE FUNCTION supplier_totals_start();
