package bot

// What the configuration modals of escalation.go, rules.go and contact.go
// share: Block Kit builders, reading a submitted (or clicked) view back
// into strings, private metadata, the manifest check of what a modal
// built, and the placement of errors next to the fields.
//
// Every modal is a form of plain strings: built from the configuration,
// rendered, read back from the view's state (a value Slack did not send
// falls back to the element's initial value), and parsed into manifest
// objects with an error per block. The "add a row" buttons re-render the
// form read back from the clicked view with one more row, so what the user
// typed survives.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

// Slack's limits that the modals and messages here respect.
const (
	cfgMaxModalBlocks   = 100
	cfgMaxMessageBlocks = 50
	cfgMaxText          = 3000 // section text, input initial_value
	cfgMaxPlaceholder   = 150
	cfgMaxOptions       = 100 // static_select
)

func cfgPlain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, cfgTrunc(s, 150), false, false)
}

func cfgMrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, cfgTrunc(s, cfgMaxText), false, false)
}

// cfgEsc escapes Slack's control characters &, < and > in text from the
// configuration or from users.
func cfgEsc(s string) string { return slackutilsx.EscapeMessage(s) }

// cfgCode is s as an inline code span (backquotes inside become quotes).
func cfgCode(s string) string { return "`" + cfgEsc(strings.ReplaceAll(s, "`", "'")) + "`" }

// cfgTrunc shortens s to at most n characters, ending in "…" when cut.
func cfgTrunc(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// cfgTextInput is an input block with a plain-text input (action_id "v").
func cfgTextInput(blockID, label, initial, placeholder, hint string, optional, multiline bool) *slack.InputBlock {
	var ph *slack.TextBlockObject
	if placeholder != "" {
		ph = slack.NewTextBlockObject(slack.PlainTextType, cfgTrunc(placeholder, cfgMaxPlaceholder), false, false)
	}
	el := slack.NewPlainTextInputBlockElement(ph, cfgAction)
	el.InitialValue = cfgTrunc(initial, cfgMaxText)
	el.Multiline = multiline
	return cfgInput(blockID, label, hint, el, optional)
}

// cfgAction is the action_id of every input of the modals here: the
// block_id says which field it is.
const cfgAction = "v"

func cfgInput(blockID, label, hint string, el slack.BlockElement, optional bool) *slack.InputBlock {
	var h *slack.TextBlockObject
	if hint != "" {
		h = slack.NewTextBlockObject(slack.PlainTextType, cfgTrunc(hint, 2000), false, false)
	}
	in := slack.NewInputBlock(blockID, slack.NewTextBlockObject(slack.PlainTextType, cfgTrunc(label, 2000), false, false), h, el)
	in.Optional = optional
	return in
}

// cfgOption is a select or radio option whose text is its value unless
// text is given.
func cfgOption(value, text string) *slack.OptionBlockObject {
	if text == "" {
		text = value
	}
	return slack.NewOptionBlockObject(value, slack.NewTextBlockObject(slack.PlainTextType, cfgTrunc(text, 75), false, false), nil)
}

// cfgSelect is a static select of options with the one whose value is
// initial chosen (none when "").
func cfgSelect(placeholder string, initial string, options ...*slack.OptionBlockObject) *slack.SelectBlockElement {
	el := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, cfgPlain(placeholder), cfgAction, options...)
	for _, o := range options {
		if o.Value == initial {
			el.InitialOption = o
		}
	}
	return el
}

// cfgRadio is a radio group with the option whose value is initial chosen.
func cfgRadio(initial string, options ...*slack.OptionBlockObject) *slack.RadioButtonsBlockElement {
	el := slack.NewRadioButtonsBlockElement(cfgAction, options...)
	for _, o := range options {
		if o.Value == initial {
			el.InitialOption = o
		}
	}
	return el
}

func cfgButton(actionID, value, text string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(actionID, value, slack.NewTextBlockObject(slack.PlainTextType, text, false, false))
}

// cfgModal is a modal with Save and Cancel.
func cfgModal(callbackID, title string, meta cfgMeta, blocks []slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackID,
		Title:           slack.NewTextBlockObject(slack.PlainTextType, cfgTrunc(title, 24), false, false),
		Submit:          slack.NewTextBlockObject(slack.PlainTextType, "Save", false, false),
		Close:           slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false),
		PrivateMetadata: meta.encode(),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
}

