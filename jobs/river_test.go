package jobs_test

import (
	"context"
	"testing"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/store/storetest"
)

// River's pool plans each statement for the table as it is (see
// OpenRiverPool): a generic plan made while river_job was small held 10,000
// due timers back for 30 s.
func TestRiverPoolPlansEachStatement(t *testing.T) {
	t.Parallel()
	base := storetest.New(t)
	pool, err := jobs.OpenRiverPool(base)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var mode string
	if err := pool.QueryRow(context.Background(), `SHOW plan_cache_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "force_custom_plan" {
		t.Errorf("plan_cache_mode = %q on River's pool; want force_custom_plan", mode)
	}
	if err := base.QueryRow(context.Background(), `SHOW plan_cache_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "auto" {
		t.Errorf("plan_cache_mode = %q on the engine's pool; want auto (its statements keep their plans)", mode)
	}
	if got, want := pool.Config().MaxConns, min(base.Config().MaxConns, 10); got != want {
		t.Errorf("River's pool holds %d connections; want %d", got, want)
	}
}
