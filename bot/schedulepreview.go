package bot

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// The preview of a schedule change, pushed over the edit modal: the next
// two weeks' final shifts before and after, and the times with nobody on
// call that the change would create. Its Confirm saves the schedule it
// carries (as a manifest, in the private metadata) through b.change, unless
// the schedule changed since the preview was made.

const (
	schedConfirmCallback = "schedule_confirm"
	schedPreviewDays     = 14
	schedPreviewLines    = 60    // shifts a list shows, at most
	schedMaxAck          = 18000 // bytes: Slack drops an ack of 20 KB or more
	schedMaxMetadata     = 3000
)

// schedConfirmMeta is the preview's private metadata.
type schedConfirmMeta struct {
	Name     string `json:"n,omitempty"` // the schedule edited; "" when creating
	Channel  string `json:"c,omitempty"`
	Base     string `json:"h,omitempty"` // schedHash of the schedule the change was made to
	Manifest string `json:"y"`           // the new schedule: gzip'd manifest, base64
}

// schedHash identifies a schedule's content.
func schedHash(sc *manifest.Schedule) string {
	if sc == nil {
		return ""
	}
	files, err := manifest.Marshal(&manifest.Set{Schedules: []*manifest.Schedule{sc}})
	if err != nil {
		return "?"
	}
	h := sha256.New()
	for _, data := range files {
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// schedPack writes sc as a manifest, gzip'd and base64'd.
func schedPack(sc *manifest.Schedule) (string, error) {
	files, err := manifest.Marshal(&manifest.Set{Schedules: []*manifest.Schedule{sc}})
	if err != nil {
		return "", fmt.Errorf("write schedule: %w", err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, data := range files {
		_, _ = zw.Write(data)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("compress schedule: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

func schedUnpack(s string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode schedule: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decompress schedule: %w", err)
	}
	return io.ReadAll(io.LimitReader(zr, 1<<20))
}

// schedPreviewView is the preview of replacing old (nil: creating) with sc.
func schedPreviewView(cur *manifest.Set, old, sc *manifest.Schedule, channel string, c clock) (slack.ModalViewRequest, error) {
	// The view travels in the submission's ack: shorten its lists until it
	// fits.
	var v slack.ModalViewRequest
	var err error
	for n := schedPreviewLines; ; n /= 2 {
		v, err = schedPreviewViewN(cur, old, sc, channel, c, n)
		if err != nil {
			return v, err
		}
		if b, _ := json.Marshal(slack.NewPushViewSubmissionResponse(&v)); len(b) < schedMaxAck || n < 4 {
			return v, nil
		}
	}
}

func schedPreviewViewN(cur *manifest.Set, old, sc *manifest.Schedule, channel string, c clock, maxLines int) (slack.ModalViewRequest, error) {
	packed, err := schedPack(sc)
	if err != nil {
		return slack.ModalViewRequest{}, err
	}
	meta := schedConfirmMeta{Channel: channel, Base: schedHash(old), Manifest: packed}
	if old != nil {
		meta.Name = old.Name
	}
	mb, _ := json.Marshal(meta)
	if len(mb) > schedMaxMetadata {
		return slack.ModalViewRequest{}, errSchedTooBig
	}
	after, err := sc.Resolver(cur.Holidays)
	if err != nil {
		return slack.ModalViewRequest{}, err
	}
	var before *schedule.Schedule
	if old != nil {
		if before, err = old.Resolver(cur.Holidays); err != nil {
			before = nil // a schedule that cannot be resolved had nobody on call
		}
	}
	pp := peopleOf(cur)
	from, to := c.now, c.now.Add(schedPreviewDays*24*time.Hour)
	verb := "Saving"
	if old == nil {
		verb = "Creating"
	}
	blocks := []slack.Block{kit.section(fmt.Sprintf("%s *%s* changes the next two weeks (%s to %s) like this. Nothing is saved until you confirm.",
		verb, kit.esc(sc.Name), c.at(from), c.at(to)))}

	newGaps := after.Gaps(from, to)
	var created []schedule.Interval
	if old == nil {
		created = newGaps
	} else {
		created = schedSubtract(newGaps, before.Gaps(from, to))
	}
	if len(created) == 0 {
		blocks = append(blocks, kit.section(":white_check_mark: This change leaves nobody-on-call time as it was."))
	} else {
		lines := []string{fmt.Sprintf(":warning: *Nobody would be on call* (%d time(s) this change creates):", len(created))}
		for i, g := range created {
			if i == maxLines {
				lines = append(lines, fmt.Sprintf("…and %d more", len(created)-i))
				break
			}
			lines = append(lines, fmt.Sprintf("• %s (%s)", c.span(g.Start, g.End), length(g.End.Sub(g.Start))))
		}
		blocks = append(blocks, kit.lines(lines)...)
	}
	afterLines := schedShiftLines(after, pp, c, from, to, maxLines)
	if old != nil {
		beforeLines := schedShiftLines(before, pp, c, from, to, maxLines)
		if slicesEqual(beforeLines, afterLines) {
			blocks = append(blocks, kit.section("The next two weeks' shifts do not change."))
		} else {
			blocks = append(blocks, slack.NewDividerBlock())
			blocks = append(blocks, kit.lines(append([]string{"*Before*"}, beforeLines...))...)
		}
	}
	blocks = append(blocks, slack.NewDividerBlock())
	blocks = append(blocks, kit.lines(append([]string{"*After*"}, afterLines...))...)
	blocks = append(blocks, kit.context(c.zoneNote()))
	if len(blocks) > maxViewBlocks {
		blocks = blocks[:maxViewBlocks]
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      schedConfirmCallback,
		Title:           cfgPlain("Preview"),
		Submit:          cfgPlain("Confirm"),
		Close:           cfgPlain("Back"),
		PrivateMetadata: string(mb),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}, nil
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// schedShiftLines lists the final shifts in [from, to), with the times
// nobody is on call between them.
func schedShiftLines(r *schedule.Schedule, pp people, c clock, from, to time.Time, maxLines int) []string {
	if r == nil {
		return []string{":warning: The schedule cannot be resolved: nobody is on call."}
	}
	var lines []string
	at := from
	add := func(l string) bool {
		if len(lines) == maxLines {
			lines = append(lines, "…")
			return false
		}
		if len(lines) < maxLines {
			lines = append(lines, l)
		}
		return true
	}
	for _, sh := range r.Shifts(from, to) {
		if at.Before(sh.Start) && !add(fmt.Sprintf("• %s  _nobody_ :warning:", c.span(at, sh.Start))) {
			break
		}
		if !add(fmt.Sprintf("• %s  %s", c.span(sh.Start, sh.End), pp.show(sh.User))) {
			break
		}
		at = sh.End
	}
	if at.Before(to) && len(lines) < maxLines {
		lines = append(lines, fmt.Sprintf("• %s  _nobody_ :warning:", c.span(at, to)))
	}
	return lines
}

// schedSubtract is a minus b (both sorted and disjoint).
func schedSubtract(a, b []schedule.Interval) []schedule.Interval {
	var out []schedule.Interval
	for _, x := range a {
		start := x.Start
		for _, y := range b {
			if !y.End.After(start) || !y.Start.Before(x.End) {
				continue
			}
			if y.Start.After(start) {
				out = append(out, schedule.Interval{Start: start, End: y.Start})
			}
			start = maxT(start, y.End)
		}
		if start.Before(x.End) {
			out = append(out, schedule.Interval{Start: start, End: x.End})
		}
	}
	return out
}

// scheduleConfirm saves the previewed schedule.
func (b *Bot) scheduleConfirm(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	fail := func(msg string) (*slack.ViewSubmissionResponse, error) {
		v := slack.ModalViewRequest{
			Type:       slack.VTModal,
			CallbackID: schedConfirmCallback + "_failed",
			Title:      cfgPlain("Not saved"),
			Close:      cfgPlain("Back"),
			Blocks:     slack.Blocks{BlockSet: []slack.Block{kit.section(":x: " + msg)}},
		}
		return slack.NewUpdateViewSubmissionResponse(&v), nil
	}
	user, err := b.user(ctx, cb.User.ID)
	if err != nil {
		return fail(b.userError(err))
	}
	var meta schedConfirmMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil {
		return fail("This preview is damaged; open the schedule again.")
	}
	data, err := schedUnpack(meta.Manifest)
	if err != nil {
		return fail("This preview is damaged; open the schedule again.")
	}
	var sc *manifest.Schedule
	plan, err := b.changeLocked(ctx, user, func(cur *manifest.Set) (*manifest.Set, error) {
		if meta.Name != "" {
			old := findNamed(cur.Schedules, meta.Name, func(x *manifest.Schedule) string { return x.Name })
			if old == nil || schedHash(old) != meta.Base {
				return nil, &oncall.UserError{Msg: fmt.Sprintf("Schedule %s changed while you were editing it; nothing was saved. Open it again to see the change.", meta.Name)}
			}
		}
		bundle := manifest.Parse("schedule.yaml", data)
		if errs := bundle.Check(cfgKnown(cur)); len(errs) > 0 {
			return nil, &oncall.UserError{Msg: upperFirst(errs[0].Msg)}
		}
		if len(bundle.Set.Schedules) != 1 {
			return nil, &oncall.UserError{Msg: "This preview is damaged; open the schedule again."}
		}
		sc = bundle.Set.Schedules[0]
		if meta.Name == "" && findNamed(cur.Schedules, sc.Name, func(x *manifest.Schedule) string { return x.Name }) != nil {
			return nil, &oncall.UserError{Msg: fmt.Sprintf("A schedule called %s was created meanwhile; nothing was saved.", sc.Name)}
		}
		objs := &manifest.Set{Schedules: []*manifest.Schedule{sc}}
		return objs, schedMayChange(cur, user, objs)
	})
	if err != nil {
		msg, ok := b.cfgApplyError(err)
		if !ok {
			msg = b.userError(err)
		}
		return fail(kit.esc(msg))
	}
	b.cfgConfirm(ctx, meta.Channel, cb.User.ID, plan, manifest.KindSchedule, sc.Name, "schedule "+sc.Name)
	return slack.NewClearViewSubmissionResponse(), nil
}
