package bot

// /oncall contact: a modal of MY contact methods (sms, voice, email) and
// notification rules (after a delay since a page, notify these methods),
// with a "send me a test" button per saved method (Engine.SendTest). It
// edits the user who runs it and nobody else: a submission is saved for
// the Slack user who submits, and refused when the modal was another's.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
)

// Action IDs of the contact modal.
const (
	actContactTest      = "contact_test" // value: the method's name ("slack" or a saved method)
	actContactAddMethod = "contact_addmethod"
	actContactAddRule   = "contact_addrule"
)

// Rows of the modal: 4 blocks a method, 2 a rule, under 100 in all.
const (
	maxContactMethods = 10
	maxNotifyRules    = 10
)

func methodNameID(i int) string { return "cm_" + strconv.Itoa(i) + "_name" }
func methodTypeID(i int) string { return "cm_" + strconv.Itoa(i) + "_type" }
func methodAddrID(i int) string { return "cm_" + strconv.Itoa(i) + "_address" }
func ruleAfterID(i int) string  { return "nr_" + strconv.Itoa(i) + "_after" }
func ruleNotifyID(i int) string { return "nr_" + strconv.Itoa(i) + "_notify" }

func (b *Bot) cmdContact(ctx context.Context, r *request) error {
	if len(r.args) > 0 {
		return b.replyUsage(ctx, r, "`/oncall contact` changes your own contact methods only.")
	}
	u, err := b.engine.User(ctx, r.user)
	if err != nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
	}
	if u == nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(errNotOurs))
	}
	if len(u.ContactMethods) > maxContactMethods || len(u.NotificationRules) > maxNotifyRules {
		return b.replyText(ctx, r.cmd.ResponseURL, fmt.Sprintf("You have more contact methods or notification rules than this form holds (%d of each): change them with `oncall apply`.", maxContactMethods))
	}
	meta := cfgMeta{Name: u.Name, Channel: r.cmd.ChannelID}
	for _, c := range u.ContactMethods {
		meta.Saved = append(meta.Saved, c.Name)
	}
	if _, err := b.api.OpenViewContext(ctx, r.cmd.TriggerID, contactModal(meta, contactFormOf(u), nil)); err != nil {
		return fmt.Errorf("open contact modal: %w", err)
	}
	return nil
}

// ---- the form

// contactForm is the modal as strings.
type contactForm struct {
	Methods []methodForm
	Rules   []notifyRuleForm
}

type methodForm struct{ Name, Type, Address string }

type notifyRuleForm struct{ After, Notify string }

func contactFormOf(u *manifest.User) contactForm {
	var f contactForm
	for _, c := range u.ContactMethods {
		f.Methods = append(f.Methods, methodForm{Name: c.Name, Type: c.Type, Address: c.Address})
	}
	for _, r := range u.NotificationRules {
		f.Rules = append(f.Rules, notifyRuleForm{After: oncall.FormatDuration(r.After), Notify: strings.Join(r.Notify, ", ")})
	}
	if len(f.Methods) == 0 {
		f.Methods = []methodForm{{}}
	}
	if len(f.Rules) == 0 {
		f.Rules = []notifyRuleForm{{After: "0s", Notify: manifest.NotifySlack}}
	}
	return f
}

func readContactForm(v *slack.View, meta cfgMeta) contactForm {
	f := cfgForm{v}
	var cf contactForm
	for i := range min(meta.Rows, maxContactMethods) {
		cf.Methods = append(cf.Methods, methodForm{Name: strings.TrimSpace(f.value(methodNameID(i))),
			Type: f.value(methodTypeID(i)), Address: strings.TrimSpace(f.value(methodAddrID(i)))})
	}
	for i := range min(meta.Rows2, maxNotifyRules) {
		cf.Rules = append(cf.Rules, notifyRuleForm{After: f.value(ruleAfterID(i)), Notify: f.value(ruleNotifyID(i))})
	}
	return cf
}

