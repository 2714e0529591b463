package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
)

// Handoffs (issue 6): at every instant the on-call person of a schedule
// changes, a HandoffArgs job, scheduled at that instant (never polled for),
// (a) queues a sync of the Slack user groups of the schedule and of its
// team, (b) queues DMs to the outgoing and incoming person with the open
// incidents handed over, (c) queues a post in the team channel, and (d)
// schedules the schedule's next handoff: all in the transaction that
// completes the job, so a crash repeats none of it and loses none of it.
//
// Handoff jobs are unique per (schedule, instant), so restarts and several
// processes planning at once never double one. A configuration change may
// move handoffs: the plan job (every HandoffPlanInterval, on River's leader)
// sees the configuration version move, plans every schedule's next handoff
// again and syncs every user group at once. A job planned under an old
// configuration still runs; it checks that its instant is still a handoff
// before it tells anyone, and its successor is the same unique job the new
// plan made.

// HandoffPlanInterval is how often the plan job looks at the configuration
// version (one indexed query): a change moves the next handoff jobs and the
// user groups within about this long.
const HandoffPlanInterval = 30 * time.Second

// handoffIncidents bounds the open incidents listed in a handoff DM.
const handoffIncidents = 10

// HandoffArgs is the handoff of Schedule at At.
type HandoffArgs struct {
	Schedule string    `json:"schedule" river:"unique"`
	At       time.Time `json:"at" river:"unique"`
}

func (HandoffArgs) Kind() string { return "handoff" }

// InsertOpts: unique per schedule and instant, whatever state the first
// one is in (a completed handoff is not planned again).
func (HandoffArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// UserGroupSyncArgs sets Group to whoever is on call now. Not unique: two
// syncs of one group take turns on its row lock, and the second finds
// nothing to change.
type UserGroupSyncArgs struct {
	Group string `json:"group"`
}

func (UserGroupSyncArgs) Kind() string { return "user_group_sync" }

func (UserGroupSyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMessage}
}

// HandoffNoticeArgs is a notice in Slack: a DM to User (one of ours) or a
// post in Channel. Text is Slack mrkdwn, rendered when the notice was made.
type HandoffNoticeArgs struct {
	User    string `json:"user,omitempty"`
	Channel string `json:"channel,omitempty"`
	Text    string `json:"text"`
}

func (HandoffNoticeArgs) Kind() string { return "handoff_notice" }

func (HandoffNoticeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMessage}
}

// HandoffPlanArgs is the periodic plan check.
type HandoffPlanArgs struct{}

func (HandoffPlanArgs) Kind() string { return "handoff_plan" }

// InsertOpts: one attempt (the next comes soon), unique while one waits or
// runs.
func (HandoffPlanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueDefault,
		MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	}
}

// SlackNotifier is what handoffs need of Slack; notify/slack's Channel has
// it. Handoffs find it as the engine's notify.MethodSlack channel.
type SlackNotifier interface {
	LookupUser(ctx context.Context, email string) (string, error)
	SetUserGroup(ctx context.Context, group string, users []string) error
	PostNotice(ctx context.Context, dest, text string) error
}

func (e *Engine) slackNotifier() SlackNotifier {
	s, _ := e.channels[notify.MethodSlack].(SlackNotifier)
	return s
}

// HandoffWorkers registers the workers of handoffs, user group syncs,
// handoff notices, the plan check and the weekly gap report.
func (e *Engine) HandoffWorkers(w *river.Workers) {
	river.AddWorker(w, &handoffWorker{e: e})
	river.AddWorker(w, &userGroupSyncWorker{e: e})
	river.AddWorker(w, &handoffNoticeWorker{e: e})
	river.AddWorker(w, &handoffPlanWorker{e: e})
	river.AddWorker(w, &gapReportWorker{e: e})
}