// cfgMeta is a modal's private metadata: what the form cannot say itself.
type cfgMeta struct {
	Name    string   `json:"n,omitempty"` // the object edited; "" when creating one
	Channel string   `json:"c,omitempty"` // where the command was typed: confirmations go there
	Rows    int      `json:"r,omitempty"` // rows of the first list (steps, contact methods)
	Rows2   int      `json:"q,omitempty"` // rows of the second list (notification rules)
	Saved   []string `json:"m,omitempty"` // contact methods as saved, by row (for the test buttons)
}

func (m cfgMeta) encode() string {
	b, _ := json.Marshal(m)
	return string(b)
}

func cfgParseMeta(s string) cfgMeta {
	var m cfgMeta
	_ = json.Unmarshal([]byte(s), &m) // a view of ours always has it; garbage reads as empty
	return m
}

// cfgForm reads the fields of a submitted or clicked view: the value in
// its state, else the initial value the view was rendered with.
type cfgForm struct{ v *slack.View }

func (f cfgForm) value(blockID string) string {
	if f.v == nil {
		return ""
	}
	if f.v.State != nil {
		if a, ok := f.v.State.Values[blockID][cfgAction]; ok {
			if a.Value != "" {
				return a.Value
			}
			return a.SelectedOption.Value
		}
	}
	for _, bl := range f.v.Blocks.BlockSet {
		in, ok := bl.(*slack.InputBlock)
		if !ok || in.BlockID != blockID {
			continue
		}
		switch el := in.Element.(type) {
		case *slack.PlainTextInputBlockElement:
			return el.InitialValue
		case *slack.SelectBlockElement:
			if el.InitialOption != nil {
				return el.InitialOption.Value
			}
		case *slack.RadioButtonsBlockElement:
			if el.InitialOption != nil {
				return el.InitialOption.Value
			}
		}
	}
	return ""
}

// cfgErrors are the errors of a form, by block_id, the first one of each
// block kept.
type cfgErrors map[string]string

func (e cfgErrors) add(blockID, format string, args ...any) {
	if _, ok := e[blockID]; !ok {
		e[blockID] = cfgTrunc(fmt.Sprintf(format, args...), 300)
	}
}

func (e cfgErrors) response() *slack.ViewSubmissionResponse {
	if len(e) == 0 {
		return nil
	}
	return slack.NewErrorsViewSubmissionResponse(e)
}

// cfgCheckManifest runs objs through the manifest reader, the same checks
// `oncall validate` and `oncall apply` make of a file: it writes them as
// manifests, reads them back and checks their references against cur. It
// returns the messages, without file positions (the modal has none).
func cfgCheckManifest(cur, objs *manifest.Set) []string {
	files, err := manifest.Marshal(objs)
	if err != nil {
		return []string{err.Error()}
	}
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: data}
	}
	bundle, err := manifest.LoadFS(fsys, ".")
	if err != nil {
		return []string{err.Error()}
	}
	var msgs []string
	for _, e := range bundle.Check(cfgKnown(cur)) {
		msgs = append(msgs, e.Msg)
	}
	return msgs
}

// cfgKnown says which objects cur has.
func cfgKnown(cur *manifest.Set) manifest.Known {
	return func(kind, name string) bool {
		switch kind {
		case manifest.KindUser:
			return slices.ContainsFunc(cur.Users, func(u *manifest.User) bool { return u.Name == name })
		case manifest.KindTeam:
			return slices.ContainsFunc(cur.Teams, func(t *manifest.Team) bool { return t.Name == name })
		case manifest.KindHolidays:
			return slices.ContainsFunc(cur.Holidays, func(h *manifest.Holidays) bool { return h.Name == name })
		case manifest.KindSchedule:
			return slices.ContainsFunc(cur.Schedules, func(s *manifest.Schedule) bool { return s.Name == name })
		case manifest.KindEscalationPolicy:
			return slices.ContainsFunc(cur.Policies, func(p *manifest.EscalationPolicy) bool { return p.Name == name })
		case manifest.KindService:
			return slices.ContainsFunc(cur.Services, func(s *manifest.Service) bool { return s.Name == name })
		case manifest.KindAlertRule:
			return slices.ContainsFunc(cur.AlertRules, func(r *manifest.AlertRule) bool { return r.Name == name })
		case manifest.KindIntegration:
			for _, s := range cur.Services {
				if slices.ContainsFunc(s.Integrations, func(i manifest.Integration) bool { return i.Name == name }) {
					return true
				}
			}
		}
		return false
	}
}

