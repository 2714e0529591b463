package bot

// /oncall escalation [name]: the escalation policies (every one, or one
// step by step) with an Edit button, and the modal that edits a policy's
// steps (targets and delays) and repeat count, or creates a policy. Only
// admins of the policy's team may save it (b.change checks; the Edit
// button tells anyone else at once rather than after they typed).

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
)

// Action IDs of the escalation surfaces.
const (
	actPolicyEdit    = "escalation_edit"
	actPolicyNew     = "escalation_new"
	actPolicyAddStep = "escalation_addstep"
)

// maxPolicySteps bounds the steps the modal shows (3 blocks each).
const maxPolicySteps = 25

// noTeam is the team select's value for "no team" (not a valid name).
const noTeam = "-"

func (b *Bot) cmdEscalation(ctx context.Context, r *request) error {
	if len(r.args) > 1 {
		return b.replyUsage(ctx, r, "Name one escalation policy.")
	}
	set, err := b.config(ctx)
	if err != nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
	}
	if len(r.args) == 0 {
		return b.replyBlocks(ctx, r.cmd.ResponseURL, "Escalation policies", policyListBlocks(set))
	}
	p := findNamed(set.Policies, r.args[0], func(x *manifest.EscalationPolicy) string { return x.Name })
	if p == nil {
		var names []string
		for _, x := range set.Policies {
			names = append(names, x.Name)
		}
		problem := fmt.Sprintf("I know no escalation policy called %s%s.", cfgCode(r.args[0]), cfgDidYouMean(r.args[0], names))
		if len(names) > 0 {
			problem += " Policies: " + strings.Join(clipNames(names), ", ") + "."
		}
		return b.replyUsage(ctx, r, problem)
	}
	return b.replyBlocks(ctx, r.cmd.ResponseURL, "Escalation policy "+p.Name, policyBlocks(set, p))
}

// clipNames keeps a reply listing names short.
func clipNames(names []string) []string {
	if len(names) > 20 {
		return append(names[:20:20], "…")
	}
	return names
}

// ---- rendering

// policyListBlocks lists every policy, one section each with its steps in
// short and an Edit button, and a New policy button.
func policyListBlocks(set *manifest.Set) []slack.Block {
	pp := peopleOf(set)
	blocks := []slack.Block{kit.header("Escalation policies")}
	tail := []slack.Block{slack.NewActionBlock("escalation_actions", kit.button(actPolicyNew, "", "New policy"))}
	if len(set.Policies) == 0 {
		blocks = append(blocks, kit.section("There are no escalation policies yet."))
		return append(blocks, tail...)
	}
	tail = append(tail, kit.context("Details of one: `/oncall escalation <name>`."))
	room := maxMessageBlocks - len(blocks) - len(tail)
	list := set.Policies
	if len(list) > room {
		list = list[:room-1]
		tail = append([]slack.Block{kit.context(fmt.Sprintf("…and %d more: ask `/oncall escalation <name>`.", len(set.Policies)-len(list)))}, tail...)
	}
	for _, p := range list {
		lines := []string{policyTitle(p)}
		for i, st := range p.Steps {
			lines = append(lines, fmt.Sprintf("%d. %s · after %s", i+1, targetsText(st.Targets, pp), oncall.FormatDuration(st.EscalateAfter)))
		}
		sec := slack.NewSectionBlock(kit.md(strings.Join(lines, "\n")), nil,
			slack.NewAccessory(kit.button(actPolicyEdit, p.Name, "Edit")))
		blocks = append(blocks, sec)
	}
	return append(blocks, tail...)
}

func policyTitle(p *manifest.EscalationPolicy) string {
	t := "*" + kit.esc(p.Name) + "*"
	if p.Team != "" {
		t += "  ·  team " + kit.esc(p.Team)
	}
	return t + "  ·  " + repeatText(p.Repeat)
}

