package bot

// /oncall rules: the alert rules, grouped by the service they send alerts
// to, each with a button that turns its paging off or on and an Edit
// button; and the modal that edits a rule (match conditions, service_from,
// service, page, urgency) or creates one. Rules are evaluated in order, so
// each shows its place; a save writes every rule back in the same order
// (store.ApplyConfig puts the rules it is given first), but only the rule
// changed is checked for permission: the admins of its service's team.

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
	"github.com/oncall/oncall/store"
)

// Action IDs of the rules surfaces.
const (
	actRuleToggle = "rules_toggle" // value "on:<rule>" or "off:<rule>": the state wanted
	actRuleEdit   = "rules_edit"
	actRuleNew    = "rules_new"
	actRulePage   = "rules_page" // value: the page's first index
)

// rulesPerPage keeps a page of the list under Slack's 50 blocks: two
// blocks a rule, one per service heading.
const rulesPerPage = 15

func (b *Bot) cmdRules(ctx context.Context, r *request) error {
	if len(r.args) > 0 {
		return b.replyUsage(ctx, r, "")
	}
	set, err := b.config(ctx)
	if err != nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
	}
	return b.replyBlocks(ctx, r.cmd.ResponseURL, "Alert rules", rulesBlocks(set, 0))
}

// ---- rendering

// rulesOrder is the order the list shows rules in: grouped by service, the
// services in the order of their first rule, each group in evaluation
// order. The ints are the rules' places in evaluation order.
func rulesOrder(set *manifest.Set) []int {
	var services []string
	for _, r := range set.AlertRules {
		if !slices.Contains(services, r.Service) {
			services = append(services, r.Service)
		}
	}
	var out []int
	for _, s := range services {
		for i, r := range set.AlertRules {
			if r.Service == s {
				out = append(out, i)
			}
		}
	}
	return out
}

// rulesBlocks is one page of the list, from the from-th rule shown.
func rulesBlocks(set *manifest.Set, from int) []slack.Block {
	blocks := []slack.Block{kit.header("Alert rules")}
	order := rulesOrder(set)
	newButton := kit.button(actRuleNew, "", "New rule")
	if len(order) == 0 {
		return append(blocks, kit.section("There are no alert rules: every alert pages its integration's service, at high urgency."),
			slack.NewActionBlock("rules_actions", newButton))
	}
	from = max(0, min(from, len(order)-1))
	from -= from % rulesPerPage
	to := min(from+rulesPerPage, len(order))
	blocks = append(blocks, kit.context("Rules are tried in order (#); the first that matches an alert decides its service, urgency and whether it pages. An alert no rule matches pages its integration's service."))
	group := "\x00"
	for _, i := range order[from:to] {
		r := set.AlertRules[i]
		if r.Service != group {
			group = r.Service
			title := "*Service " + kit.esc(r.Service) + "*"
			if r.Service == "" {
				title = "*No default service* (alerts stay with their integration's service)"
			}
			blocks = append(blocks, kit.section(title))
		}
		blocks = append(blocks, kit.section(ruleText(r, i)))
		toggle := kit.button(actRuleToggle, "off:"+r.Name, "Turn paging off")
		toggle.Style = slack.StyleDanger
		if !r.Page {
			toggle = kit.button(actRuleToggle, "on:"+r.Name, "Turn paging on")
			toggle.Style = slack.StylePrimary
		}
		blocks = append(blocks, slack.NewActionBlock("rule_"+strconv.Itoa(i), toggle, kit.button(actRuleEdit, r.Name, "Edit")))
	}
	nav := []slack.BlockElement{newButton}
	if from > 0 {
		nav = append(nav, kit.button(actRulePage, strconv.Itoa(from-rulesPerPage), "Previous page"))
	}
	if to < len(order) {
		nav = append(nav, kit.button(actRulePage, strconv.Itoa(to), "Next page"))
	}
	if len(order) > rulesPerPage {
		blocks = append(blocks, kit.context(fmt.Sprintf("Rules %d–%d of %d.", from+1, to, len(order))))
	}
	return append(blocks, slack.NewActionBlock("rules_actions", nav...))
}

