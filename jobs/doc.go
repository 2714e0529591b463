// Package jobs runs everything that happens later: the River client, the
// paging engine that applies incident transitions (trigger, ack, resolve,
// escalate) in one transaction with the jobs they imply, and the workers that
// escalate and notify.
package jobs
