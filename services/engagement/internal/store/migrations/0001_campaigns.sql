-- A campaign keeps a snapshot of the Pareto it was created from: later
-- uploads change the inventory, not whom the campaign invited.
CREATE TABLE engagement.campaigns (
    tenant_id        uuid NOT NULL,
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    display_name     text NOT NULL,
    top_n            int NOT NULL,
    targeted_kg_co2e numeric NOT NULL,
    targeted_share   double precision NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- Serves ListCampaigns: newest first, paged by the keyset (created_at, id).
CREATE INDEX campaigns_tenant_created ON engagement.campaigns (tenant_id, created_at DESC, id DESC);

CREATE TABLE engagement.campaign_targets (
    tenant_id     uuid NOT NULL,
    campaign_id   bigint NOT NULL REFERENCES engagement.campaigns (id) ON DELETE CASCADE,
    rank          int NOT NULL,
    supplier_id   text NOT NULL,
    supplier_name text NOT NULL,
    kg_co2e       numeric NOT NULL,
    share         double precision NOT NULL,
    status        smallint NOT NULL,
    PRIMARY KEY (campaign_id, rank)
);

-- FORCE makes the policies bind the tables' owner too, so only a superuser
-- (migrations, tests' setup) sees across tenants.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['campaigns', 'campaign_targets'] LOOP
        EXECUTE format('ALTER TABLE engagement.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE engagement.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON engagement.%I USING (tenant_id = current_setting(''vcci.tenant_id'')::uuid) WITH CHECK (tenant_id = current_setting(''vcci.tenant_id'')::uuid)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON engagement.%I TO vcci_app', t);
    END LOOP;
END $$;
-- Identity columns draw from sequences the inserting role must be able to use.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA engagement TO vcci_app;
