package api

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// RiverJobCollector exposes River's job counts by queue, kind and state,
// read from river_job at scrape time.
type RiverJobCollector struct {
	Pool *pgxpool.Pool
	desc *prometheus.Desc
}

func NewRiverJobCollector(pool *pgxpool.Pool) *RiverJobCollector {
	return &RiverJobCollector{Pool: pool, desc: prometheus.NewDesc("oncall_river_jobs",
		"River jobs by queue, kind and state.", []string{"queue", "kind", "state"}, nil)}
}

func (c *RiverJobCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *RiverJobCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := c.Pool.Query(ctx, `SELECT queue, kind, state::text, count(*) FROM river_job GROUP BY 1, 2, 3`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var queue, kind, state string
		var n int64
		if err := rows.Scan(&queue, &kind, &state, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), queue, kind, state)
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
	}
}
