package slack

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/notify"
)

// defaultRetryAfter is the wait for a rate limit that names none (slack-go's
// default too).
const defaultRetryAfter = time.Minute

// permanentErrors are Slack's error codes that retrying the same call will
// not fix: the delivery policy moves to the next channel at once.
var permanentErrors = map[string]bool{
	// the destination
	"channel_not_found":   true,
	"user_not_found":      true,
	"users_not_found":     true,
	"not_in_channel":      true,
	"is_archived":         true,
	"user_disabled":       true,
	"cannot_dm_bot":       true,
	"user_not_in_channel": true,
	"restricted_action":   true,
	"thread_not_found":    true,
	// the token or the app
	"invalid_auth":            true,
	"not_authed":              true,
	"account_inactive":        true,
	"token_revoked":           true,
	"token_expired":           true,
	"no_permission":           true,
	"missing_scope":           true,
	"not_allowed_token_type":  true,
	"ekm_access_denied":       true,
	"team_access_not_granted": true,
	// the message
	"msg_too_long":         true,
	"invalid_blocks":       true,
	"invalid_attachments":  true,
	"no_text":              true,
	"too_many_attachments": true,
	"invalid_arguments":    true,
	"cant_update_message":  true,
	"message_not_found":    true,
	"edit_window_closed":   true,
}

// classify wraps err, the failure of op, as the delivery policy reads it:
// Slack's rate limits as notify.RateLimitedError, failures that retrying will
// not fix as notify.Permanent, anything else (5xx, the network, a deadline)
// as a temporary error. The bot token never appears in its message.
func (c *Channel) classify(op string, err error) error {
	err = fmt.Errorf("slack: %s: %w", op, c.redact(err))
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &notify.RateLimitedError{RetryAfter: rl.RetryAfter, Err: err}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		switch {
		case sc.Code == http.StatusTooManyRequests: // without Retry-After
			return &notify.RateLimitedError{RetryAfter: defaultRetryAfter, Err: err}
		case sc.Code >= 500, sc.Code == http.StatusRequestTimeout:
			return err
		case sc.Code >= 400:
			return notify.Permanent(err) // a wrong API URL, a proxy refusing us
		}
		return err
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch {
		case se.Err == "ratelimited":
			return &notify.RateLimitedError{RetryAfter: defaultRetryAfter, Err: err}
		case permanentErrors[se.Err]:
			return notify.Permanent(err)
		}
	}
	return err
}

// isSlackError reports whether err is a Slack API error with one of codes.
func isSlackError(err error, codes ...string) bool {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Err == c {
			return true
		}
	}
	return false
}

// redact hides the bot token in err's message, should it appear there (a URL
// with the token in its query, say); errors.Is and As still see err.
func (c *Channel) redact(err error) error {
	if c.token == "" || !strings.Contains(err.Error(), c.token) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), c.token, "xoxb-REDACTED"), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
