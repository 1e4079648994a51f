-- A target whose supplier declined to send its own figures: when, and why
-- (DeclineCampaignTarget). Null until then.
ALTER TABLE engagement.campaign_targets
    ADD COLUMN declined_at timestamptz,
    ADD COLUMN decline_reason text;
