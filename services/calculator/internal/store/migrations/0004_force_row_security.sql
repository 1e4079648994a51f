-- The tables' owner, the role the services connect as, is held to the
-- tenant policies too. A statement run outside a tenant's scope by mistake
-- then fails (vcci.tenant_id is not set) instead of reading or writing
-- every tenant's rows. Only a superuser or a role with BYPASSRLS passes;
-- a deployment's connecting role should be neither. Partitions of
-- emission_results are reached only through it, whose policy then applies:
-- nobody but the owner has a grant on a partition.
ALTER TABLE factor_sets FORCE ROW LEVEL SECURITY;
ALTER TABLE factors FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_results FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_rollup FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_totals FORCE ROW LEVEL SECURITY;

-- The owner loads the public factor library with no tenant set
-- (store.LoadSet). current_setting without missing_ok fails there (the
-- planner evaluates it even when every row is public), so the library's
-- policies read the tenant with it: no tenant sees the public rows only.
DROP POLICY tenant_or_public ON factor_sets;
CREATE POLICY tenant_or_public ON factor_sets
    USING (tenant_id IS NULL OR tenant_id = nullif(current_setting('vcci.tenant_id', true), '')::uuid);
DROP POLICY tenant_or_public ON factors;
CREATE POLICY tenant_or_public ON factors
    USING (tenant_id IS NULL OR tenant_id = nullif(current_setting('vcci.tenant_id', true), '')::uuid);