func repeatText(n int) string {
	switch n {
	case 0:
		return "no repeat"
	case 1:
		return "repeats once"
	}
	return fmt.Sprintf("repeats %d times", n)
}

// policyBlocks shows one policy: its team, the services that use it, each
// step with its targets and delay, and an Edit button.
func policyBlocks(set *manifest.Set, p *manifest.EscalationPolicy) []slack.Block {
	pp := peopleOf(set)
	blocks := []slack.Block{kit.header("Escalation policy: " + p.Name)}
	var about []string
	if p.Team != "" {
		about = append(about, "Team *"+kit.esc(p.Team)+"*")
	} else {
		about = append(about, "No team")
	}
	var services []string
	for _, s := range set.Services {
		if s.EscalationPolicy == p.Name {
			services = append(services, "*"+kit.esc(s.Name)+"*")
		}
	}
	if len(services) > 0 {
		about = append(about, "used by "+strings.Join(clipNames(services), ", "))
	} else {
		about = append(about, "used by no service")
	}
	blocks = append(blocks, kit.section(strings.Join(about, "  ·  ")))
	tail := []slack.Block{
		kit.context(policyRepeatNote(p)),
		slack.NewActionBlock("escalation_actions", kit.button(actPolicyEdit, p.Name, "Edit")),
	}
	room := maxMessageBlocks - len(blocks) - len(tail)
	steps := p.Steps
	if len(steps) > room {
		steps = steps[:room-1]
		tail = append([]slack.Block{kit.context(fmt.Sprintf("…and %d more steps: edit the policy to see them all.", len(p.Steps)-len(steps)))}, tail...)
	}
	for i, st := range steps {
		var lines []string
		lines = append(lines, fmt.Sprintf("*Step %d*", i+1))
		for _, t := range st.Targets {
			lines = append(lines, "• "+targetText(t, pp))
		}
		next := fmt.Sprintf("Unacknowledged after %s: step %d.", oncall.FormatDuration(st.EscalateAfter), i+2)
		if i == len(p.Steps)-1 {
			if p.Repeat > 0 {
				next = fmt.Sprintf("Unacknowledged after %s: from step 1 again.", oncall.FormatDuration(st.EscalateAfter))
			} else {
				next = "The last step: nobody else is paged after it."
			}
		}
		lines = append(lines, "_"+next+"_")
		blocks = append(blocks, kit.section(strings.Join(lines, "\n")))
	}
	return append(blocks, tail...)
}

func policyRepeatNote(p *manifest.EscalationPolicy) string {
	if p.Repeat == 0 {
		return "The steps run once."
	}
	return fmt.Sprintf("After the last step, all steps run again: %s.", repeatText(p.Repeat))
}

func targetText(t manifest.Target, pp people) string {
	switch t.Type {
	case manifest.TargetUser:
		return pp.show(t.Ref)
	case manifest.TargetSchedule:
		return "schedule *" + kit.esc(t.Ref) + "*"
	case manifest.TargetTeam:
		return "team *" + kit.esc(t.Ref) + "*"
	case manifest.TargetSlackChannel:
		return "channel " + channelRef(t.Ref)
	}
	return kit.esc(t.Ref)
}

func targetsText(ts []manifest.Target, pp people) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, targetText(t, pp))
	}
	return strings.Join(parts, ", ")
}

// ---- the form

// policyForm is the edit modal as strings.
type policyForm struct {
	Name   string // a new policy's name (the edited one's is in the metadata)
	Team   string // a new policy's team, noTeam for none
	Repeat string
	Steps  []stepForm
}

type stepForm struct{ Targets, After string }

func stepTargetsID(i int) string { return "step_" + strconv.Itoa(i) + "_targets" }
func stepAfterID(i int) string   { return "step_" + strconv.Itoa(i) + "_after" }

