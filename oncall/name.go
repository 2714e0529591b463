package oncall

import "regexp"

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// MaxNameLen bounds object names so they fit in Slack blocks and URLs.
const MaxNameLen = 100

// ValidName reports whether s is a valid object name: [a-z0-9][a-z0-9._-]*.
func ValidName(s string) bool { return len(s) <= MaxNameLen && nameRE.MatchString(s) }
