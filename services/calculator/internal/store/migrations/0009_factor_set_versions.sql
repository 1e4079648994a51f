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
