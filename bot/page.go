package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
)

// /oncall page @user|service|team <message>: a manual page through the
// engine (jobs ManualPage). With whom and what given, it pages at once
// (high urgency, the service's own policy); with either missing it opens
// a modal that asks for them, the urgency and an escalation policy. The
// modal's mistakes show next to its fields.

// Block IDs of the page modal: the fields of jobs' UserErrors, so the
// engine's own errors land next to the right field too.
const (
	pageTarget  = "target"
	pageSummary = "summary"
	pageUrgency = "urgency"
	pagePolicy  = "policy"
)

// pageTargetKinds prefix a target's option value: "user:alice".
var pageTargetKinds = []string{"user", "service", "team"}

// target is whom a manual page goes to.
type target struct{ kind, name string }

func (t target) String() string {
	if t.kind == "" {
		return ""
	}
	return t.kind + ":" + t.name
}

func (t target) request(actor, summary, urgency, policy string) jobs.ManualPageRequest {
	req := jobs.ManualPageRequest{Actor: actor, Summary: summary, Urgency: urgency, Policy: policy}
	switch t.kind {
	case "user":
		req.User = t.name
	case "service":
		req.Service = t.name
	case "team":
		req.Team = t.name
	}
	return req
}

// show is the target in a message.
func (t target) show(pp people) string {
	if t.kind == "user" {
		return pp.show(t.name)
	}
	return t.kind + " *" + kit.esc(t.name) + "*"
}

func (b *Bot) cmdPage(ctx context.Context, r *request) error {
	set, err := b.config(ctx)
	if err != nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
	}
	var to target
	if len(r.args) > 0 {
		var problem string
		to, problem, err = b.findTarget(ctx, set, r.args[0])
		if err != nil {
			return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
		}
		if problem != "" {
			return b.replyUsage(ctx, r, problem)
		}
	}
	message := afterFields(r.cmd.Text, 2)
	if to.kind == "" || message == "" {
		meta := pageMeta{ResponseURL: r.cmd.ResponseURL}
		if _, err := b.api.OpenViewContext(ctx, r.cmd.TriggerID, pageModal(set, to, message, meta)); err != nil {
			return fmt.Errorf("open the page modal: %w", err)
		}
		return nil
	}
	return b.replyText(ctx, r.cmd.ResponseURL, b.page(ctx, set, to, to.request(r.user, message, "", "")))
}

// page sends a manual page and says how it went (a mistake in its words).
func (b *Bot) page(ctx context.Context, set *manifest.Set, to target, req jobs.ManualPageRequest) string {
	in, err := b.engine.ManualPage(ctx, req)
	if err != nil {
		return b.userError(err)
	}
	return pagedText(set, to, in.ID, in.Urgency)
}

func pagedText(set *manifest.Set, to target, id int64, urgency string) string {
	return fmt.Sprintf(":rotating_light: Paged %s: incident #%d, %s urgency.", to.show(peopleOf(set)), id, urgency)
}

// findTarget is the user, service or team arg names: a Slack mention, a
// "user:alice"-style value, or a name (users first, then services, then
// teams). problem says why there is none.
func (b *Bot) findTarget(ctx context.Context, set *manifest.Set, arg string) (target, string, error) {
	if _, ok := mentionID(arg); ok {
		name, problem, err := b.findUser(ctx, set, arg)
		return target{"user", name}, problem, err
	}
	arg = strings.TrimLeft(arg, "@#")
	kind, name, typed := strings.Cut(arg, ":")
	if !typed {
		name = arg
	}
	for _, k := range pageTargetKinds {
		if typed && k != kind {
			continue
		}
		if n := findTargetName(set, k, name); n != "" {
			return target{k, n}, "", nil
		}
	}
	var all []string
	for _, k := range pageTargetKinds {
		all = append(all, targetNames(set, k)...)
	}
	return target{}, fmt.Sprintf("I know no user, service or team called `%s`%s.", kit.esc(name), cfgDidYouMean(name, all)), nil
}

func findTargetName(set *manifest.Set, kind, name string) string {
	names := targetNames(set, kind)
	return findNamed(names, name, func(s string) string { return s })
}

func targetNames(set *manifest.Set, kind string) []string {
	var out []string
	switch kind {
	case "user":
		for _, x := range set.Users {
			out = append(out, x.Name)
		}
	case "service":
		for _, x := range set.Services {
			out = append(out, x.Name)
		}
	case "team":
		for _, x := range set.Teams {
			out = append(out, x.Name)
		}
	}
	return out
}

// afterFields is text after its first n space-separated fields, trimmed,
// with its own spacing and line breaks kept.
func afterFields(text string, n int) string {
	s := strings.TrimSpace(text)
	for range n {
		i := strings.IndexAny(s, " \t\r\n")
		if i < 0 {
			return ""
		}
		s = strings.TrimSpace(s[i:])
	}
	return s
}

// pageMeta is the page modal's private metadata.
type pageMeta struct {
	ResponseURL string `json:"r,omitempty"` // the command's: the outcome is told there
}

