-- Reports are deleted by their tenant (DeleteReport) or, REPORT_RETENTION
-- after they end, by the upkeep job, which runs as vcci_maintenance and
-- sees every tenant's reports (intake's migration 0011 explains the
-- policy's form).
GRANT DELETE ON reporting.reports TO vcci_app;
CREATE POLICY maintenance ON reporting.reports TO vcci_maintenance
    USING (current_user = 'vcci_maintenance') WITH CHECK (current_user = 'vcci_maintenance');
GRANT SELECT, DELETE ON reporting.reports TO vcci_maintenance;
-- The upkeep job's oldest first.
CREATE INDEX reports_finish_time ON reporting.reports (finish_time) WHERE finish_time IS NOT NULL;
