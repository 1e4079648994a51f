-- Supplier-specific data, the method hierarchy, data quality, result
-- versions, recalculations and inventory history (issue 19).

-- A tenant's supplier figures are factors of its own set "supplier-data"
-- (kind supplier), created with its first figure: factor 'sf-{id}', with
-- gases and re-expressed values, so a result calculated with one reads as
-- any other's.
ALTER TABLE factor_sets DROP CONSTRAINT factor_sets_kind_check,
    ADD CONSTRAINT factor_sets_kind_check CHECK (kind IN ('spend', 'activity', 'supplier'));

CREATE TABLE supplier_factors (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id          uuid NOT NULL,
    supplier_id        text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('company', 'product')),
    product_id         text NOT NULL DEFAULT '',
    declared_unit      text NOT NULL DEFAULT '',
    value              numeric NOT NULL,
    reporting_year     smallint NOT NULL,
    verified           boolean NOT NULL,
    primary_data_share numeric,
    boundary           text NOT NULL DEFAULT '',
    valid_from         date NOT NULL,
    valid_to           date NOT NULL CHECK (valid_to >= valid_from),
    factor_set_id      smallint NOT NULL REFERENCES factor_sets (id),
    create_time        timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'product') = (product_id <> ''))
);
CREATE INDEX supplier_factors_by_supplier ON supplier_factors (tenant_id, supplier_id, valid_from);
ALTER TABLE supplier_factors ENABLE ROW LEVEL SECURITY;
ALTER TABLE supplier_factors FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON supplier_factors
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT ON supplier_factors TO vcci_app;

