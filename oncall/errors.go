package oncall

import "errors"

// Sentinel errors shared by every layer. Wrap them with context; test with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("conflict")
	ErrForbidden = errors.New("forbidden")
	ErrInvalid   = errors.New("invalid")
)

// UserError is an error whose message is safe and useful to show to the
// person who caused it (a Slack user, an API client, a CLI user).
type UserError struct {
	Field string // optional: which field or argument is wrong
	Msg   string
}

func (e *UserError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Unwrap makes every UserError match ErrInvalid.
func (e *UserError) Unwrap() error { return ErrInvalid }