// policyFormOf is p as a form (p nil: a new policy with one empty step).
func policyFormOf(set *manifest.Set, p *manifest.EscalationPolicy) policyForm {
	if p == nil {
		return policyForm{Team: noTeam, Repeat: "0", Steps: []stepForm{{}}}
	}
	f := policyForm{Team: p.Team, Repeat: strconv.Itoa(p.Repeat)}
	for _, st := range p.Steps {
		var refs []string
		for _, t := range st.Targets {
			refs = append(refs, targetRef(set, t))
		}
		f.Steps = append(f.Steps, stepForm{Targets: strings.Join(refs, ", "), After: oncall.FormatDuration(st.EscalateAfter)})
	}
	return f
}

// targetRef writes a target as the form reads it back: @user, team:name,
// a channel as is, a schedule by its bare name unless that is ambiguous.
func targetRef(set *manifest.Set, t manifest.Target) string {
	switch t.Type {
	case manifest.TargetUser:
		return "@" + t.Ref
	case manifest.TargetTeam:
		return "team:" + t.Ref
	case manifest.TargetSchedule:
		if len(targetKindsNamed(set, t.Ref)) > 1 {
			return "schedule:" + t.Ref
		}
	}
	return t.Ref
}

// readPolicyForm reads the form of a submitted or clicked view.
func readPolicyForm(v *slack.View, meta cfgMeta) policyForm {
	f := cfgForm{v}
	pf := policyForm{Name: strings.TrimSpace(f.value("name")), Team: f.value("team"), Repeat: f.value("repeat")}
	for i := range min(meta.Rows, maxPolicySteps) {
		pf.Steps = append(pf.Steps, stepForm{Targets: f.value(stepTargetsID(i)), After: f.value(stepAfterID(i))})
	}
	return pf
}

// policyModal renders the form; meta.Name "" makes a new policy, for one
// of teams (the asker's).
func policyModal(meta cfgMeta, f policyForm, teams []string) slack.ModalViewRequest {
	meta.Rows = len(f.Steps)
	title := "Edit policy"
	var blocks []slack.Block
	if meta.Name == "" {
		title = "New policy"
		blocks = append(blocks, cfgTextInput("name", "Name", f.Name, "e.g. payments", "Lowercase letters, digits, . _ and -.", false, false))
		opts := []*slack.OptionBlockObject{cfgOption(noTeam, "No team (any team admin may change it)")}
		for _, t := range teams {
			opts = append(opts, cfgOption(t, "Team "+t))
		}
		blocks = append(blocks, cfgInput("team", "Team", "Its admins may change the policy.", cfgSelect("Choose a team", f.Team, opts...), false))
	} else {
		what := "Escalation policy *" + cfgEsc(meta.Name) + "*"
		if f.Team != "" && f.Team != noTeam {
			what += " of team *" + cfgEsc(f.Team) + "*"
		}
		blocks = append(blocks, slack.NewSectionBlock(cfgMrkdwn(what+". Each step pages its targets; nobody acknowledging within the step's delay moves the page on to the next step."), nil, nil))
	}
	for i, st := range f.Steps {
		blocks = append(blocks,
			slack.NewSectionBlock(cfgMrkdwn(fmt.Sprintf("*Step %d*", i+1)), nil, nil),
			cfgTextInput(stepTargetsID(i), "Page", st.Targets, "payments-primary, @alice, team:payments, #payments",
				"Comma-separated: a schedule, @user, team:name, #channel or channel ID. Write schedule:, user: or team: before an ambiguous name. Empty removes the step.", true, false),
			cfgTextInput(stepAfterID(i), "Escalate after", st.After, "5m", "If nobody acknowledges within this time (e.g. 5m, 1h). Default 5m.", true, false),
		)
	}
	if len(f.Steps) < maxPolicySteps {
		blocks = append(blocks, slack.NewActionBlock("escalation_add", cfgButton(actPolicyAddStep, "", "Add a step")))
	}
	var opts []*slack.OptionBlockObject
	for n := 0; n <= 5; n++ {
		text := "Once: don't repeat"
		if n > 0 {
			text = "Then " + repeatText(n)
		}
		opts = append(opts, cfgOption(strconv.Itoa(n), text))
	}
	blocks = append(blocks, cfgInput("repeat", "Repeat all steps", "", cfgSelect("How many times", f.Repeat, opts...), false))
	return cfgModal("escalation", title, meta, blocks)
}

