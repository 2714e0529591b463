package ingest

import (
	"strings"

	"github.com/oncall/oncall/oncall"
)

// MapSeverity maps a sender's severity word onto oncall's four, ignoring case
// and surrounding space:
//
//	critical: critical crit page high fatal emergency emerg alert disaster p0 p1 sev0 sev1
//	error:    error err major p2 sev2
//	warning:  warning warn minor medium moderate p3 sev3
//	info:     info information informational low none unknown notice debug ok p4 p5 sev4 sev5
//
// Any other word, and no word at all, is critical with known=false: an alert
// whose urgency we can't read pages rather than waits.
func MapSeverity(word string) (severity string, known bool) {
	switch strings.ToLower(strings.TrimSpace(word)) {
	case "critical", "crit", "page", "high", "fatal", "emergency", "emerg", "alert", "disaster",
		"p0", "p1", "sev0", "sev1":
		return oncall.SeverityCritical, true
	case "error", "err", "major", "p2", "sev2":
		return oncall.SeverityError, true
	case "warning", "warn", "minor", "medium", "moderate", "p3", "sev3":
		return oncall.SeverityWarning, true
	case "info", "information", "informational", "low", "none", "unknown", "notice", "debug", "ok",
		"p4", "p5", "sev4", "sev5":
		return oncall.SeverityInfo, true
	}
	return oncall.SeverityCritical, false
}

// severityRank orders severities, most urgent lowest.
func severityRank(s string) int {
	switch s {
	case oncall.SeverityCritical:
		return 0
	case oncall.SeverityError:
		return 1
	case oncall.SeverityWarning:
		return 2
	}
	return 3
}
