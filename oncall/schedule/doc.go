// Package schedule is the one resolver of "who is on call": it turns a
// schedule's layers, restriction windows, holidays and overrides into final
// shifts. It is pure (no I/O, no clock): paging, Slack, calendar feeds and the
// CLI all call it, so they can never disagree.
//
// The semantics are CONTRACT.md §2 "Schedule semantics (exact)". The entry
// points are [Schedule.Shifts] (final shifts in a range), [Schedule.Who] (one
// instant; agrees with Shifts everywhere), [Schedule.Gaps], [Schedule.Current]
// and [Schedule.Next] (Slack's "now and next"), and [UserShifts] (one user
// across schedules). Local times become instants with [Civil.In].
//
// # How it computes
//
// Everything is done on intervals, never by sampling: a layer's handoff k is
// found arithmetically (Elapsed: k = floor((t-start)/N), in 128-bit integer
// arithmetic so no input overflows; Days: estimated from the local day
// difference, then adjusted by a step or two), the handoff spans are
// intersected with the union of the layer's window openings and with its
// holiday mask, the layers are painted over one another in order, the
// overrides over the result (a later override over an earlier one), and
// adjacent spans of the same user are merged. Who uses the same primitives
// (handoff instants, window openings, holiday days) for a single instant.
//
// # Choices where the contract is silent or ambiguous
//
//   - Windows are read in the layer's zone (its time_zone, else the
//     schedule's): "local day" for a window is the layer's; holidays are
//     always the schedule's zone, as the contract says.
//   - A window's open and close are each read by the DST rule. When the close
//     is not after the open (02:00-03:00 on a spring-forward day: both are
//     03:00), that day's opening is empty. A window with From == To lasts 24
//     hours (To <= From closes the next day). Overlapping windows are joined.
//   - To = 1440 (24:00) is the next day's 00:00, read by the DST rule.
//   - A holiday whose 00:00 does not exist starts when the day does (the gap
//     rule moves it forward); on a day of 23 or 25 hours it lasts 23 or 25
//     hours.
//   - Nd/Nw handoffs whose local times coincide after the DST rule (only when
//     a whole local day is skipped, as in Pacific/Apia on 2011-12-30) give an
//     empty shift: that member is skipped and the rotation still advances.
//   - An Nh layer's start is a local time read once by the DST rule; after
//     that, handoffs are exactly N elapsed hours apart whatever the clocks
//     do.
//   - on_holidays: only with no holidays at all means the layer is never on
//     call.
//   - The layer is empty before its start instant and from its End on; an End
//     not after the start leaves the layer empty (Validate reports it).
//   - Overrides apply at any time, also before a layer starts or after it
//     ends. One with End <= Start is ignored (Validate reports it). An
//     override's user is taken as given, even a name no layer has.
//   - Invalid layers (no members, a length that is not exactly one positive
//     field, a window out of range, an unknown holiday mode) have nobody on
//     call rather than making the resolver fail; Validate names the problem.
//     A nil zone is UTC.
//   - Current returns the whole merged shift covering the instant, looked for
//     up to Horizon (400 days) either side; Next the first merged shift that
//     starts strictly after the instant (a shift starting exactly at it is
//     Current's), up to Horizon ahead, also whole (its end may reach past
//     the horizon's edge only as far as Horizon from the instant).
//   - Shifts returns times in UTC with the precision of its inputs
//     (nanoseconds); local times are whole seconds.
package schedule
