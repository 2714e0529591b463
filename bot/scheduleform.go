package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// The schedule modal (create and edit): the schedule's team, zone and
// holidays, then its layers (members, start, shift, zone, restriction
// windows, holidays, end), with buttons to add and remove layers. A
// submission is written as a Schedule manifest and read back by the
// manifest reader, so it passes exactly the checks `oncall apply` makes;
// each error lands next to the field on the line it points at. A valid
// submission pushes the preview (schedulepreview.go), and only its Confirm
// saves.

const (
	schedCallback = "schedule"
	schedMaxLayer = 10 // 6 + 9 blocks a layer stays under Slack's 100
	schedNoTeam   = "-"
)

// schedForm is the modal's fields as strings.
type schedForm struct {
	Name, Team, TZ, Holidays string
	Layers                   []schedLayerForm
}

type schedLayerForm struct {
	Key                             string // stable across re-renders: its block_ids keep what was typed
	Name, Members, Start, Shift, TZ string
	Restrict, OnHolidays, End       string
}

// schedMeta is the modal's private metadata.
type schedMeta struct {
	Name    string   `json:"n,omitempty"` // the schedule edited; "" when creating
	Channel string   `json:"c,omitempty"` // where the confirmation goes
	Zone    string   `json:"z,omitempty"` // the editor's zone, for the preview
	Keys    []string `json:"k"`           // layer keys, in order
	Next    int      `json:"x"`           // the next layer key
}

func (m schedMeta) encode() string {
	b, _ := json.Marshal(m)
	return string(b)
}

func schedParseMeta(s string) schedMeta {
	var m schedMeta
	_ = json.Unmarshal([]byte(s), &m) // garbage reads as empty
	return m
}

func (l schedLayerForm) block(field string) string { return "l" + l.Key + "_" + field }

// openScheduleEditor opens the modal for the schedule called name ("":
// a new one).
func (b *Bot) openScheduleEditor(ctx context.Context, triggerID, channel, slackUser, user, name string) error {
	set, err := b.config(ctx)
	if err != nil {
		return err
	}
	loc := b.location(ctx, slackUser, user)
	meta := schedMeta{Name: name, Channel: channel, Zone: loc.String()}
	var form schedForm
	if sc := findNamed(set.Schedules, name, func(x *manifest.Schedule) string { return x.Name }); sc != nil {
		meta.Name = sc.Name
		form = schedFormOf(sc)
	} else {
		form = schedNewForm(set, user, loc, b.clock.Now())
	}
	for i := range form.Layers {
		form.Layers[i].Key = fmt.Sprint(meta.Next)
		meta.Keys = append(meta.Keys, form.Layers[i].Key)
		meta.Next++
	}
	_, err = b.api.OpenViewContext(ctx, triggerID, schedModal(form, meta, set))
	return err
}

// schedFormOf is a schedule as the modal's strings.
func schedFormOf(sc *manifest.Schedule) schedForm {
	f := schedForm{Name: sc.Name, Team: sc.Team, TZ: sc.TimeZone, Holidays: strings.Join(sc.Holidays, ", ")}
	for _, l := range sc.Layers {
		lf := schedLayerForm{
			Name: l.Name, Members: strings.Join(l.Members, ", "), Start: schedFormatCivil(l.Start),
			Shift: schedFormatShift(l.Shift), TZ: l.TimeZone, OnHolidays: l.OnHolidays,
		}
		var ws []string
		for _, w := range l.Restrict {
			ws = append(ws, schedFormatWindow(w))
		}
		lf.Restrict = strings.Join(ws, "\n")
		if l.End != nil {
			tz := l.TimeZone
			if tz == "" {
				tz = sc.TimeZone
			}
			if loc, err := time.LoadLocation(tz); err == nil {
				lf.End = schedFormatCivil(schedule.CivilOf(*l.End, loc))
			}
		}
		f.Layers = append(f.Layers, lf)
	}
	return f
}

// schedNewForm is a new schedule: the first team user administers, the
// user's zone, one weekly layer handing off next Monday at 09:00.
func schedNewForm(set *manifest.Set, user string, loc *time.Location, now time.Time) schedForm {
	f := schedForm{TZ: loc.String()}
	for _, t := range set.Teams {
		if slices.Contains(t.Admins, user) {
			f.Team = t.Name
			break
		}
	}
	d := schedule.DateOf(now, loc).AddDays(1)
	for d.Weekday() != time.Monday {
		d = d.AddDays(1)
	}
	f.Layers = []schedLayerForm{{Name: "primary", Start: schedFormatCivil(d.At(9, 0)), Shift: "1w", OnHolidays: manifest.OnHolidaysInclude}}
	return f
}