// pageModal asks whom to page, about what, how urgently, and through
// which escalation policy.
func pageModal(set *manifest.Set, to target, message string, meta pageMeta) slack.ModalViewRequest {
	blocks := []slack.Block{
		pageTargetInput(set, to),
		cfgTextInput(pageSummary, "Message", message, "What is wrong, and what you need", "", false, true),
		cfgInput(pageUrgency, "Urgency", "", cfgRadio(manifest.UrgencyHigh,
			cfgOption(manifest.UrgencyHigh, "High: page now, by every means"),
			cfgOption(manifest.UrgencyLow, "Low: notify, no night calls")), false),
	}
	var policies []*slack.OptionBlockObject
	for _, p := range set.Policies {
		policies = append(policies, cfgOption(p.Name, ""))
	}
	hint := "A service is paged through its own policy unless you choose one. A user or team is paged directly; with a policy, it starts if nobody acknowledges."
	switch {
	case len(policies) == 0:
	case len(policies) <= maxOptions:
		blocks = append(blocks, cfgInput(pagePolicy, "Escalation policy", hint, cfgSelect("The service's own", "", policies...), true))
	default:
		blocks = append(blocks, cfgTextInput(pagePolicy, "Escalation policy", "", "The service's own", hint, true, false))
	}
	m, _ := json.Marshal(meta)
	v := cfgModal("page", "Page someone", cfgMeta{}, blocks)
	v.Submit = kit.plain("Page")
	v.PrivateMetadata = string(m)
	return v
}

// pageTargetInput is a select of every user, service and team, in groups,
// or a text field when they are more than a select holds.
func pageTargetInput(set *manifest.Set, to target) *slack.InputBlock {
	const label, hint = "Whom to page", "A user, a service (through its escalation policy) or a whole team"
	var groups []*slack.OptionGroupBlockObject
	var initial *slack.OptionBlockObject
	n := 0
	for _, k := range pageTargetKinds {
		var opts []*slack.OptionBlockObject
		for _, name := range targetNames(set, k) {
			o := cfgOption(target{k, name}.String(), name)
			if (target{k, name}) == to {
				initial = o
			}
			opts = append(opts, o)
		}
		n += len(opts)
		if len(opts) > 0 {
			groups = append(groups, slack.NewOptionGroupBlockElement(kit.plain(upperFirst(k)+"s"), opts...))
		}
	}
	if n > maxOptions || n == 0 {
		return cfgTextInput(pageTarget, label, to.name, "alice, payments-api or payments", hint, false, false)
	}
	el := slack.NewOptionsGroupSelectBlockElement(slack.OptTypeStatic, kit.plain("Choose"), cfgAction, groups...)
	el.InitialOption = initial
	return cfgInput(pageTarget, label, hint, el, false)
}

// pageSubmit checks the page modal and pages; mistakes go back next to
// their fields and keep the modal open.
func (b *Bot) pageSubmit(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	errs := cfgErrors{}
	user, err := b.user(ctx, cb.User.ID)
	if errors.Is(err, errNotOurs) {
		errs.add(pageTarget, "%s", notOursText(cb.User.ID))
		return errs.response(), nil
	}
	if err != nil {
		return nil, err
	}
	set, err := b.config(ctx)
	if err != nil {
		return nil, err
	}
	f := cfgForm{&cb.View}
	var to target
	if raw := strings.TrimSpace(f.value(pageTarget)); raw == "" {
		errs.add(pageTarget, "Choose whom to page.")
	} else {
		var problem string
		to, problem, err = b.findTarget(ctx, set, raw)
		if err != nil {
			return nil, err
		}
		if problem != "" {
			errs.add(pageTarget, "%s", strings.ReplaceAll(problem, "`", "\""))
		}
	}
	summary := strings.TrimSpace(f.value(pageSummary))
	if summary == "" {
		errs.add(pageSummary, "Say what the page is about.")
	}
	urgency := f.value(pageUrgency)
	policy := strings.TrimSpace(f.value(pagePolicy))
	if policy != "" {
		if p := findNamed(set.Policies, policy, func(x *manifest.EscalationPolicy) string { return x.Name }); p != nil {
			policy = p.Name
		} else {
			var names []string
			for _, p := range set.Policies {
				names = append(names, p.Name)
			}
			errs.add(pagePolicy, "There is no escalation policy %q%s.", policy, cfgDidYouMean(policy, names))
		}
	}
	if len(errs) > 0 {
		return errs.response(), nil
	}
	req := to.request(user, summary, urgency, policy)
	in, err := b.engine.ManualPage(ctx, req)
	var ue *oncall.UserError
	if errors.As(err, &ue) {
		field := ue.Field
		if field != pageSummary && field != pageUrgency && field != pagePolicy {
			field = pageTarget
		}
		errs.add(field, "%s", upperFirst(ue.Msg)+".")
		return errs.response(), nil
	}
	if err != nil {
		return nil, err
	}
	var meta pageMeta
	_ = json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta) // ours; garbage reads as none
	if meta.ResponseURL != "" {
		text := pagedText(set, to, in.ID, in.Urgency)
		b.work(ctx, "page confirmation", func(ctx context.Context) error { return b.replyText(ctx, meta.ResponseURL, text) })
	}
	return nil, nil
}
