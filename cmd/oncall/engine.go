package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/oncall/oncall/bot"
	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/console"
	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/oncall"
)

// startEngine builds the paging channels, the engine and River, starts the
// workers, the timer promoter and (with Slack on) the bot, and returns once
// they run; they stop with ctx, River through stop, which waits for running
// jobs until its context ends and then closes River's pool.
func startEngine(ctx context.Context, cfg *Config, pool *pgxpool.Pool, clock oncall.Clock, out io.Writer, log zerolog.Logger) (engine *jobs.Engine, stop func(context.Context) error, err error) {
	channels := map[string]notify.Channel{}
	if cfg.Slack.Enabled() {
		ch := slackch.New(slackch.Config{BotToken: cfg.Slack.BotToken, APIURL: cfg.Slack.APIURL})
		channels[notify.MethodSlack], channels[notify.MethodSlackChannel] = ch, ch
	} else {
		// Pages meant for Slack are printed. With no channel configured at
		// all (the no-credentials demo) every page is, whatever its method,
		// so `make run` and a curl show the whole escalation.
		ch := console.New(out)
		channels[notify.MethodSlack], channels[notify.MethodSlackChannel] = ch, ch
		if !anyChannel(cfg) {
			for _, m := range []string{notify.MethodSMS, notify.MethodVoice, notify.MethodEmail, notify.MethodPush} {
				channels[m] = ch
			}
			log.Warn().Msg("no paging channel is configured: every page is printed to the console")
		}
	}

	w := wire{cfg: cfg, pool: pool, clock: clock, log: log}
	for _, add := range []func(context.Context, wire, map[string]notify.Channel) error{addTwilio, addEmail, addPush} {
		if err := add(ctx, w, channels); err != nil {
			return nil, nil, err
		}
	}

	engine = jobs.NewEngine(pool, clock, channels)
	if cfg.SendTimeout > 0 {
		engine.SendTimeout = cfg.SendTimeout
	}
	workers := river.NewWorkers()
	engine.Workers(workers)
	engine.HeartbeatWorkers(workers)
	if cfg.Slack.Enabled() {
		engine.HandoffWorkers(workers)
	}
	rpool, err := jobs.OpenRiverPool(pool)
	if err != nil {
		return nil, nil, err
	}
	rc, err := jobs.NewRiver(rpool, workers, slogFor(log), clock)
	if err != nil {
		rpool.Close()
		return nil, nil, err
	}
	rc.PeriodicJobs().AddMany(jobs.HeartbeatPeriodicJobs())
	if cfg.Slack.Enabled() {
		// Handoffs: user groups that follow the on-call, handoff notices,
		// the weekly gap report.
		rc.PeriodicJobs().AddMany(engine.HandoffPeriodicJobs())
	}
	engine.SetRiver(rc)
	if err := rc.Start(ctx); err != nil {
		rpool.Close()
		return nil, nil, fmt.Errorf("start river: %w", err)
	}
	stop = func(ctx context.Context) error {
		if err := rc.Stop(ctx); err != nil {
			// A job still running holds a connection, and Close waits for it.
			go rpool.Close()
			return err
		}
		rpool.Close()
		return nil
	}
	promoter := jobs.NewPromoter(rpool, clock.Now)
	go promoter.Run(ctx, func(err error) { log.Warn().Err(err).Msg("promote timers") })
	if cfg.Slack.Enabled() {
		b := bot.New(bot.Config{AppToken: cfg.Slack.AppToken, BotToken: cfg.Slack.BotToken, APIURL: cfg.Slack.APIURL, PublicURL: cfg.PublicURL},
			engine, pool, clock, log.With().Str("component", "bot").Logger())
		go b.Run(ctx)
	}
	log.Info().Dur("timer_tick", jobs.PromoteInterval).Msg("paging engine started")
	return engine, stop, nil
}

// wire is what a provider's wiring (wire_*.go) may need to build its
// channels and its HTTP routes.
type wire struct {
	cfg   *Config
	pool  *pgxpool.Pool
	clock oncall.Clock
	log   zerolog.Logger
}

func anyChannel(cfg *Config) bool {
	for _, on := range cfg.Channels() {
		if on {
			return true
		}
	}
	return false
}