// parse turns the form into a policy, with errors by block. cur is the
// configuration; existing the policy edited (nil when creating one).
func (f policyForm) parse(cur *manifest.Set, existing *manifest.EscalationPolicy) (*manifest.EscalationPolicy, cfgErrors) {
	errs := cfgErrors{}
	p := &manifest.EscalationPolicy{}
	if existing != nil {
		p.Name, p.Team = existing.Name, existing.Team
	} else {
		p.Name = f.Name
		switch {
		case !oncall.ValidName(f.Name):
			errs.add("name", "Use lowercase letters, digits, . _ and - (starting with a letter or digit).")
		case slices.ContainsFunc(cur.Policies, func(x *manifest.EscalationPolicy) bool { return x.Name == f.Name }):
			errs.add("name", "A policy called %s exists already.", f.Name)
		}
		if f.Team != noTeam && f.Team != "" {
			p.Team = f.Team
		}
	}
	repeat, err := strconv.Atoi(f.Repeat)
	if err != nil || repeat < 0 || repeat > 5 {
		errs.add("repeat", "Choose 0 to 5.")
	}
	p.Repeat = repeat
	firstStep := -1
	for i, sf := range f.Steps {
		items := cfgSplitList(sf.Targets)
		if len(items) == 0 {
			continue // an empty step is removed
		}
		if firstStep < 0 {
			firstStep = i
		}
		var st manifest.Step
		for _, it := range items {
			t, err := parseTarget(cur, it)
			if err != nil {
				errs.add(stepTargetsID(i), "%s", err.Error())
				continue
			}
			if slices.Contains(st.Targets, t) {
				errs.add(stepTargetsID(i), "%s is listed twice.", it)
				continue
			}
			st.Targets = append(st.Targets, t)
		}
		d, err := cfgDuration(sf.After, manifest.DefaultEscalateAfter, 0)
		switch {
		case err != nil:
			errs.add(stepAfterID(i), "%s", upperFirst(err.Error())+".")
		case d <= 0:
			errs.add(stepAfterID(i), "Must be more than 0s.")
		}
		st.EscalateAfter = d
		p.Steps = append(p.Steps, st)
	}
	if firstStep < 0 {
		errs.add(stepTargetsID(0), "A policy needs at least one step with a target.")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	// The same checks as a manifest's, for anything the form missed.
	fallback := stepTargetsID(firstStep)
	for _, msg := range cfgCheckManifest(cur, &manifest.Set{Policies: []*manifest.EscalationPolicy{p}}) {
		cfgPlace(errs, msg, fallback, "repeat", "repeat")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// targetKindsNamed lists the kinds of target called name.
func targetKindsNamed(set *manifest.Set, name string) []string {
	var kinds []string
	if slices.ContainsFunc(set.Schedules, func(s *manifest.Schedule) bool { return s.Name == name }) {
		kinds = append(kinds, manifest.TargetSchedule)
	}
	if slices.ContainsFunc(set.Users, func(u *manifest.User) bool { return u.Name == name }) {
		kinds = append(kinds, manifest.TargetUser)
	}
	if slices.ContainsFunc(set.Teams, func(t *manifest.Team) bool { return t.Name == name }) {
		kinds = append(kinds, manifest.TargetTeam)
	}
	return kinds
}

// parseTarget reads one target of the form: @user (a name or a Slack ID),
// kind:name, #channel or a channel ID, or a bare name that is exactly one
// schedule, user or team.
func parseTarget(set *manifest.Set, s string) (manifest.Target, error) {
	if strings.HasPrefix(s, "#") || cfgChannelRE.MatchString(s) {
		if !cfgChannelRE.MatchString(s) {
			return manifest.Target{}, fmt.Errorf("%s is not a channel: use #name or a channel ID like C0123ABCD", s)
		}
		return manifest.Target{Type: manifest.TargetSlackChannel, Ref: s}, nil
	}
	if name, ok := strings.CutPrefix(s, "@"); ok {
		for _, u := range set.Users {
			if u.Name == strings.ToLower(name) || (u.SlackID != "" && u.SlackID == name) {
				return manifest.Target{Type: manifest.TargetUser, Ref: u.Name}, nil
			}
		}
		return manifest.Target{}, fmt.Errorf("no user is called %s%s", name, cfgDidYouMean(name, userNames(set)))
	}
	if kind, name, ok := strings.Cut(s, ":"); ok {
		kind = strings.ToLower(strings.TrimSpace(kind))
		name = strings.TrimSpace(name)
		if kind == "channel" || kind == manifest.TargetSlackChannel {
			return parseTarget(set, name)
		}
		if !slices.Contains([]string{manifest.TargetUser, manifest.TargetSchedule, manifest.TargetTeam}, kind) {
			return manifest.Target{}, fmt.Errorf("%s: write schedule:, user:, team: or channel: before a name", s)
		}
		if !slices.Contains(targetKindsNamed(set, name), kind) {
			return manifest.Target{}, fmt.Errorf("no %s is called %s%s", kind, name, cfgDidYouMean(name, namesOfKind(set, kind)))
		}
		return manifest.Target{Type: kind, Ref: name}, nil
	}
	switch kinds := targetKindsNamed(set, s); len(kinds) {
	case 1:
		return manifest.Target{Type: kinds[0], Ref: s}, nil
	case 0:
		var all []string
		for _, k := range []string{manifest.TargetSchedule, manifest.TargetUser, manifest.TargetTeam} {
			all = append(all, namesOfKind(set, k)...)
		}
		return manifest.Target{}, fmt.Errorf("no schedule, user or team is called %s%s", s, cfgDidYouMean(s, all))
	default:
		return manifest.Target{}, fmt.Errorf("%s is a %s: write %s:%s or %s:%s", s, strings.Join(kinds, " and a "), kinds[0], s, kinds[1], s)
	}
}

func userNames(set *manifest.Set) []string { return namesOfKind(set, manifest.TargetUser) }

func namesOfKind(set *manifest.Set, kind string) []string {
	var names []string
	switch kind {
	case manifest.TargetUser:
		for _, u := range set.Users {
			names = append(names, u.Name)
		}
	case manifest.TargetSchedule:
		for _, s := range set.Schedules {
			names = append(names, s.Name)
		}
	case manifest.TargetTeam:
		for _, t := range set.Teams {
			names = append(names, t.Name)
		}
	}
	return names
}

// adminTeams lists the teams user administers.
func adminTeams(set *manifest.Set, user string) []string {
	var teams []string
	for _, t := range set.Teams {
		if slices.Contains(t.Admins, user) {
			teams = append(teams, t.Name)
		}
	}
	return teams
}

// ---- interactivity

func (b *Bot) escalationAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	switch a.ActionID {
	case actPolicyEdit, actPolicyNew:
		return b.openPolicyModal(ctx, cb, a.ActionID == actPolicyNew, a.Value)
	case actPolicyAddStep:
		meta := cfgParseMeta(cb.View.PrivateMetadata)
		f := readPolicyForm(&cb.View, meta)
		if len(f.Steps) < maxPolicySteps {
			f.Steps = append(f.Steps, stepForm{})
		}
		set, err := b.config(ctx)
		if err != nil {
			return err
		}
		user, _ := b.user(ctx, cb.User.ID)
		return b.updateView(ctx, cb.View, policyModal(meta, f, adminTeams(set, user)))
	}
	return nil
}

// openPolicyModal opens the edit (or new) policy modal for an admin, and
// tells anyone else why not.
func (b *Bot) openPolicyModal(ctx context.Context, cb slack.InteractionCallback, create bool, name string) error {
	refuse := func(text string) error {
		return b.reply(ctx, cb.ResponseURL, &slack.WebhookMessage{Text: text})
	}
	user, err := b.user(ctx, cb.User.ID)
	if errors.Is(err, errNotOurs) {
		return refuse(notOursText(cb.User.ID))
	}
	if err != nil {
		return err
	}
	set, err := b.config(ctx)
	if err != nil {
		return err
	}
	meta := cfgMeta{Channel: cmp.Or(cb.Channel.ID, cb.Container.ChannelID)}
	var p *manifest.EscalationPolicy
	if !create {
		p = findNamed(set.Policies, name, func(x *manifest.EscalationPolicy) string { return x.Name })
		if p == nil {
			return refuse(fmt.Sprintf("Escalation policy %s no longer exists.", cfgCode(name)))
		}
		if !administers(set, user, p.Team) {
			if p.Team == "" {
				return refuse(fmt.Sprintf("Only a team admin may change escalation policy %s.", cfgCode(p.Name)))
			}
			return refuse(fmt.Sprintf("Only an admin of team %s may change escalation policy %s.", cfgCode(p.Team), cfgCode(p.Name)))
		}
		if len(p.Steps) > maxPolicySteps {
			return refuse(fmt.Sprintf("Escalation policy %s has %d steps, more than this form holds (%d): change it with `oncall apply`.", cfgCode(p.Name), len(p.Steps), maxPolicySteps))
		}
		meta.Name = p.Name
	} else if len(adminTeams(set, user)) == 0 {
		return refuse("Only a team admin may create an escalation policy.")
	}
	_, err = b.api.OpenViewContext(ctx, cb.TriggerID, policyModal(meta, policyFormOf(set, p), adminTeams(set, user)))
	if err != nil {
		return fmt.Errorf("open escalation modal: %w", err)
	}
	return nil
}

// updateView replaces a modal with a new rendering of it (after an "add a
// row" button or a test); a concurrent change of the view wins.
func (b *Bot) updateView(ctx context.Context, v slack.View, m slack.ModalViewRequest) error {
	if _, err := b.api.UpdateViewContext(ctx, m, "", v.Hash, v.ID); err != nil {
		return fmt.Errorf("update view: %w", err)
	}
	return nil
}

func (b *Bot) escalationSubmit(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	meta := cfgParseMeta(cb.View.PrivateMetadata)
	user, err := b.user(ctx, cb.User.ID)
	if err != nil {
		return nil, err
	}
	cur, err := b.config(ctx)
	if err != nil {
		return nil, err
	}
	f := readPolicyForm(&cb.View, meta)
	var existing *manifest.EscalationPolicy
	if meta.Name != "" {
		existing = findNamed(cur.Policies, meta.Name, func(x *manifest.EscalationPolicy) string { return x.Name })
		if existing == nil {
			return nil, fmt.Errorf("policy %s: %w", meta.Name, oncall.ErrNotFound)
		}
	}
	p, errs := f.parse(cur, existing)
	if len(errs) > 0 {
		return errs.response(), nil
	}
	plan, err := b.change(ctx, user, &manifest.Set{Policies: []*manifest.EscalationPolicy{p}})
	if err != nil {
		msg, ok := b.cfgApplyError(err)
		if !ok {
			return nil, err
		}
		errs := cfgErrors{}
		first := stepTargetsID(0)
		if existing == nil {
			first = "name"
		}
		errs.add(first, "%s", msg)
		return errs.response(), nil
	}
	b.cfgConfirm(ctx, meta.Channel, cb.User.ID, plan, manifest.KindEscalationPolicy, p.Name, "escalation policy "+p.Name)
	return nil, nil
}