// schedFormOfView reads the modal back.
func schedFormOfView(v *slack.View, meta schedMeta) schedForm {
	in := cfgForm{v: v}
	f := schedForm{Name: meta.Name, Team: in.value("team"), TZ: in.value("tz"), Holidays: in.value("holidays")}
	if meta.Name == "" {
		f.Name = in.value("name")
	}
	if f.Team == schedNoTeam {
		f.Team = ""
	}
	for _, k := range meta.Keys {
		l := schedLayerForm{Key: k}
		l.Name, l.Members = in.value(l.block("name")), in.value(l.block("members"))
		l.Start, l.Shift, l.TZ = in.value(l.block("start")), in.value(l.block("shift")), in.value(l.block("tz"))
		l.Restrict, l.OnHolidays, l.End = in.value(l.block("restrict")), in.value(l.block("holidays")), in.value(l.block("end"))
		f.Layers = append(f.Layers, l)
	}
	return f
}

// schedModal renders the form.
func schedModal(f schedForm, meta schedMeta, set *manifest.Set) slack.ModalViewRequest {
	title, intro := "New schedule", "A schedule is layers of rotations: the last layer with someone on call wins. Nothing is saved until you confirm the preview."
	if meta.Name != "" {
		title, intro = "Edit schedule", fmt.Sprintf("Editing *%s*. Nothing is saved until you confirm the preview.", cfgEsc(meta.Name))
	}
	blocks := []slack.Block{slack.NewContextBlock("", cfgMrkdwn(intro))}
	if meta.Name == "" {
		blocks = append(blocks, cfgTextInput("name", "Name", f.Name, "payments-primary", "Lowercase letters, digits, . _ -", false, false))
	}
	teams := []*slack.OptionBlockObject{cfgOption(schedNoTeam, "(no team)")}
	for _, t := range set.Teams {
		if len(teams) < cfgMaxOptions {
			teams = append(teams, cfgOption(t.Name, ""))
		}
	}
	team := f.Team
	if team == "" {
		team = schedNoTeam
	}
	blocks = append(blocks,
		cfgInput("team", "Team", "Its admins may change the schedule.", cfgSelect("Team", team, teams...), false),
		cfgTextInput("tz", "Time zone", f.TZ, "America/New_York", "An IANA zone: the layers' default, and the zone of holidays and overrides.", false, false),
		cfgTextInput("holidays", "Holidays", f.Holidays, "us", schedHolidayHint(set), true, false))
	for i, l := range f.Layers {
		head := slack.NewSectionBlock(cfgMrkdwn(fmt.Sprintf("*Layer %d*", i+1)), nil, nil)
		if len(f.Layers) > 1 {
			head.Accessory = slack.NewAccessory(cfgButton(actionScheduleRmLayer, l.Key, "Remove layer"))
		}
		head.BlockID = l.block("head")
		onHol := l.OnHolidays
		if onHol == "" {
			onHol = manifest.OnHolidaysInclude
		}
		blocks = append(blocks, head,
			cfgTextInput(l.block("name"), "Layer name", l.Name, "business-hours", "", false, false),
			cfgTextInput(l.block("members"), "Members, in rotation order", l.Members, "alice, bob, carol", "User names, comma-separated; repeat one to give them more shifts.", false, false),
			cfgTextInput(l.block("start"), "First handoff", l.Start, "2026-12-07 09:00", "Local time in the layer's zone: the first member starts here.", false, false),
			cfgTextInput(l.block("shift"), "Shift length", l.Shift, "1w", "12h = elapsed hours; 1d, 1w = calendar days and weeks (the handoff keeps its local time).", false, false),
			cfgTextInput(l.block("tz"), "Layer time zone", l.TZ, "", "Optional: the schedule's zone when empty.", true, false),
			cfgTextInput(l.block("restrict"), "On call only", l.Restrict, "mon-fri 09:00-17:00", "Optional, one window a line: [days] HH:MM-HH:MM, e.g. mon-fri 09:00-17:00 or 17:00-09:00 (every day, overnight).", true, true),
			cfgInput(l.block("holidays"), "On holidays", "", cfgSelect("On holidays", onHol,
				cfgOption(manifest.OnHolidaysInclude, "on call as any day"),
				cfgOption(manifest.OnHolidaysSkip, "nobody from this layer"),
				cfgOption(manifest.OnHolidaysOnly, "on call only on holidays")), false),
			cfgTextInput(l.block("end"), "Layer ends", l.End, "2027-06-01 00:00", "Optional: local time; nobody from this layer from then on.", true, false))
	}
	if len(f.Layers) < schedMaxLayer {
		blocks = append(blocks, slack.NewActionBlock("layers", cfgButton(actionScheduleAddLayer, "", "Add a layer")))
	}
	v := slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      schedCallback,
		Title:           cfgPlain(title),
		Submit:          cfgPlain("Preview"),
		Close:           cfgPlain("Cancel"),
		PrivateMetadata: meta.encode(),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
	return v
}