// ruleText describes a rule: its place, name, what it does and matches.
func ruleText(r *manifest.AlertRule, i int) string {
	does := ":bell: pages, " + r.Urgency + " urgency"
	if !r.Page {
		does = ":no_bell: paging off: records the alert, pages nobody"
	}
	lines := []string{fmt.Sprintf("#%d *%s*  ·  %s", i+1, kit.esc(r.Name), does)}
	var match []string
	if len(r.Match.Severity) > 0 {
		match = append(match, "severity "+codes(r.Match.Severity))
	}
	if len(r.Match.Summary) > 0 {
		match = append(match, "summary "+codes(r.Match.Summary))
	}
	for _, f := range []struct {
		what string
		m    map[string][]string
	}{{"label", r.Match.Labels}, {"annotation", r.Match.Annotations}} {
		keys := make([]string, 0, len(f.m))
		for k := range f.m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			match = append(match, f.what+" "+cfgCode(k)+" = "+codes(f.m[k]))
		}
	}
	if len(match) == 0 {
		lines = append(lines, "Matches every alert")
	} else {
		lines = append(lines, "Matches "+strings.Join(match, "; "))
	}
	var more []string
	if len(r.Integrations) > 0 {
		more = append(more, "from "+codes(r.Integrations))
	}
	if r.ServiceFrom != "" {
		s := "service from " + cfgCode(r.ServiceFrom)
		if r.Service != "" {
			s += ", else *" + kit.esc(r.Service) + "*"
		}
		more = append(more, s)
	}
	if len(more) > 0 {
		lines = append(lines, upperFirst(strings.Join(more, " · ")))
	}
	return strings.Join(lines, "\n")
}

// codes writes values as code spans, "or" between them.
func codes(list []string) string {
	var out []string
	for _, s := range list {
		out = append(out, cfgCode(s))
	}
	return strings.Join(out, " or ")
}

// ---- the form

// ruleForm is the edit modal as strings.
type ruleForm struct {
	Name         string // a new rule's name
	Service      string // noTeam (no default service) or a service
	Integrations string // comma-separated
	Severity     string // comma-separated
	Summary      string // one pattern a line
	Labels       string // key=pattern, one a line
	Annotations  string
	ServiceFrom  string
	Page         string // "true" | "false"
	Urgency      string
}

func ruleFormOf(r *manifest.AlertRule) ruleForm {
	if r == nil {
		return ruleForm{Service: noTeam, Page: "true", Urgency: manifest.UrgencyHigh}
	}
	f := ruleForm{
		Service:      r.Service,
		Integrations: strings.Join(r.Integrations, ", "),
		Severity:     strings.Join(r.Match.Severity, ", "),
		Summary:      strings.Join(r.Match.Summary, "\n"),
		Labels:       patternLines(r.Match.Labels),
		Annotations:  patternLines(r.Match.Annotations),
		ServiceFrom:  r.ServiceFrom,
		Page:         strconv.FormatBool(r.Page),
		Urgency:      r.Urgency,
	}
	if f.Service == "" {
		f.Service = noTeam
	}
	return f
}

func patternLines(m map[string][]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var lines []string
	for _, k := range keys {
		for _, p := range m[k] {
			lines = append(lines, k+"="+p)
		}
	}
	return strings.Join(lines, "\n")
}

func readRuleForm(v *slack.View) ruleForm {
	f := cfgForm{v}
	return ruleForm{
		Name: strings.TrimSpace(f.value("name")), Service: f.value("service"),
		Integrations: f.value("integrations"), Severity: f.value("severity"), Summary: f.value("summary"),
		Labels: f.value("labels"), Annotations: f.value("annotations"), ServiceFrom: strings.TrimSpace(f.value("service_from")),
		Page: f.value("page"), Urgency: f.value("urgency"),
	}
}

