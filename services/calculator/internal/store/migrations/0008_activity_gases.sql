-- Activity factor sets and per-gas factors (issue 18).
--
-- A factor may have its own unit and region (an activity set's factors are
-- per litre, per kWh, per room-night), and no default Scope 3 category (a
-- fuel burnt is Scope 1: a line using it names its category). value is the
-- published CO2e under AR5; value_ar4 and value_ar6 re-express it, gas by
-- gas (services/calculator/internal/factors).
ALTER TABLE factors ALTER COLUMN category DROP NOT NULL,
    ADD COLUMN unit text,
    ADD COLUMN region text,
    ADD COLUMN value_ar4 numeric,
    ADD COLUMN value_ar6 numeric;

-- A factor's gases, per unit of the factor, in the set's gas unit: kg of
-- the gas, or kg CO2e of it under AR5 where the publisher gives that.
ALTER TABLE factor_sets ADD COLUMN gas_unit text NOT NULL DEFAULT 'kg',
    ADD COLUMN licence text NOT NULL DEFAULT '';
CREATE TABLE factor_gases (
    factor_set_id smallint NOT NULL,
    tenant_id     uuid,
    code          text NOT NULL,
    gas           text NOT NULL,
    value         numeric NOT NULL,
    PRIMARY KEY (factor_set_id, code, gas),
    FOREIGN KEY (factor_set_id, code) REFERENCES factors (factor_set_id, code)
);
ALTER TABLE factor_gases ENABLE ROW LEVEL SECURITY;
ALTER TABLE factor_gases FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_or_public ON factor_gases
    USING (tenant_id IS NULL OR tenant_id = nullif(current_setting('vcci.tenant_id', true), '')::uuid);
GRANT SELECT ON factor_gases TO vcci_app;

-- An activity line's quantity and unit as given, and the quantity in its
-- factor's unit that kg_co2e is that factor times. NULL on spend lines,
-- whose factor quantity is amount_base_usd.
ALTER TABLE emission_results
    ADD COLUMN quantity numeric,
    ADD COLUMN unit text,
    ADD COLUMN factor_quantity numeric;

-- CO2e under AR4 and AR6 next to the AR5 kg_co2e, kept by the same
-- statement, so switching a tenant's GWP basis reads other columns of the
-- same rows. Rows stored before are filled once their factors have their
-- re-expressed values (store.LoadSet backfills them).
ALTER TABLE emission_rollup
    ADD COLUMN kg_co2e_ar4 numeric,
    ADD COLUMN kg_co2e_ar6 numeric;
ALTER TABLE emission_totals
    ADD COLUMN kg_co2e_ar4 numeric,
    ADD COLUMN kg_co2e_ar6 numeric;

-- A tenant's GWP basis: what summaries are expressed in unless a request
-- names another.
CREATE TABLE tenant_settings (
    tenant_id uuid PRIMARY KEY,
    gwp_basis text NOT NULL DEFAULT 'AR5' CHECK (gwp_basis IN ('AR4', 'AR5', 'AR6')),
    update_time timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenant_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_settings
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, UPDATE ON tenant_settings TO vcci_app;