// HandoffPeriodicJobs are the plan check (every HandoffPlanInterval, at
// start too) and the weekly gap report (GapReportAt), for
// Client.PeriodicJobs().AddMany. River inserts them on its leader only.
func (e *Engine) HandoffPeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(HandoffPlanInterval),
			func() (river.JobArgs, *river.InsertOpts) { return HandoffPlanArgs{}, nil },
			&river.PeriodicJobOpts{ID: HandoffPlanArgs{}.Kind(), RunOnStart: true}),
		river.NewPeriodicJob(GapReportAt,
			func() (river.JobArgs, *river.InsertOpts) {
				return GapReportArgs{Date: e.clock.Now().UTC().Format(time.DateOnly)}, nil
			},
			&river.PeriodicJobOpts{ID: GapReportArgs{}.Kind()}),
	}
}

// ---- planning

type handoffPlanWorker struct {
	river.WorkerDefaults[HandoffPlanArgs]
	e       *Engine
	planned atomic.Int64 // the configuration version last planned; 0: none
}

func (w *handoffPlanWorker) Work(ctx context.Context, _ *river.Job[HandoffPlanArgs]) error {
	v, err := store.ConfigVersion(ctx, w.e.pool)
	if err != nil {
		return err
	}
	if v == w.planned.Load() {
		return nil
	}
	if _, err := w.e.PlanHandoffs(ctx); err != nil {
		return err
	}
	w.planned.Store(v)
	return nil
}

// PlanHandoffs schedules every schedule's next handoff job (those planned
// already are skipped as duplicates) and queues a sync of every user group
// the configuration names, so that a change of configuration (an override
// that starts now, a new member) reaches Slack at once. It returns how many
// handoff jobs it added. Surfaces that change the configuration may call it
// after they commit; the plan check calls it within HandoffPlanInterval
// anyway.
func (e *Engine) PlanHandoffs(ctx context.Context) (int, error) {
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return 0, err
	}
	now := e.clock.Now().UTC()
	var params []river.InsertManyParams
	for _, name := range sortedKeys(cfg.schedules) {
		if at, ok := nextHandoff(cfg.schedules[name], now); ok {
			params = append(params, handoffJob(name, at))
		}
	}
	planned := len(params)
	if e.slackNotifier() != nil {
		for _, g := range cfg.userGroups() {
			params = append(params, river.InsertManyParams{Args: UserGroupSyncArgs{Group: g}})
		}
	}
	if len(params) == 0 {
		return 0, nil
	}
	res, err := e.river.InsertMany(ctx, params)
	if err != nil {
		return 0, fmt.Errorf("plan handoffs: %w", err)
	}
	added := 0
	for _, r := range res[:planned] {
		if !r.UniqueSkippedAsDuplicate {
			added++
		}
	}
	return added, nil
}

func handoffJob(scheduleName string, at time.Time) river.InsertManyParams {
	at = at.UTC()
	return river.InsertManyParams{Args: HandoffArgs{Schedule: scheduleName, At: at},
		InsertOpts: &river.InsertOpts{ScheduledAt: at}}
}

// nextHandoff is the first instant after after when who is on call in s
// changes (someone to someone else, to nobody, or from nobody), through
// the one resolver; ok is false when there is none within its horizon.
func nextHandoff(s *schedule.Schedule, after time.Time) (time.Time, bool) {
	if s == nil {
		return time.Time{}, false
	}
	var at time.Time
	ok := false
	if sh, found := s.Current(after); found && sh.End.After(after) {
		at, ok = sh.End, true
	}
	if sh, found := s.Next(after); found && (!ok || sh.Start.Before(at)) {
		at, ok = sh.Start, true
	}
	return at, ok
}

// handoff is who hands over to whom at an instant.
type handoff struct {
	schedule string
	at       time.Time
	from, to string    // "" for nobody
	until    time.Time // the end of to's shift, or of the gap when to is ""; zero: beyond the horizon
}

// handoffAt is the handoff of s at at, if who is on call changes there.
func handoffAt(s *schedule.Schedule, at time.Time) (handoff, bool) {
	from, _ := s.Who(at.Add(-time.Nanosecond))
	to, _ := s.Who(at)
	if from == to {
		return handoff{}, false
	}
	h := handoff{schedule: s.Name, at: at, from: from, to: to}
	if to != "" {
		if sh, ok := s.Current(at); ok && sh.End.Before(at.Add(schedule.Horizon)) {
			h.until = sh.End
		}
	} else if sh, ok := s.Next(at); ok {
		h.until = sh.Start
	}
	return h, true
}

