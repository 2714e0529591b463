package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// The weekly gap report: every GapReportAt, each team channel gets a post
// listing the coming week's gaps (times with nobody on call) in the team's
// schedules. A team with no gap gets no post.

// GapReportArgs is one weekly report; Date (the UTC day it was made)
// keeps it to one a day whichever process's leader inserts it.
type GapReportArgs struct {
	Date string `json:"date" river:"unique"`
}

func (GapReportArgs) Kind() string { return "gap_report" }

func (GapReportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// GapReportAt is when the gap report runs: Mondays at 09:00 UTC.
var GapReportAt river.PeriodicSchedule = weekly{day: time.Monday, hour: 9}

// weekly is a river.PeriodicSchedule at a UTC weekday and hour.
type weekly struct {
	day  time.Weekday
	hour int
}

func (w weekly) Next(current time.Time) time.Time {
	c := current.UTC()
	t := time.Date(c.Year(), c.Month(), c.Day(), w.hour, 0, 0, 0, time.UTC)
	t = t.AddDate(0, 0, (int(w.day)-int(t.Weekday())+7)%7)
	if !t.After(c) {
		t = t.AddDate(0, 0, 7)
	}
	return t
}

// gapReportDays is how far the report looks ahead.
const gapReportDays = 7

// maxGapsListed bounds the gaps listed per schedule.
const maxGapsListed = 15

type gapReportWorker struct {
	river.WorkerDefaults[GapReportArgs]
	e *Engine
}

func (w *gapReportWorker) Work(ctx context.Context, job *river.Job[GapReportArgs]) error {
	return w.e.gapReport(ctx, job)
}

// gapReport queues a post per team channel with gaps in the coming week,
// in the transaction that completes the job.
func (e *Engine) gapReport(ctx context.Context, job *river.Job[GapReportArgs]) error {
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return err
	}
	now := e.clock.Now().UTC()
	var params []river.InsertManyParams
	if e.slackNotifier() != nil {
		for _, t := range cfg.set.Teams {
			if t.SlackChannel == "" {
				continue
			}
			if text := cfg.gapText(t, now, now.Add(gapReportDays*oncall.Day)); text != "" {
				params = append(params, river.InsertManyParams{Args: HandoffNoticeArgs{Channel: t.SlackChannel, Text: text}})
			}
		}
	}
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if len(params) > 0 {
			if _, err := e.river.InsertManyTx(ctx, tx, params); err != nil {
				return fmt.Errorf("gap report: insert posts: %w", err)
			}
		}
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
			return fmt.Errorf("gap report: complete: %w", err)
		}
		return nil
	})
}

// gapText is the report of team's schedules' gaps in [from, to), times in
// each schedule's zone; "" when there are none.
func (c *config) gapText(t *manifest.Team, from, to time.Time) string {
	var b strings.Builder
	for _, ms := range c.set.Schedules {
		if ms.Team != t.Name {
			continue
		}
		s := c.schedules[ms.Name]
		if s == nil {
			continue
		}
		gaps := s.Gaps(from, to)
		if len(gaps) == 0 {
			continue
		}
		loc := s.Location
		if loc == nil {
			loc = time.UTC
		}
		fmt.Fprintf(&b, "\n*%s*:", mrkdwnEscape(ms.Name))
		for i, g := range gaps {
			if i == maxGapsListed {
				fmt.Fprintf(&b, "\n• … and %d more", len(gaps)-i)
				break
			}
			fmt.Fprintf(&b, "\n• %s – %s (%s)", noticeTime(g.Start, loc), noticeTime(g.End, loc), gapLength(g))
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return fmt.Sprintf(":warning: Gaps in the coming week (%s – %s): nobody is on call at these times, so pages to these schedules reach no one.%s",
		noticeTime(from, time.UTC), noticeTime(to, time.UTC), b.String())
}

// gapLength is a gap's length in hours and minutes ("15h", "2h30m", "45m").
func gapLength(g schedule.Interval) string {
	d := g.End.Sub(g.Start).Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}