// ruleModal renders the form; meta.Name "" creates a rule.
func ruleModal(set *manifest.Set, meta cfgMeta, f ruleForm) slack.ModalViewRequest {
	title := "Edit alert rule"
	var blocks []slack.Block
	if meta.Name == "" {
		title = "New alert rule"
		blocks = append(blocks, cfgTextInput("name", "Name", f.Name, "e.g. db-warnings", "Lowercase letters, digits, . _ and -. A new rule is tried after the others.", false, false))
	} else {
		blocks = append(blocks, slack.NewSectionBlock(cfgMrkdwn("Alert rule *"+cfgEsc(meta.Name)+"*. Every condition filled in must hold; a field with several values matches any of them; a value starting with `~` is a regular expression."), nil, nil))
	}
	if len(set.Services) < cfgMaxOptions {
		opts := []*slack.OptionBlockObject{cfgOption(noTeam, "None: keep the integration's service")}
		for _, s := range set.Services {
			opts = append(opts, cfgOption(s.Name, ""))
		}
		blocks = append(blocks, cfgInput("service", "Service", "Where matching alerts go (unless service from finds one).", cfgSelect("Choose a service", f.Service, opts...), false))
	} else {
		blocks = append(blocks, cfgTextInput("service", "Service", f.Service, "a service name", "Where matching alerts go; - for none.", false, false))
	}
	blocks = append(blocks,
		cfgTextInput("integrations", "Integrations", f.Integrations, "payments-prometheus, payments-grafana", "Comma-separated; empty: alerts from every integration.", true, false),
		cfgTextInput("severity", "Severity", f.Severity, "critical, error", "Comma-separated: critical, error, warning, info or ~regex. Empty: any.", true, false),
		cfgTextInput("summary", "Summary", f.Summary, "~.*disk full.*", "One pattern a line. Empty: any.", true, true),
		cfgTextInput("labels", "Labels", f.Labels, "env=prod\nteam=~payments.*", "One key=pattern a line; a key on several lines matches any of them.", true, true),
		cfgTextInput("annotations", "Annotations", f.Annotations, "runbook=~.+", "One key=pattern a line.", true, true),
		cfgTextInput("service_from", "Service from", f.ServiceFrom, "labels.service", "Read the service from the alert: labels.<key> or annotations.<key>.", true, false),
		cfgInput("page", "Paging", "", cfgRadio(f.Page,
			cfgOption("true", "Page: run the service's escalation policy"),
			cfgOption("false", "Don't page: record and show the alert only")), false),
		cfgInput("urgency", "Urgency", "", cfgRadio(f.Urgency, cfgOption(manifest.UrgencyHigh, "High"), cfgOption(manifest.UrgencyLow, "Low")), false),
	)
	return cfgModal("rules", title, meta, blocks)
}

