// Package api is oncall's HTTP surface: alert ingestion, Twilio callbacks,
// the mobile API, calendar feeds, and the health and metrics endpoints. It
// owns the cross-cutting rules every endpoint keeps: bodies over 1 MiB get
// 413, errors are JSON, a client's bad input is never a 500.
package api
