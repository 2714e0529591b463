package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oncall/oncall/bot"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/oncall"
)

// A half-open connection (Slack's pings stop, nothing closes) is noticed
// by the missing pings and replaced: with a ping timeout of 500 ms the bot
// is on a new connection within a second or so, and a healthy connection
// is kept.
func TestHalfOpenConnectionIsReplaced(t *testing.T) {
	t.Parallel()
	sl := slacktest.New(t, slacktest.WithPingInterval(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	bt := bot.New(bot.Config{AppToken: sl.AppToken(), BotToken: sl.BotToken(), APIURL: sl.APIURL(), PingTimeout: 500 * time.Millisecond},
		nil, nil, oncall.SystemClock{}, zerolog.Nop())
	go bt.Run(ctx)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := sl.WaitConnected(wctx, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // pinged: the connection is kept
	if n := sl.ConnectCount(); n != 1 {
		t.Fatalf("%d connections while Slack pinged; want 1", n)
	}

	start := time.Now()
	sl.SilenceSockets()
	if err := sl.WaitUntil(wctx, func() bool { return sl.ConnectCount() == 2 && sl.Connections() == 1 }); err != nil {
		t.Fatalf("the silent connection was not replaced: %v", err)
	}
	took := time.Since(start)
	t.Logf("silent connection replaced in %s", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("replaced after %s; want within 5 s", took)
	}
}