// contactModal renders the form; status says, by method name, how its
// last test went.
func contactModal(meta cfgMeta, f contactForm, status map[string]string) slack.ModalViewRequest {
	meta.Rows, meta.Rows2 = len(f.Methods), len(f.Rules)
	testNote := func(method string) []slack.Block {
		if s := status[method]; s != "" {
			return []slack.Block{slack.NewContextBlock("", cfgMrkdwn(s))}
		}
		return nil
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(cfgMrkdwn("How pages reach you. Besides the methods below, `slack` (a DM from this app) and `push` (phones paired with `/oncall mobile`) are always there."), nil, nil),
		slack.NewActionBlock("contact_test_slack", cfgButton(actContactTest, manifest.NotifySlack, "Send me a test on Slack")),
	}
	blocks = append(blocks, testNote(manifest.NotifySlack)...)
	blocks = append(blocks, slack.NewSectionBlock(cfgMrkdwn("*Contact methods*\nPhone numbers in international form (+14155550100). Clear a name to remove the method."), nil, nil))
	typeOpts := []*slack.OptionBlockObject{cfgOption(manifest.ContactSMS, "SMS"), cfgOption(manifest.ContactVoice, "Voice call"), cfgOption(manifest.ContactEmail, "Email")}
	for i, m := range f.Methods {
		blocks = append(blocks,
			cfgTextInput(methodNameID(i), "Name", m.Name, "e.g. cell", "How notification rules name it.", true, false),
			cfgInput(methodTypeID(i), "Type", "", cfgSelect("Choose", m.Type, typeOpts...), true),
			cfgTextInput(methodAddrID(i), "Number or address", m.Address, "+14155550100 or me@example.com", "", true, false),
		)
		if i < len(meta.Saved) && meta.Saved[i] != "" {
			saved := meta.Saved[i]
			blocks = append(blocks, slack.NewActionBlock("contact_test_"+strconv.Itoa(i), cfgButton(actContactTest, saved, cfgTrunc("Send me a test by "+saved, 75))))
			blocks = append(blocks, testNote(saved)...)
		}
	}
	if len(f.Methods) < maxContactMethods {
		blocks = append(blocks, slack.NewActionBlock("contact_add_method", cfgButton(actContactAddMethod, "", "Add a contact method")))
	}
	blocks = append(blocks, slack.NewDividerBlock(),
		slack.NewSectionBlock(cfgMrkdwn("*Notification rules*\nWhen you are paged: after each delay, notify these methods (until someone acknowledges). Clear a rule's methods to remove it."), nil, nil))
	for i, r := range f.Rules {
		blocks = append(blocks,
			cfgTextInput(ruleAfterID(i), "After", r.After, "0s", "Since the page: e.g. 0s, 2m, 5m.", true, false),
			cfgTextInput(ruleNotifyID(i), "Notify", r.Notify, "slack, push, cell", "Comma-separated method names.", true, false),
		)
	}
	if len(f.Rules) < maxNotifyRules {
		blocks = append(blocks, slack.NewActionBlock("contact_add_rule", cfgButton(actContactAddRule, "", "Add a rule")))
	}
	return cfgModal("contact", "Your contact methods", meta, blocks)
}

