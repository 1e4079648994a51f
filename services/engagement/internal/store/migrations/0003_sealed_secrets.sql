-- Endpoints' signing secrets are stored sealed (pkg/secretbox). Those
-- stored in the clear before are sealed at engagement's start by
-- store.SealSecrets, which runs as vcci_maintenance across tenants (intake's
-- migration 0011 explains the policy's form).
CREATE POLICY maintenance ON engagement.webhook_endpoints TO vcci_maintenance
    USING (current_user = 'vcci_maintenance') WITH CHECK (current_user = 'vcci_maintenance');
GRANT SELECT, UPDATE (secret) ON engagement.webhook_endpoints TO vcci_maintenance;
