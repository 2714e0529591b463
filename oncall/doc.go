// Package oncall holds the domain's shared vocabulary: the injected Clock,
// sentinel errors, names and durations. It imports nothing of ours, so every
// other package may depend on it.
package oncall