// parse applies the form to u (a copy comes back), with errors by block.
// Each row is also checked as a manifest would be, alone, so the
// manifest's error lands next to its row.
func (f contactForm) parse(cur *manifest.Set, u *manifest.User) (*manifest.User, cfgErrors) {
	errs := cfgErrors{}
	out := *u
	out.ContactMethods, out.NotificationRules = nil, nil
	names := []string{manifest.NotifySlack, manifest.NotifyPush}
	for i, m := range f.Methods {
		before := len(errs)
		if m.Name == "" {
			continue // removed
		}
		switch {
		case m.Name == manifest.NotifySlack || m.Name == manifest.NotifyPush:
			errs.add(methodNameID(i), "%s is built in: give this method another name.", m.Name)
		case !oncall.ValidName(m.Name):
			errs.add(methodNameID(i), "Use lowercase letters, digits, . _ and - (starting with a letter or digit).")
		case slices.Contains(names, m.Name):
			errs.add(methodNameID(i), "Another method is called %s.", m.Name)
		}
		if m.Type == "" {
			errs.add(methodTypeID(i), "Choose SMS, voice or email.")
		}
		if m.Address == "" {
			errs.add(methodAddrID(i), "Give the number or address.")
		}
		names = append(names, m.Name)
		c := manifest.ContactMethod{Name: m.Name, Type: m.Type, Address: m.Address}
		if len(errs) == before {
			one := *u
			one.ContactMethods, one.NotificationRules = []manifest.ContactMethod{c}, nil
			for _, msg := range cfgCheckManifest(cur, &manifest.Set{Users: []*manifest.User{&one}}) {
				cfgPlace(errs, msg, methodAddrID(i), "address", methodAddrID(i), "type", methodTypeID(i), "name", methodNameID(i))
			}
		}
		out.ContactMethods = append(out.ContactMethods, c)
	}
	for i, r := range f.Rules {
		notify := cfgSplitList(r.Notify)
		if len(notify) == 0 {
			continue
		}
		after, err := cfgDuration(r.After, 0, 0)
		if err != nil {
			errs.add(ruleAfterID(i), "%s", upperFirst(err.Error())+".")
		}
		var list []string
		for _, n := range notify {
			switch {
			case !slices.Contains(names, n):
				errs.add(ruleNotifyID(i), "You have no method called %s%s: use slack, push or one of your contact methods.", n, cfgDidYouMean(n, names))
			case slices.Contains(list, n):
				errs.add(ruleNotifyID(i), "%s is listed twice.", n)
			default:
				list = append(list, n)
			}
		}
		out.NotificationRules = append(out.NotificationRules, manifest.NotificationRule{After: after, Notify: list})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(out.NotificationRules) == 0 {
		errs.add(ruleNotifyID(0), "Keep at least one rule, or pages will not reach you.")
		return nil, errs
	}
	for _, msg := range cfgCheckManifest(cur, &manifest.Set{Users: []*manifest.User{&out}}) {
		cfgPlace(errs, msg, ruleNotifyID(0), "after", ruleAfterID(0))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &out, nil
}

// ---- interactivity

func (b *Bot) contactAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	meta := cfgParseMeta(cb.View.PrivateMetadata)
	f := readContactForm(&cb.View, meta)
	var status map[string]string
	switch a.ActionID {
	case actContactAddMethod:
		if len(f.Methods) < maxContactMethods {
			f.Methods = append(f.Methods, methodForm{})
		}
	case actContactAddRule:
		if len(f.Rules) < maxNotifyRules {
			f.Rules = append(f.Rules, notifyRuleForm{})
		}
	case actContactTest:
		status = map[string]string{a.Value: b.sendTest(ctx, cb.User.ID, a.Value)}
	default:
		return nil
	}
	return b.updateView(ctx, cb.View, contactModal(meta, f, status))
}

// sendTest sends the clicking user a test page by one of their methods and
// says how it went.
func (b *Bot) sendTest(ctx context.Context, slackUser, method string) string {
	user, err := b.user(ctx, slackUser)
	if err != nil {
		return ":x: " + b.userError(err)
	}
	at := b.clock.Now().In(b.location(ctx, slackUser, user)).Format("15:04")
	err = b.engine.SendTest(ctx, user, method)
	var ue *oncall.UserError
	switch {
	case err == nil:
		return fmt.Sprintf(":white_check_mark: Test sent by %s at %s. Nothing to acknowledge.", cfgCode(method), at)
	case errors.As(err, &ue):
		return ":x: " + cfgEsc(upperFirst(ue.Msg)) + "."
	case errors.Is(err, notify.ErrOff):
		return fmt.Sprintf(":x: %s is not set up on this server, so pages cannot use it.", cfgCode(method))
	case errors.Is(err, oncall.ErrNotFound):
		return ":x: " + b.userError(errNotOurs)
	}
	b.log.Warn().Err(err).Str("method", method).Msg("test notification failed")
	return fmt.Sprintf(":x: The test by %s failed at %s: the provider refused it or could not be reached.", cfgCode(method), at)
}

func (b *Bot) contactSubmit(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	meta := cfgParseMeta(cb.View.PrivateMetadata)
	user, err := b.user(ctx, cb.User.ID)
	if err != nil {
		return nil, err
	}
	if meta.Name != user {
		return cfgErrors{methodNameID(0): "You can change only your own contact methods: run /oncall contact yourself."}.response(), nil
	}
	cur, err := b.config(ctx)
	if err != nil {
		return nil, err
	}
	u := findNamed(cur.Users, user, func(x *manifest.User) string { return x.Name })
	if u == nil || u.Name != user {
		return nil, errNotOurs
	}
	nu, errs := readContactForm(&cb.View, meta).parse(cur, u)
	if len(errs) > 0 {
		return errs.response(), nil
	}
	// Their own user object only: no team admin check. The rest of the
	// user is taken as it is under apply's lock, so a change made to it
	// meanwhile (say an apply of their slack_id) is kept.
	plan, err := b.changeLocked(ctx, user, func(cur *manifest.Set) (*manifest.Set, error) {
		now := findNamed(cur.Users, user, func(x *manifest.User) string { return x.Name })
		if now == nil || now.Name != user {
			return nil, errNotOurs
		}
		mine := *now
		mine.ContactMethods, mine.NotificationRules = nu.ContactMethods, nu.NotificationRules
		return &manifest.Set{Users: []*manifest.User{&mine}}, nil
	})
	if err != nil {
		msg, ok := b.cfgApplyError(err)
		if !ok {
			return nil, err
		}
		return cfgErrors{methodNameID(0): msg}.response(), nil
	}
	b.cfgConfirm(ctx, meta.Channel, cb.User.ID, plan, manifest.KindUser, user, "your contact methods")
	return nil, nil
}
