-- Factor set versions (issue 18): a tenant imports its own sets, a new
-- version being a new set, and chooses which spend and activity sets its
-- lines are calculated with. Results keep the factor_set_id they used, so
-- choosing another set never rewrites one.
ALTER TABLE factor_sets ADD COLUMN kind text NOT NULL DEFAULT 'spend' CHECK (kind IN ('spend', 'activity'));
UPDATE factor_sets SET kind = 'activity' WHERE name = 'desnz-2024';

-- An imported set, its factors and their gases carry the tenant's id; the
-- tenant_or_public policies (0004, 0008) have no WITH CHECK, so their
-- USING clause holds a tenant to writing its own rows.
GRANT INSERT ON factor_sets, factors, factor_gases TO vcci_app;

-- NULL: the shipped default (calculator.DefaultSet, ActivitySet).
ALTER TABLE tenant_settings
    ADD COLUMN spend_factor_set_id smallint REFERENCES factor_sets (id),
    ADD COLUMN activity_factor_set_id smallint REFERENCES factor_sets (id);

-- A set's name is unique among the public sets and among each tenant's:
-- one tenant's names neither block nor reveal another's, and vcci can
-- ship a set under a name a tenant already imported (that tenant's own
-- keeps the name for it: store.visibleSets).
ALTER TABLE factor_sets DROP CONSTRAINT factor_sets_name_key;
CREATE UNIQUE INDEX factor_sets_public_name ON factor_sets (name) WHERE tenant_id IS NULL;
CREATE UNIQUE INDEX factor_sets_tenant_name ON factor_sets (tenant_id, name) WHERE tenant_id IS NOT NULL;