// ---- the handoff

type handoffWorker struct {
	river.WorkerDefaults[HandoffArgs]
	e *Engine
}

func (w *handoffWorker) Work(ctx context.Context, job *river.Job[HandoffArgs]) error {
	return w.e.handoff(ctx, job)
}

// handoff runs the handoff job: it queues the syncs and notices of a real
// handoff and the next handoff job, and completes itself, in one
// transaction.
func (e *Engine) handoff(ctx context.Context, job *river.Job[HandoffArgs]) error {
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return err
	}
	now := e.clock.Now().UTC()
	name, at := job.Args.Schedule, job.Args.At.UTC()
	s, ms := cfg.schedules[name], cfg.manifestSchedule(name)
	var params []river.InsertManyParams
	if s != nil && ms != nil {
		if h, ok := handoffAt(s, at); ok {
			more, err := e.handoffJobs(ctx, cfg, ms, h)
			if err != nil {
				return err
			}
			params = append(params, more...)
		}
		// From now when the job runs late (a process was down): missed
		// handoffs are not told about hours later.
		if next, ok := nextHandoff(s, later(at, now)); ok {
			params = append(params, handoffJob(name, next))
		}
	}
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if len(params) > 0 {
			if _, err := e.river.InsertManyTx(ctx, tx, params); err != nil {
				return fmt.Errorf("handoff of %s at %s: insert jobs: %w", name, at.Format(time.RFC3339), err)
			}
		}
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
			return fmt.Errorf("handoff of %s: complete: %w", name, err)
		}
		return nil
	})
}

