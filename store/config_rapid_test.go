package store_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// configModel is what the configuration should be: objects by kind and
// name, and the alert rules' order.
type configModel struct {
	objects map[string]map[string]any
	rules   []string
}

func newModel() *configModel {
	m := &configModel{objects: map[string]map[string]any{}}
	for _, k := range manifest.Kinds {
		m.objects[k] = map[string]any{}
	}
	return m
}

func (m *configModel) clone() *configModel {
	c := newModel()
	for k, objs := range m.objects {
		for n, o := range objs {
			c.objects[k][n] = o
		}
	}
	c.rules = slices.Clone(m.rules)
	return c
}

// kindsOf lists a Set's objects by kind, with their names.
func kindsOf(s *manifest.Set) map[string]map[string]any {
	out := map[string]map[string]any{}
	add := func(kind, name string, o any) {
		if out[kind] == nil {
			out[kind] = map[string]any{}
		}
		out[kind][name] = o
	}
	for _, o := range s.Users {
		add(manifest.KindUser, o.Name, o)
	}
	for _, o := range s.Teams {
		add(manifest.KindTeam, o.Name, o)
	}
	for _, o := range s.Holidays {
		add(manifest.KindHolidays, o.Name, o)
	}
	for _, o := range s.Schedules {
		add(manifest.KindSchedule, o.Name, o)
	}
	for _, o := range s.Policies {
		add(manifest.KindEscalationPolicy, o.Name, o)
	}
	for _, o := range s.Services {
		add(manifest.KindService, o.Name, o)
	}
	for _, o := range s.AlertRules {
		add(manifest.KindAlertRule, o.Name, o)
	}
	return out
}

// apply is ApplyConfig's contract on the model.
func (m *configModel) apply(s *manifest.Set, prune bool) {
	s = s.Clone()
	for kind, objs := range kindsOf(s) {
		for name, o := range objs {
			m.objects[kind][name] = o
		}
		if prune {
			for name := range m.objects[kind] {
				if objs[name] == nil {
					delete(m.objects[kind], name)
				}
			}
		}
	}
	var order []string
	for _, r := range s.AlertRules {
		order = append(order, r.Name)
	}
	for _, n := range m.rules {
		if !slices.Contains(order, n) && m.objects[manifest.KindAlertRule][n] != nil {
			order = append(order, n)
		}
	}
	m.rules = order
}

func (m *configModel) set() *manifest.Set {
	s := &manifest.Set{}
	for _, objs := range m.objects {
		for _, o := range objs {
			switch o := o.(type) {
			case *manifest.User:
				s.Users = append(s.Users, o)
			case *manifest.Team:
				s.Teams = append(s.Teams, o)
			case *manifest.Holidays:
				s.Holidays = append(s.Holidays, o)
			case *manifest.Schedule:
				s.Schedules = append(s.Schedules, o)
			case *manifest.EscalationPolicy:
				s.Policies = append(s.Policies, o)
			case *manifest.Service:
				s.Services = append(s.Services, o)
			}
		}
	}
	for _, n := range m.rules {
		s.AlertRules = append(s.AlertRules, m.objects[manifest.KindAlertRule][n].(*manifest.AlertRule))
	}
	s = s.Clone()
	s.Normalize()
	return s
}