func schedHolidayHint(set *manifest.Set) string {
	var names []string
	for _, h := range set.Holidays {
		names = append(names, h.Name)
	}
	if len(names) == 0 {
		return "Optional: holiday calendars by name (none are defined yet)."
	}
	return "Optional: holiday calendars by name, comma-separated. Defined: " + strings.Join(names, ", ") + "."
}

// scheduleFormAction adds or removes a layer, keeping what was typed.
func (b *Bot) scheduleFormAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	if cb.View.ID == "" {
		return nil
	}
	meta := schedParseMeta(cb.View.PrivateMetadata)
	form := schedFormOfView(&cb.View, meta)
	switch a.ActionID {
	case actionScheduleAddLayer:
		if len(form.Layers) >= schedMaxLayer {
			return nil
		}
		key := fmt.Sprint(meta.Next)
		meta.Next++
		form.Layers = append(form.Layers, schedLayerForm{Key: key, Shift: "1w", OnHolidays: manifest.OnHolidaysInclude})
	case actionScheduleRmLayer:
		form.Layers = slices.DeleteFunc(form.Layers, func(l schedLayerForm) bool { return l.Key == a.Value })
		if len(form.Layers) == 0 {
			return nil
		}
	}
	meta.Keys = meta.Keys[:0]
	for _, l := range form.Layers {
		meta.Keys = append(meta.Keys, l.Key)
	}
	set, err := b.config(ctx)
	if err != nil {
		return err
	}
	_, err = b.api.UpdateViewContext(ctx, schedModal(form, meta, set), "", cb.View.Hash, cb.View.ID)
	return err
}

// scheduleSubmit routes the modal's submission and its preview's Confirm.
func (b *Bot) scheduleSubmit(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	switch cb.View.CallbackID {
	case schedCallback:
		return b.schedulePreview(ctx, cb)
	case schedConfirmCallback:
		return b.scheduleConfirm(ctx, cb)
	}
	return nil, nil
}

// schedulePreview checks the submitted form and pushes the preview.
func (b *Bot) schedulePreview(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	meta := schedParseMeta(cb.View.PrivateMetadata)
	user, err := b.user(ctx, cb.User.ID)
	if err != nil {
		return nil, err
	}
	cur, err := b.config(ctx)
	if err != nil {
		return nil, err
	}
	form := schedFormOfView(&cb.View, meta)
	sc, errs := form.build(cur, meta)
	if len(errs) > 0 {
		return errs.response(), nil
	}
	errs = cfgErrors{}
	if err := schedMayChange(cur, user, &manifest.Set{Schedules: []*manifest.Schedule{sc}}); err != nil {
		msg, _ := b.cfgApplyError(err)
		errs.add("team", "%s", msg)
		return errs.response(), nil
	}
	loc, err := time.LoadLocation(meta.Zone)
	if err != nil {
		loc = time.UTC
	}
	old := findNamed(cur.Schedules, meta.Name, func(x *manifest.Schedule) string { return x.Name })
	view, err := schedPreviewView(cur, old, sc, meta.Channel, clock{now: b.clock.Now(), loc: loc})
	if err != nil {
		errs.add(schedFirstBlock(form), "%s", err.Error())
		return errs.response(), nil
	}
	return slack.NewPushViewSubmissionResponse(&view), nil
}

func schedFirstBlock(f schedForm) string {
	if len(f.Layers) > 0 {
		return f.Layers[0].block("name")
	}
	return "tz"
}