-- What a result now records besides: the factor when it is not the line's
-- own code (a supplier's figure; NULL: naics_code names it), the product
-- and supplier country the line gave, its data quality indicators packed
-- as five digits (technology, time, geography, completeness,
-- reliability; NULL on lines stored before: not assessed), its version and
-- the recalculation that made it (NULL: its upload did).
ALTER TABLE emission_results
    ADD COLUMN factor_code text,
    ADD COLUMN product_id text,
    ADD COLUMN supplier_country text,
    ADD COLUMN dq integer,
    ADD COLUMN version integer NOT NULL DEFAULT 1,
    ADD COLUMN recalculation_id bigint;

-- The versions a recalculation replaced, with when and by which: the
-- columns of emission_results in their order, then these two. store's
-- supersede copies a row whole (del.*, then the two), so a column added to
-- emission_results later makes it name its columns instead.
CREATE TABLE emission_result_history (
    LIKE emission_results INCLUDING DEFAULTS,
    superseded_at timestamptz NOT NULL,
    superseded_by bigint NOT NULL,
    PRIMARY KEY (tenant_id, transaction_id, tx_date, version)
);
CREATE INDEX emission_result_history_by_run ON emission_result_history (tenant_id, superseded_by, tx_date, transaction_id);
ALTER TABLE emission_result_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE emission_result_history FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON emission_result_history
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT ON emission_result_history TO vcci_app;
GRANT DELETE ON emission_results TO vcci_app;

-- Dimension 5 totals the inventory's groups: key
-- 'category|factor_set_id|method|indicators|factor code'. Lines stored
-- before have indicators 0 (not assessed).
ALTER TABLE emission_totals DROP CONSTRAINT emission_totals_dim_check,
    ADD CONSTRAINT emission_totals_dim_check CHECK (dim BETWEEN 1 AND 5);
-- The backfills below span tenants: the owner is let past the tenant
-- policies (0004) for them, in this migration's transaction only.
ALTER TABLE factors NO FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_results NO FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_totals NO FORCE ROW LEVEL SECURITY;
INSERT INTO emission_totals (tenant_id, dim, key, kg_co2e, spend_usd, tx_count, kg_co2e_ar4, kg_co2e_ar6)
SELECT e.tenant_id, 5, e.category || '|' || e.factor_set_id || '|' || e.method || '|0|' || e.naics_code,
    sum(e.kg_co2e), sum(e.amount_usd), count(*),
    sum(coalesce(e.factor_quantity, e.amount_base_usd, e.amount_usd) * f.value_ar4),
    sum(coalesce(e.factor_quantity, e.amount_base_usd, e.amount_usd) * f.value_ar6)
FROM emission_results e JOIN factors f ON f.factor_set_id = e.factor_set_id AND f.code = e.naics_code
GROUP BY 1, 2, 3;

-- The inventory's groups as they changed, per day: the inventory as of a
-- day is the sum of its days up to it. A recalculation adds its changes
-- (old versions out, new in) to the day it ran.
CREATE TABLE emission_totals_log (
    tenant_id   uuid NOT NULL,
    day         date NOT NULL,
    key         text NOT NULL,
    kg_co2e     numeric NOT NULL,
    kg_co2e_ar4 numeric NOT NULL,
    kg_co2e_ar6 numeric NOT NULL,
    spend_usd   numeric NOT NULL,
    tx_count    bigint NOT NULL,
    PRIMARY KEY (tenant_id, day, key)
);
INSERT INTO emission_totals_log (tenant_id, day, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count)
SELECT tenant_id, current_date, key, kg_co2e, coalesce(kg_co2e_ar4, kg_co2e), coalesce(kg_co2e_ar6, kg_co2e), spend_usd, tx_count
FROM emission_totals WHERE dim = 5;
ALTER TABLE factors FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_results FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_totals FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_totals_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE emission_totals_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON emission_totals_log
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, UPDATE ON emission_totals_log TO vcci_app;

-- Named snapshots: the inventory's groups copied when it was recorded.
CREATE TABLE inventory_snapshots (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    display_name text NOT NULL,
    gwp_basis    text NOT NULL,
    create_time  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, display_name)
);
CREATE TABLE inventory_snapshot_groups (
    snapshot_id bigint NOT NULL REFERENCES inventory_snapshots (id),
    tenant_id   uuid NOT NULL,
    key         text NOT NULL,
    kg_co2e     numeric NOT NULL,
    kg_co2e_ar4 numeric NOT NULL,
    kg_co2e_ar6 numeric NOT NULL,
    spend_usd   numeric NOT NULL,
    tx_count    bigint NOT NULL,
    PRIMARY KEY (snapshot_id, key)
);
ALTER TABLE inventory_snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE inventory_snapshots FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inventory_snapshots
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
ALTER TABLE inventory_snapshot_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE inventory_snapshot_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inventory_snapshot_groups
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT ON inventory_snapshots, inventory_snapshot_groups TO vcci_app;

-- Recalculations, run as River jobs; their progress is kept here, updated
-- in the transaction that does the work it reports.
CREATE TABLE recalculations (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      uuid NOT NULL,
    reason         text NOT NULL,
    supplier_id    text NOT NULL DEFAULT '',
    factor_set_id  smallint REFERENCES factor_sets (id),
    year           smallint NOT NULL DEFAULT 0,
    base_year      boolean NOT NULL DEFAULT false,
    state          text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    line_count     bigint NOT NULL DEFAULT 0,
    lines_done     bigint NOT NULL DEFAULT 0,
    lines_changed  bigint NOT NULL DEFAULT 0,
    kg_before      numeric NOT NULL DEFAULT 0,
    kg_after       numeric NOT NULL DEFAULT 0,
    threshold      numeric,
    cursor_date    date,
    cursor_id      text,
    error          text NOT NULL DEFAULT '',
    attempts       integer NOT NULL DEFAULT 0,
    create_time    timestamptz NOT NULL DEFAULT now(),
    finish_time    timestamptz
);
CREATE INDEX recalculations_by_tenant ON recalculations (tenant_id, id DESC);
ALTER TABLE recalculations ENABLE ROW LEVEL SECURITY;
ALTER TABLE recalculations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON recalculations
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, UPDATE ON recalculations TO vcci_app;

-- The base year and what makes its recalculation significant.
ALTER TABLE tenant_settings
    ADD COLUMN base_year smallint NOT NULL DEFAULT 0,
    ADD COLUMN significance_threshold numeric NOT NULL DEFAULT 5;