// drawSet draws part of the example company, some of it changed.
func drawSet(t *rapid.T) *manifest.Set {
	c := storetest.Company()
	s := &manifest.Set{}
	pick := func(kind string, n int) []int {
		if !rapid.Bool().Draw(t, "include "+kind) {
			return nil
		}
		idx := rapid.SliceOfNDistinct(rapid.IntRange(0, n-1), 1, n, rapid.ID[int]).Draw(t, kind)
		return idx
	}
	for _, i := range pick(manifest.KindUser, len(c.Users)) {
		u := c.Users[i]
		u.FullName = rapid.SampledFrom([]string{u.FullName, "Someone Else"}).Draw(t, "full_name")
		u.TimeZone = rapid.SampledFrom([]string{u.TimeZone, "Asia/Tokyo", ""}).Draw(t, "time_zone")
		if rapid.Bool().Draw(t, "drop a contact method") && len(u.ContactMethods) > 1 {
			// Only methods that no rule names.
			u.ContactMethods = slices.DeleteFunc(u.ContactMethods, func(cm manifest.ContactMethod) bool { return cm.Name == "work" })
			for j := range u.NotificationRules {
				u.NotificationRules[j].Notify = slices.DeleteFunc(u.NotificationRules[j].Notify, func(n string) bool { return n == "work" })
			}
		}
		s.Users = append(s.Users, u)
	}
	for _, i := range pick(manifest.KindTeam, len(c.Teams)) {
		tm := c.Teams[i]
		if rapid.Bool().Draw(t, "fewer members") {
			tm.Members = slices.DeleteFunc(tm.Members, func(m string) bool { return m == "dave" })
		}
		s.Teams = append(s.Teams, tm)
	}
	for _, i := range pick(manifest.KindHolidays, len(c.Holidays)) {
		h := c.Holidays[i]
		if rapid.Bool().Draw(t, "fewer dates") {
			h.Dates = h.Dates[:1]
		}
		s.Holidays = append(s.Holidays, h)
	}
	for _, i := range pick(manifest.KindSchedule, len(c.Schedules)) {
		sc := c.Schedules[i]
		if rapid.Bool().Draw(t, "rotate") {
			m := sc.Layers[0].Members
			sc.Layers[0].Members = append(m[1:], m[0])
		}
		if rapid.Bool().Draw(t, "no overrides") {
			sc.Overrides = nil
		}
		s.Schedules = append(s.Schedules, sc)
	}
	for _, i := range pick(manifest.KindEscalationPolicy, len(c.Policies)) {
		p := c.Policies[i]
		p.Repeat = rapid.IntRange(0, 2).Draw(t, "repeat")
		s.Policies = append(s.Policies, p)
	}
	for _, i := range pick(manifest.KindService, len(c.Services)) {
		sv := c.Services[i]
		sv.Description = rapid.SampledFrom([]string{sv.Description, "", "changed"}).Draw(t, "description")
		s.Services = append(s.Services, sv)
	}
	for _, i := range pick(manifest.KindAlertRule, len(c.AlertRules)) { // drawn order = evaluation order
		r := c.AlertRules[i]
		r.Urgency = rapid.SampledFrom([]string{manifest.UrgencyHigh, manifest.UrgencyLow}).Draw(t, "urgency")
		s.AlertRules = append(s.AlertRules, r)
	}
	s.Normalize()
	return s
}

// Any sequence of applies of parts of a configuration, with or without
// prune, leaves the database equal to the model: what the Set names is as
// the Set says, prune deletes the rest of the kinds named, and an apply
// that fails changes nothing. Re-applying what was applied changes nothing.
func TestApplyConfigModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	rapid.Check(t, func(t *rapid.T) {
		outer, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer outer.Rollback(ctx) //nolint:errcheck // each check starts from an empty database
		model := newModel()
		steps := rapid.IntRange(1, 4).Draw(t, "steps")
		for range steps {
			set := drawSet(t)
			prune := rapid.Bool().Draw(t, "prune")
			tx, err := outer.Begin(ctx) // a savepoint: the caller's transaction
			if err != nil {
				t.Fatal(err)
			}
			opts := store.ApplyOptions{Prune: prune, Now: now, Actor: "rapid"}
			if _, err := store.ApplyConfig(ctx, tx, set, opts); err != nil {
				t.Logf("apply failed (fine when it refers to what is missing): %v", err)
				if err := tx.Rollback(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				again, err := store.ApplyConfig(ctx, tx, set, opts)
				if err != nil || len(again.Changes)+len(again.NewKeys) != 0 {
					t.Fatalf("re-apply = %+v, %v; want no changes", again, err)
				}
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
				model.apply(set, prune)
			}
			got, err := store.LoadConfig(ctx, outer)
			if err != nil {
				t.Fatal(err)
			}
			if want := model.set(); !setsEqual(got, want) {
				t.Fatalf("database and model differ after applying %s (prune %v):\n got %s\nwant %s", describe(set), prune, describe(got), describe(want))
			}
		}
	})
}

func setsEqual(a, b *manifest.Set) bool {
	ka, kb := kindsOf(a), kindsOf(b)
	for _, k := range manifest.Kinds {
		if len(ka[k]) != len(kb[k]) {
			return false
		}
		for n, o := range ka[k] {
			if !deepEqual(o, kb[k][n]) {
				return false
			}
		}
	}
	var ra, rb []string
	for _, r := range a.AlertRules {
		ra = append(ra, r.Name)
	}
	for _, r := range b.AlertRules {
		rb = append(rb, r.Name)
	}
	return slices.Equal(ra, rb)
}

func describe(s *manifest.Set) string {
	out := ""
	for _, k := range manifest.Kinds {
		var names []string
		for n := range kindsOf(s)[k] {
			names = append(names, n)
		}
		slices.Sort(names)
		if k == manifest.KindAlertRule {
			names = nil
			for _, r := range s.AlertRules {
				names = append(names, r.Name)
			}
		}
		if len(names) > 0 {
			out += k + names2(names) + " "
		}
	}
	return out
}

func names2(n []string) string { return "[" + joinComma(n) + "]" }

func joinComma(n []string) string {
	s := ""
	for i, x := range n {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}

// deepEqual compares two manifest objects by value.
func deepEqual(a, b any) bool { return reflect.DeepEqual(a, b) }