// cfgPlace puts msg next to the block it is about: the first of blocks
// (pairs of a word in the message and a block_id) whose word the message
// contains, else fallback.
func cfgPlace(errs cfgErrors, msg, fallback string, blocks ...string) {
	for i := 0; i+1 < len(blocks); i += 2 {
		if strings.Contains(msg, blocks[i]) {
			errs.add(blocks[i+1], "%s", msg)
			return
		}
	}
	errs.add(fallback, "%s", msg)
}

// cfgApplyError is what to show of an error of b.change or b.apply: the
// user's words of an invalid or forbidden change; ok is false for any other
// failure (the caller returns it and the modal shows a generic failure).
func (b *Bot) cfgApplyError(err error) (msg string, ok bool) {
	var ue *oncall.UserError
	var ce *store.ConstraintError
	switch {
	case errors.As(err, &ue):
		return ue.Msg, true
	case errors.As(err, &ce):
		return ce.Msg, true
	case errors.Is(err, oncall.ErrForbidden):
		if _, after, found := strings.Cut(err.Error(), "forbidden: "); found {
			return upperFirst(after) + ".", true
		}
		return b.userError(err), true
	}
	return "", false
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

// cfgDidYouMean is ` (did you mean "x"?)` when s is a likely typo of one
// of names, else "".
func cfgDidYouMean(s string, names []string) string {
	best, bestD := "", 1<<30
	for _, n := range names {
		if d := cfgDistance(strings.ToLower(s), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	limit := 2
	if len(s) <= 3 {
		limit = 1
	}
	if best == "" || bestD > limit || bestD >= len(s) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// cfgDistance is the Levenshtein distance of two short strings.
func cfgDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 100
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// cfgSplitList splits "a, b,c" into its non-empty items.
func cfgSplitList(s string) []string {
	var out []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// cfgSplitLines splits text into its non-blank lines, trimmed.
func cfgSplitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// cfgDuration reads a delay: "" is def; whole seconds, at least minimum.
func cfgDuration(s string, def, minimum time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	d, err := oncall.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%q is not a whole number of seconds", s)
	}
	if d < minimum {
		if minimum == time.Second {
			return 0, errors.New("must be more than 0s")
		}
		return 0, fmt.Errorf("must be at least %s", oncall.FormatDuration(minimum))
	}
	return d, nil
}

var cfgChannelRE = regexp.MustCompile(`^([CG][A-Z0-9]{2,}|#[^\s#]{1,80})$`)

// cfgChannelRef writes a Slack channel target for a message: a link for
// an ID, the name as is.
func cfgChannelRef(ch string) string {
	if strings.HasPrefix(ch, "#") {
		return cfgEsc(ch)
	}
	return "<#" + cfgEsc(ch) + ">"
}

// cfgConfirm tells the user, privately in the channel the modal came from,
// what a save of the object (kind, name) changed; what names it in words.
func (b *Bot) cfgConfirm(ctx context.Context, channel, slackUser string, plan *store.Plan, kind, name, what string) {
	if channel == "" {
		return
	}
	text := "No changes to " + what + "."
	if plan != nil {
		for _, c := range plan.Changes {
			if c.Kind != kind || c.Name != name {
				continue
			}
			if c.Action == store.ActionCreate {
				text = "Created " + what + "."
			} else if len(c.Fields) > 0 {
				text = "Saved " + what + " (changed: " + strings.Join(c.Fields, ", ") + ")."
			}
		}
	}
	b.work(ctx, "confirm change", func(ctx context.Context) error {
		b.ephemeral(ctx, channel, slackUser, text)
		return nil
	})
}
