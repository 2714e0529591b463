package slack_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/oncall/oncall/notify"
	notifyslack "github.com/oncall/oncall/notify/slack"
)

// A group named by handle is found once with usergroups.list, then set
// with usergroups.users.update; an id needs no lookup.
func TestSetUserGroup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.AddUserGroup("S0PAY", "payments-oncall", "Payments on call", "U1")
	ctx := context.Background()
	if err := b.ch.SetUserGroup(ctx, "@payments-oncall", []string{"U2"}); err != nil {
		t.Fatal(err)
	}
	if err := b.ch.SetUserGroup(ctx, "@payments-oncall", []string{"U1", "U2"}); err != nil {
		t.Fatal(err)
	}
	if err := b.ch.SetUserGroup(ctx, "S0PAY", []string{"U1"}); err != nil {
		t.Fatal(err)
	}
	g, _ := b.srv.UserGroup("S0PAY")
	if !slices.Equal(g.Users, []string{"U1"}) || g.Updates != 3 {
		t.Errorf("group = %+v", g)
	}
	if n := len(b.srv.Calls("usergroups.list")); n != 1 {
		t.Errorf("usergroups.list called %d times, want 1 (cached)", n)
	}
}

// An unknown handle or group, or an empty member list, is permanent.
func TestSetUserGroupPermanent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		group string
		users []string
	}{
		{"@nobody-has-this", []string{"U1"}},
		{"S404", []string{"U1"}},
		{"S404", nil},
	} {
		err := b.ch.SetUserGroup(ctx, tc.group, tc.users)
		if !notify.IsPermanent(err) {
			t.Errorf("SetUserGroup(%s, %v) = %v, want a permanent failure", tc.group, tc.users, err)
		}
	}
}

// A notice to a user id is a DM; to a channel, a post; both carry the
// mrkdwn text in a section block.
func TestPostNotice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if err := b.ch.PostNotice(ctx, "U1", "You are on call for *primary*"); err != nil {
		t.Fatal(err)
	}
	if err := b.ch.PostNotice(ctx, "C0PAY", "Handoff in *primary*"); err != nil {
		t.Fatal(err)
	}
	if m := b.srv.Messages("DU1"); len(m) != 1 || !strings.Contains(m[0].Text, "on call for *primary*") {
		t.Errorf("DM = %+v", m)
	}
	if m := b.srv.Messages("C0PAY"); len(m) != 1 || !strings.Contains(string(m[0].Blocks), "Handoff in *primary*") {
		t.Errorf("channel = %+v", m)
	}
	off := notifyslack.New(notifyslack.Config{APIURL: b.srv.APIURL()})
	if err := off.PostNotice(ctx, "U1", "x"); err != notify.ErrOff {
		t.Errorf("without a token: %v, want ErrOff", err)
	}
}
