-- Providers report on a notification after it was sent (Twilio's status
-- callbacks) by the receipt they gave for it.
CREATE INDEX notifications_receipt_idx ON notifications (method, receipt) WHERE receipt IS NOT NULL;
CREATE INDEX notifications_user_sent_idx ON notifications (user_name, sent_at) WHERE state = 'sent';