// parse turns the form into a rule, with errors by block; existing is the
// rule edited (nil when creating one).
func (f ruleForm) parse(cur *manifest.Set, existing *manifest.AlertRule) (*manifest.AlertRule, cfgErrors) {
	errs := cfgErrors{}
	r := &manifest.AlertRule{Page: f.Page != "false", Urgency: f.Urgency, ServiceFrom: f.ServiceFrom}
	if existing != nil {
		r.Name = existing.Name
	} else {
		r.Name = f.Name
		switch {
		case !oncall.ValidName(f.Name):
			errs.add("name", "Use lowercase letters, digits, . _ and - (starting with a letter or digit).")
		case slices.ContainsFunc(cur.AlertRules, func(x *manifest.AlertRule) bool { return x.Name == f.Name }):
			errs.add("name", "A rule called %s exists already.", f.Name)
		}
	}
	if s := strings.TrimSpace(f.Service); s != noTeam && s != "" {
		r.Service = s
	}
	if r.Urgency == "" {
		r.Urgency = manifest.UrgencyHigh
	}
	var integrations []string
	for _, s := range cur.Services {
		for _, in := range s.Integrations {
			integrations = append(integrations, in.Name)
		}
	}
	for _, in := range cfgSplitList(f.Integrations) {
		switch {
		case !slices.Contains(integrations, in):
			errs.add("integrations", "No integration is called %s%s.", in, cfgDidYouMean(in, integrations))
		case slices.Contains(r.Integrations, in):
			errs.add("integrations", "%s is listed twice.", in)
		}
		r.Integrations = append(r.Integrations, in)
	}
	r.Match.Severity = cfgSplitList(f.Severity)
	r.Match.Summary = cfgSplitLines(f.Summary)
	r.Match.Labels = parsePatternLines(errs, "labels", f.Labels)
	r.Match.Annotations = parsePatternLines(errs, "annotations", f.Annotations)
	if len(errs) > 0 {
		return nil, errs
	}
	// The manifest's checks place their errors by the key they name.
	for _, msg := range cfgCheckManifest(cur, &manifest.Set{AlertRules: []*manifest.AlertRule{r}}) {
		cfgPlace(errs, msg, "severity", "service_from", "service_from", "service", "service", "severity", "severity",
			"summary", "summary", "labels", "labels", "annotations", "annotations", "integrations", "integrations", "urgency", "urgency")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

// parsePatternLines reads key=pattern lines.
func parsePatternLines(errs cfgErrors, blockID, text string) map[string][]string {
	var out map[string][]string
	for _, l := range cfgSplitLines(text) {
		k, v, ok := strings.Cut(l, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			errs.add(blockID, "Write one key=pattern a line (not %q).", cfgTrunc(l, 60))
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		if !slices.Contains(out[k], v) {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// ---- interactivity

func (b *Bot) rulesAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	switch a.ActionID {
	case actRulePage:
		from, _ := strconv.Atoi(a.Value)
		set, err := b.config(ctx)
		if err != nil {
			return err
		}
		return b.replaceRules(ctx, cb, set, from)
	case actRuleToggle:
		return b.toggleRule(ctx, cb, a.Value)
	case actRuleEdit, actRuleNew:
		return b.openRuleModal(ctx, cb, a.ActionID == actRuleNew, a.Value)
	}
	return nil
}

// replaceRules shows the list again in place of the clicked one.
func (b *Bot) replaceRules(ctx context.Context, cb slack.InteractionCallback, set *manifest.Set, from int) error {
	return b.reply(ctx, cb.ResponseURL, &slack.WebhookMessage{Text: "Alert rules", ReplaceOriginal: true,
		Blocks: &slack.Blocks{BlockSet: rulesBlocks(set, from)}})
}

// toggleRule turns a rule's paging on or off (value "on:name" or
// "off:name": a second click of a stale button changes nothing).
func (b *Bot) toggleRule(ctx context.Context, cb slack.InteractionCallback, value string) error {
	say := func(text string) error { return b.reply(ctx, cb.ResponseURL, &slack.WebhookMessage{Text: text}) }
	state, name, _ := strings.Cut(value, ":")
	user, err := b.user(ctx, cb.User.ID)
	if errors.Is(err, errNotOurs) {
		return say(notOursText(cb.User.ID))
	}
	if err != nil {
		return err
	}
	set, err := b.config(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(set.AlertRules, func(r *manifest.AlertRule) bool { return r.Name == name })
	if i < 0 {
		return say(fmt.Sprintf("Alert rule %s no longer exists.", cfgCode(name)))
	}
	r := *set.AlertRules[i]
	r.Page = state == "on"
	if _, err := b.changeRule(ctx, user, &r); err != nil {
		if msg, ok := b.cfgApplyError(err); ok {
			return say(msg)
		}
		return err
	}
	if set, err = b.config(ctx); err != nil {
		return err
	}
	return b.replaceRules(ctx, cb, set, slices.Index(rulesOrder(set), i))
}

// changeRule saves one rule (new ones go last) for actor, an admin of the
// team of its service (as it is and as it would be), keeping the order of
// every rule. It reads and writes under apply's lock (changeLocked), so
// the other rules written back are current, not a stale copy.
func (b *Bot) changeRule(ctx context.Context, actor string, r *manifest.AlertRule) (*store.Plan, error) {
	return b.changeLocked(ctx, actor, func(cur *manifest.Set) (*manifest.Set, error) {
		for _, team := range owningTeams(cur, &manifest.Set{AlertRules: []*manifest.AlertRule{r}}) {
			if !administers(cur, actor, team) {
				if team == "" {
					return nil, fmt.Errorf("%w: only a team admin may change an alert rule without a team's service", oncall.ErrForbidden)
				}
				return nil, fmt.Errorf("%w: only an admin of team %s may change this rule", oncall.ErrForbidden, team)
			}
		}
		rules := slices.Clone(cur.AlertRules)
		if i := slices.IndexFunc(rules, func(x *manifest.AlertRule) bool { return x.Name == r.Name }); i >= 0 {
			rules[i] = r
		} else {
			rules = append(rules, r)
		}
		return &manifest.Set{AlertRules: rules}, nil
	})
}

// openRuleModal opens the edit (or new) rule modal for an admin of the
// rule's service's team; anyone else is told why not.
func (b *Bot) openRuleModal(ctx context.Context, cb slack.InteractionCallback, create bool, name string) error {
	refuse := func(text string) error { return b.reply(ctx, cb.ResponseURL, &slack.WebhookMessage{Text: text}) }
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
	var r *manifest.AlertRule
	if create {
		if len(adminTeams(set, user)) == 0 {
			return refuse("Only a team admin may create an alert rule.")
		}
	} else {
		r = findNamed(set.AlertRules, name, func(x *manifest.AlertRule) string { return x.Name })
		if r == nil {
			return refuse(fmt.Sprintf("Alert rule %s no longer exists.", cfgCode(name)))
		}
		for _, team := range owningTeams(set, &manifest.Set{AlertRules: []*manifest.AlertRule{r}}) {
			if !administers(set, user, team) {
				if team == "" {
					return refuse(fmt.Sprintf("Only a team admin may change alert rule %s.", cfgCode(r.Name)))
				}
				return refuse(fmt.Sprintf("Only an admin of team %s may change alert rule %s.", cfgCode(team), cfgCode(r.Name)))
			}
		}
		meta.Name = r.Name
	}
	if _, err := b.api.OpenViewContext(ctx, cb.TriggerID, ruleModal(set, meta, ruleFormOf(r))); err != nil {
		return fmt.Errorf("open rule modal: %w", err)
	}
	return nil
}

func (b *Bot) rulesSubmit(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	meta := cfgParseMeta(cb.View.PrivateMetadata)
	user, err := b.user(ctx, cb.User.ID)
	if err != nil {
		return nil, err
	}
	cur, err := b.config(ctx)
	if err != nil {
		return nil, err
	}
	var existing *manifest.AlertRule
	if meta.Name != "" {
		existing = findNamed(cur.AlertRules, meta.Name, func(x *manifest.AlertRule) string { return x.Name })
		if existing == nil {
			return nil, fmt.Errorf("alert rule %s: %w", meta.Name, oncall.ErrNotFound)
		}
	}
	r, errs := readRuleForm(&cb.View).parse(cur, existing)
	if len(errs) > 0 {
		return errs.response(), nil
	}
	plan, err := b.changeRule(ctx, user, r)
	if err != nil {
		msg, ok := b.cfgApplyError(err)
		if !ok {
			return nil, err
		}
		errs := cfgErrors{}
		errs.add("service", "%s", msg)
		return errs.response(), nil
	}
	b.cfgConfirm(ctx, meta.Channel, cb.User.ID, plan, manifest.KindAlertRule, r.Name, "alert rule "+r.Name)
	return nil, nil
}
