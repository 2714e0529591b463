-- Why each copy of an incident's message went out ("step 2 of payments",
-- "final notice: ..."), so that rewriting it when the incident changes
-- keeps its reason instead of dropping it.
ALTER TABLE incident_messages ADD COLUMN reason text NOT NULL DEFAULT '';