// build turns the form into a Schedule through the manifest reader,
// checked against cur; errors are by block_id.
func (f schedForm) build(cur *manifest.Set, meta schedMeta) (*manifest.Schedule, cfgErrors) {
	errs := cfgErrors{}
	nameBlock := "name"
	if meta.Name != "" {
		nameBlock = "team" // a fixed name: its errors go to the first field
	}
	f.Name = strings.TrimSpace(f.Name)
	switch {
	case f.Name == "":
		errs.add(nameBlock, "Give the schedule a name.")
	case meta.Name == "" && findNamed(cur.Schedules, f.Name, func(x *manifest.Schedule) string { return x.Name }) != nil:
		errs.add(nameBlock, "There is a schedule called %s already: pick another name, or edit that one.", f.Name)
	}
	if strings.TrimSpace(f.TZ) == "" {
		errs.add("tz", "Name a time zone, e.g. America/New_York.")
	}
	var old *manifest.Schedule
	if meta.Name != "" {
		if old = findNamed(cur.Schedules, meta.Name, func(x *manifest.Schedule) string { return x.Name }); old == nil {
			errs.add(nameBlock, "Schedule %s no longer exists.", meta.Name)
		}
	}

	// Written as a manifest, one field a line, each line's block noted.
	var y schedYAML
	y.line(nameBlock, "kind: Schedule")
	y.line(nameBlock, "name: %s", schedQuote(f.Name))
	if f.Team != "" {
		y.line("team", "team: %s", schedQuote(f.Team))
	}
	y.line("tz", "time_zone: %s", schedQuote(strings.TrimSpace(f.TZ)))
	if hs := cfgSplitList(f.Holidays); len(hs) > 0 {
		y.line("holidays", "holidays: %s", schedQuoteList(hs))
	}
	if len(f.Layers) > 0 {
		y.line(nameBlock, "layers:")
	}
	for _, l := range f.Layers {
		name, members := strings.TrimSpace(l.Name), cfgSplitList(l.Members)
		if name == "" {
			errs.add(l.block("name"), "Give the layer a name.")
		}
		if len(members) == 0 {
			errs.add(l.block("members"), "Name at least one member.")
		}
		start, shift := schedLocal(l.Start), strings.TrimSpace(l.Shift)
		if start == "" {
			errs.add(l.block("start"), "When is the first handoff? e.g. 2026-12-07 09:00")
		}
		if shift == "" {
			errs.add(l.block("shift"), "How long is a shift? e.g. 1w, 1d or 12h")
		}
		y.line(l.block("name"), "  - name: %s", schedQuote(name))
		y.line(l.block("members"), "    members: %s", schedQuoteList(members))
		y.line(l.block("start"), "    start: %s", schedQuote(start))
		y.line(l.block("shift"), "    shift: %s", schedQuote(shift))
		if tz := strings.TrimSpace(l.TZ); tz != "" {
			y.line(l.block("tz"), "    time_zone: %s", schedQuote(tz))
		}
		if strings.TrimSpace(l.Restrict) != "" {
			ws, err := schedParseWindows(l.Restrict)
			if err != nil {
				errs.add(l.block("restrict"), "%s.", upperFirst(err.Error()))
			} else {
				y.line(l.block("restrict"), "    restrict: %s", ws)
			}
		}
		if l.OnHolidays != "" {
			y.line(l.block("holidays"), "    on_holidays: %s", schedQuote(l.OnHolidays))
		}
		if end := schedLocal(l.End); end != "" {
			y.line(l.block("end"), "    end: %s", schedQuote(end))
		}
	}
	// The reader checks the rest, even when a field above failed: every
	// error shows at once.
	bundle := manifest.Parse("schedule.yaml", y.buf.Bytes())
	for _, e := range bundle.Check(cfgKnown(cur)) {
		block := y.blocks[e.Line]
		if block == "" {
			block = nameBlock
		}
		errs.add(block, "%s", schedTrimKey(e.Msg)+schedSuggest(cur, e.Msg))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(bundle.Set.Schedules) != 1 {
		errs.add(nameBlock, "The form did not make a schedule.")
		return nil, errs
	}
	sc := bundle.Set.Schedules[0]
	if old != nil { // what the modal does not edit stays
		sc.SlackUserGroup = old.SlackUserGroup
		sc.Overrides = slices.Clone(old.Overrides)
	}
	r, err := sc.Resolver(cur.Holidays)
	if err == nil {
		err = r.Validate()
	}
	if err != nil {
		msg := err.Error()
		var pairs []string
		for _, l := range f.Layers {
			pairs = append(pairs, fmt.Sprintf("%q", strings.TrimSpace(l.Name)), l.block("shift"))
		}
		cfgPlace(errs, msg, schedFirstBlock(f), pairs...)
		return nil, errs
	}
	return sc, nil
}

// schedYAML is a manifest being written, with the block each line is for.
type schedYAML struct {
	buf    bytes.Buffer
	n      int
	blocks map[int]string // line (from 1) -> block_id
}

func (y *schedYAML) line(block, format string, args ...any) {
	if y.blocks == nil {
		y.blocks = map[int]string{}
	}
	y.n++
	y.blocks[y.n] = block
	fmt.Fprintf(&y.buf, format, args...)
	y.buf.WriteByte('\n')
}

// schedQuote is s as a YAML double-quoted scalar (JSON's string syntax is
// YAML's).
func schedQuote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSpace(buf.String())
}

func schedQuoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = schedQuote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// schedLocal reads "2026-12-07 09:00" as the manifest's "2026-12-07T09:00".
func schedLocal(s string) string {
	f := strings.Fields(s)
	if len(f) == 2 {
		return f[0] + "T" + f[1]
	}
	return strings.Join(f, " ")
}

// schedTrimKey drops the "shift: " the reader puts before a message: the
// field says it already.
func schedTrimKey(msg string) string {
	for _, k := range []string{"name", "team", "time_zone", "holidays", "members", "start", "shift", "restrict", "on_holidays", "end"} {
		if rest, ok := strings.CutPrefix(msg, k+": "); ok {
			return upperFirst(rest)
		}
	}
	return upperFirst(msg)
}

// schedParseWindows reads windows, one a line, "[days] HH:MM-HH:MM", as
// a YAML flow list of restrict windows (the reader checks the times).
func schedParseWindows(text string) (string, error) {
	var out []string
	for i, line := range cfgSplitLines(text) {
		f := strings.Fields(schedDashRE.ReplaceAllString(line, "-"))
		times := f[len(f)-1]
		from, to, ok := strings.Cut(times, "-")
		if !ok {
			return "", fmt.Errorf("line %d: write a window as [days] HH:MM-HH:MM, e.g. mon-fri 09:00-17:00", i+1)
		}
		var days []string
		for _, item := range strings.Split(strings.Join(f[:len(f)-1], ","), ",") {
			item = strings.ToLower(strings.TrimSpace(item))
			if item == "" {
				continue
			}
			a, z, isRange := strings.Cut(item, "-")
			ia, iz := schedDayIndex(a), schedDayIndex(z)
			switch {
			case ia < 0:
				return "", fmt.Errorf("line %d: unknown day %q (use mon, tue, … sun)", i+1, a)
			case isRange && iz < 0:
				return "", fmt.Errorf("line %d: unknown day %q (use mon, tue, … sun)", i+1, z)
			case !isRange:
				iz = ia
			}
			for d := ia; ; d = (d + 1) % 7 {
				if !slices.Contains(days, schedDays[d]) {
					days = append(days, schedDays[d])
				}
				if d == iz {
					break
				}
			}
		}
		w := fmt.Sprintf("{from: %s, to: %s}", schedQuote(from), schedQuote(to))
		if len(days) > 0 && len(days) < 7 {
			w = fmt.Sprintf("{days: %s, from: %s, to: %s}", schedQuoteList(days), schedQuote(from), schedQuote(to))
		}
		out = append(out, w)
	}
	return "[" + strings.Join(out, ", ") + "]", nil
}

// schedDayIndex is a day's index in schedDays (mon = 0), by its first
// three letters; -1 when it is none.
func schedDayIndex(s string) int {
	full := []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
	for i, d := range full {
		if s == d || s == schedDays[i] || len(s) >= 3 && strings.HasPrefix(d, s) {
			return i
		}
	}
	return -1
}

var schedUnknownRE = regexp.MustCompile(`unknown (user|holidays|team) "([^"]*)"$`)

// schedSuggest is a "did you mean" for a reference the reader did not find
// (it only knows the names in the files it read).
func schedSuggest(cur *manifest.Set, msg string) string {
	m := schedUnknownRE.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	var names []string
	switch m[1] {
	case "user":
		for _, u := range cur.Users {
			names = append(names, u.Name)
		}
	case "holidays":
		for _, h := range cur.Holidays {
			names = append(names, h.Name)
		}
	case "team":
		for _, t := range cur.Teams {
			names = append(names, t.Name)
		}
	}
	return cfgDidYouMean(m[2], names)
}

var schedDashRE = regexp.MustCompile(`\s*[-–]\s*`)

var errSchedTooBig = errors.New("this schedule is too large to preview in Slack; change it with `oncall apply`")
