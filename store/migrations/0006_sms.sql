-- Phones that text us (Twilio inbound SMS), by E.164 number, whoever owns
-- them: whether they opted out of SMS (STOP, until START), and how many
-- replies in a row did nothing (unknown commands, refusals), so that an
-- auto-responder and our help text can never keep texting each other.
CREATE TABLE sms_phones (
    phone text PRIMARY KEY,
    opted_out boolean NOT NULL DEFAULT false,
    opted_out_at timestamptz,
    idle_replies integer NOT NULL DEFAULT 0,
    last_inbound_at timestamptz NOT NULL,
    CONSTRAINT sms_phones_phone_check CHECK (phone <> '' AND length(phone) <= 32),
    CONSTRAINT sms_phones_idle_replies_check CHECK (idle_replies >= 0)
);