// handoffJobs is the syncs and notices of handoff h of ms.
func (e *Engine) handoffJobs(ctx context.Context, cfg *config, ms *manifest.Schedule, h handoff) ([]river.InsertManyParams, error) {
	if e.slackNotifier() == nil {
		return nil, nil // no Slack: nobody to tell, no group to set
	}
	var params []river.InsertManyParams
	team := cfg.teams[ms.Team]
	var groups []string
	if ms.SlackUserGroup != "" {
		groups = append(groups, ms.SlackUserGroup)
	}
	if team != nil && team.SlackUserGroup != "" && !slices.Contains(groups, team.SlackUserGroup) {
		groups = append(groups, team.SlackUserGroup)
	}
	for _, g := range groups {
		params = append(params, river.InsertManyParams{Args: UserGroupSyncArgs{Group: g}})
	}

	var services []string
	if team != nil {
		for _, svc := range cfg.set.Services {
			if svc.Team == team.Name {
				services = append(services, svc.Name)
			}
		}
	}
	var incidents []*store.Incident
	if h.from != "" || len(services) > 0 {
		var err error
		incidents, err = store.IncidentListForUser(ctx, e.pool, h.from, services, handoffIncidents+1)
		if err != nil {
			return nil, fmt.Errorf("handoff of %s: %w", h.schedule, err)
		}
	}
	n := handoffNotice{cfg: cfg, h: h, sched: ms, incidents: incidents}
	if h.from != "" && cfg.users[h.from] != nil {
		params = append(params, river.InsertManyParams{Args: HandoffNoticeArgs{User: h.from, Text: n.outgoing()}})
	}
	if h.to != "" && cfg.users[h.to] != nil {
		params = append(params, river.InsertManyParams{Args: HandoffNoticeArgs{User: h.to, Text: n.incoming()}})
	}
	if team != nil && team.SlackChannel != "" {
		params = append(params, river.InsertManyParams{Args: HandoffNoticeArgs{Channel: team.SlackChannel, Text: n.channel()}})
	}
	return params, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// manifestSchedule is the schedule named name as configured, nil if none.
func (c *config) manifestSchedule(name string) *manifest.Schedule {
	for _, s := range c.set.Schedules {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// userGroups is every user group the configuration names, sorted.
func (c *config) userGroups() []string {
	var out []string
	for _, s := range c.set.Schedules {
		if s.SlackUserGroup != "" {
			out = append(out, s.SlackUserGroup)
		}
	}
	for _, t := range c.set.Teams {
		if t.SlackUserGroup != "" {
			out = append(out, t.SlackUserGroup)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// groupOnCall is our users on call at at in every schedule that names
// group, and in every schedule of every team that names it, sorted.
func (c *config) groupOnCall(group string, at time.Time) []string {
	var out []string
	for _, s := range c.set.Schedules {
		named := s.SlackUserGroup == group
		if t := c.teams[s.Team]; t != nil && t.SlackUserGroup == group {
			named = true
		}
		if !named {
			continue
		}
		if u, ok := c.whoIsOnCall(s.Name, at); ok {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ---- user groups

type userGroupSyncWorker struct {
	river.WorkerDefaults[UserGroupSyncArgs]
	e *Engine
}

func (w *userGroupSyncWorker) Work(ctx context.Context, job *river.Job[UserGroupSyncArgs]) error {
	_, err := w.e.SyncUserGroup(ctx, job.Args.Group)
	return slackJobError(err)
}

// SyncUserGroup sets the Slack user group group (an ID or "@handle") to
// whoever is on call now in the schedules and teams that name it, and
// reports whether it called Slack. It does not when the group was last set
// to the same people (store.UserGroupSyncLock: whichever process did it),
// nor when nobody is on call (Slack keeps at least one member in a group:
// the last one stays until someone is on call again). People without a
// Slack account are left out.
func (e *Engine) SyncUserGroup(ctx context.Context, group string) (changed bool, err error) {
	sl := e.slackNotifier()
	if sl == nil {
		return false, nil
	}
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return false, err
	}
	now := e.clock.Now().UTC()
	var ids []string
	for _, name := range cfg.groupOnCall(group, now) {
		id, err := slackUserID(ctx, sl, cfg.users[name])
		if notify.IsPermanent(err) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("sync user group %s: %w", group, err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return false, nil
	}
	err = pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		last, err := store.UserGroupSyncLock(ctx, tx, group)
		if err != nil {
			return err
		}
		if last.SyncedAt != nil && slices.Equal(last.SlackUsers, ids) {
			return nil
		}
		// Slack is called with the row locked, so that two syncs of the
		// group take turns and the row says what Slack was last told.
		if err := sl.SetUserGroup(ctx, group, ids); err != nil {
			return fmt.Errorf("sync user group %s: %w", group, err)
		}
		changed = true
		return store.UserGroupSyncSet(ctx, tx, group, ids, now)
	})
	return changed, err
}

// slackUserID is u's Slack user id: the configured one, else found by
// email. A user that is not in Slack is a permanent failure.
func slackUserID(ctx context.Context, sl SlackNotifier, u *manifest.User) (string, error) {
	switch {
	case u == nil:
		return "", notify.Permanent(errors.New("no such user"))
	case u.SlackID != "":
		return u.SlackID, nil
	case u.Email != "":
		return sl.LookupUser(ctx, u.Email)
	}
	return "", notify.Permanent(fmt.Errorf("user %s has no Slack id or email", u.Name))
}

// slackJobError is err as River should take it: a rate limit snoozes the
// job, a permanent failure cancels it, anything else is retried.
func slackJobError(err error) error {
	if err == nil {
		return nil
	}
	if d, ok := notify.RateLimited(err); ok {
		return river.JobSnooze(max(d, time.Second))
	}
	if notify.IsPermanent(err) {
		return river.JobCancel(err)
	}
	return err
}

// ---- notices

type handoffNoticeWorker struct {
	river.WorkerDefaults[HandoffNoticeArgs]
	e *Engine
}

func (w *handoffNoticeWorker) Work(ctx context.Context, job *river.Job[HandoffNoticeArgs]) error {
	return slackJobError(w.e.postNotice(ctx, job.Args))
}

// postNotice sends a notice: to a user's DM, or to a channel.
func (e *Engine) postNotice(ctx context.Context, a HandoffNoticeArgs) error {
	sl := e.slackNotifier()
	if sl == nil {
		return nil
	}
	dest := a.Channel
	if a.User != "" {
		u, err := e.User(ctx, a.User)
		if err != nil {
			return err
		}
		if dest, err = slackUserID(ctx, sl, u); err != nil {
			return fmt.Errorf("notice to %s: %w", a.User, err)
		}
	}
	return sl.PostNotice(ctx, dest, a.Text)
}
