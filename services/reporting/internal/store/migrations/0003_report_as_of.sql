-- A report of the inventory as calculated at the end of a past day
-- (CreateReport's as_of_date); NULL: as it stands when the job runs.
ALTER TABLE reporting.reports ADD COLUMN as_of_date date;
