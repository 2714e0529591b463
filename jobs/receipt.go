package jobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/oncall/oncall/store"
)

// DeliveryReported records on the timeline what a provider reported about
// a notification it had accepted (receipt, as its channel returned it),
// such as an SMS delivered to the handset or a call answered: report says
// what happened ("delivered", "answered (12 s)"). Every incident the
// receipt stands for (a bundle) gets the line; an unknown receipt is
// ignored. Failures go to DeliveryFailed instead.
func (e *Engine) DeliveryReported(ctx context.Context, method, receipt, report string) error {
	return e.inTx(ctx, func(tx *txn) error {
		ns, err := store.NotificationsByReceipt(ctx, tx, method, receipt)
		if err != nil {
			return err
		}
		now := e.clock.Now().UTC()
		for _, n := range ns {
			who := n.User
			if who == "" {
				who = n.Address
			}
			tx.addLog(store.LogEntry{IncidentID: n.IncidentID, At: now, Event: "delivery", Actor: ActorSystem, User: n.User, Method: n.Method,
				Message: fmt.Sprintf("%s to %s: %s", methodName(n), who, report)})
		}
		return nil
	})
}

// AwaitSends waits until no send to address by method is under way: a
// provider may report on a message (to its status callback) before the
// transaction that sent it has committed the receipt, and that report
// must find it. A send to a rate-limited address (SMS, voice) holds the
// address's lock from before the provider is called until its commit.
func (e *Engine) AwaitSends(ctx context.Context, method, address string) error {
	if addressInterval[method] <= 0 || address == "" {
		return nil
	}
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		return store.LockAddress(ctx, tx, method, address)
	})
}
