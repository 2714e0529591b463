-- Bundling looks up, for one address (a Slack user or channel, a phone
-- number), the pages still waiting to go to it and the last message sent
-- to it. During an alert storm tens of thousands of notifications are
-- pending at once; without these each send scanned them all.
CREATE INDEX notifications_address_pending_idx ON notifications (method, address, due_at) WHERE state = 'pending';
CREATE INDEX notifications_address_sent_idx ON notifications (method, address, sent_at) WHERE state = 'sent';
