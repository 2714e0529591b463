package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/store"
)

// pushDevices is where a push to user goes: every phone they paired with
// the mobile app. With none, the push channel fails the send as permanent
// (no registered phone) and the user's next rule comes forward at once.
func (e *Engine) pushDevices(ctx context.Context, tx *txn, user string) ([]notify.Device, error) {
	if user == "" {
		return nil, nil
	}
	devices, err := store.DevicesForUser(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	out := make([]notify.Device, len(devices))
	for i, d := range devices {
		out[i] = notify.Device(d)
	}
	return out, nil
}

// dropUnregistered removes the device tokens a push provider said no longer
// reach an app (a *notify.UnregisteredError in sendErr), notes it on the
// timeline, and returns the send's error as the delivery policy should see
// it: nil when another phone got the page (rcpt has a ref), else sendErr.
// err is a database failure.
func (e *Engine) dropUnregistered(ctx context.Context, tx *txn, incidentID int64, user string, rcpt notify.Receipt, sendErr error, now time.Time) (_ error, err error) {
	var unreg *notify.UnregisteredError
	if !errors.As(sendErr, &unreg) || len(unreg.Tokens) == 0 {
		return sendErr, nil
	}
	if err := store.DevicesRemoveTokens(ctx, tx, unreg.Tokens); err != nil {
		return sendErr, err
	}
	tx.addLog(store.LogEntry{IncidentID: incidentID, At: now, Event: "device_removed", Actor: ActorSystem, User: user, Method: notify.MethodPush,
		Message: fmt.Sprintf("removed %d phone(s) of %s that the push service no longer reaches (app uninstalled or token expired)", len(unreg.Tokens), user)})
	if rcpt.Ref != "" {
		return nil, nil
	}
	return sendErr, nil
}
