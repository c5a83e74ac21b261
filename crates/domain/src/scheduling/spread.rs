//! Choosing the offer from ranked free slots, so it is not one practitioner's afternoon.
//!
//! The rule (routine searches): taking slots best rank first, a slot is passed over when
//! [`PER_PRACTITIONER_DAY`] slots of the same practitioner on the same local day are
//! already offered and some slot of another practitioner or day scores at most
//! [`NEARLY_AS_GOOD`] points less; that slot is offered instead. Thirty points never trade
//! away the preferred day (+100) or practitioner (+40), nor a time within 2 h for one
//! further; they do trade "within 1 h" for "within 2 h", and a few days of the sooner
//! boost. With a 10:00 preference and one cardiologist free all day, the offer is 10:00
//! and 09:30 that day, then tomorrow's 10:00 or another cardiologist's, not five
//! half-hours in a row. The offer is shown best rank first.
//!
//! Urgent searches keep the plain order: the soonest slots are what the patient needs.
//!
//! The search streams every free slot through a [`Shortlist`], which keeps only what the
//! rule can pick: each practitioner-day's best `limit` slots, and of those the best
//! [`Shortlist::kept`]. Memory and time stay independent of the number of slots.

use std::collections::BinaryHeap;

use chrono::NaiveDate;
use uuid::Uuid;

use super::search::Candidate;

/// Offers of one practitioner on one local day before others that score nearly as well
/// are preferred.
pub const PER_PRACTITIONER_DAY: usize = 2;
/// "Nearly as well": at most this many points below the slot passed over.
pub const NEARLY_AS_GOOD: u32 = 30;

/// The free slots the offer can still be chosen from, fed practitioner by practitioner.
pub(crate) struct Shortlist {
    limit: usize,
    /// `PER_PRACTITIONER_DAY`, or `usize::MAX` when slots are not spread (urgent searches).
    per_day: usize,
    /// How many of the best practitioner-day slots can ever be picked.
    kept: usize,
    practitioner: Option<Uuid>,
    /// The current practitioner's days; entries past `days_used` are spare allocations.
    days: Vec<DayBest>,
    days_used: usize,
    /// Max-heap on rank: the worst kept slot sits on top, ready to be displaced.
    best: BinaryHeap<Candidate>,
}

/// One practitioner's best slots on one local day, best first, at most `limit`.
struct DayBest {
    date: NaiveDate,
    slots: Vec<Candidate>,
}

impl Shortlist {
    pub(crate) fn new(limit: usize, spread: bool) -> Self {
        let per_day = if spread {
            PER_PRACTITIONER_DAY
        } else {
            usize::MAX
        };
        let kept = Self::kept(limit, per_day);
        Self {
            limit,
            per_day,
            kept,
            practitioner: None,
            days: Vec::new(),
            days_used: 0,
            best: BinaryHeap::with_capacity(kept + 1),
        }
    }

    /// How deep into the practitioner-days' best slots (each day's best `limit`) the rule
    /// can reach. A slot is picked either as the best one left, or as the best one of a
    /// practitioner-day not yet full; everything ranked above it is then either picked
    /// (fewer than `limit`) or left in a full practitioner-day (at most
    /// `(limit − 1) / per_day` of them, each with at most `limit − per_day` left). So
    /// nothing ranked below `limit + ((limit − 1) / per_day) · (limit − per_day)` is ever
    /// picked: 11 for an offer of 5, 182 for 20.
    fn kept(limit: usize, per_day: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        let full_days = (limit - 1) / per_day.max(1);
        limit + full_days * limit.saturating_sub(per_day)
    }

    /// Takes the next free slot. Slots must come practitioner by practitioner.
    pub(crate) fn offer(&mut self, candidate: &Candidate) {
        if self.kept == 0 {
            return;
        }
        // Worse than everything kept: it can never be picked.
        if self.best.len() == self.kept
            && self
                .best
                .peek()
                .is_some_and(|worst| candidate.rank >= worst.rank)
        {
            return;
        }
        if self.practitioner != Some(candidate.rank.practitioner_id) {
            self.flush();
            self.practitioner = Some(candidate.rank.practitioner_id);
        }
        let limit = self.limit;
        let day = self.day(candidate.date);
        let at = day.slots.partition_point(|kept| kept.rank < candidate.rank);
        if at < limit {
            if day.slots.len() == limit {
                day.slots.pop();
            }
            day.slots.insert(at, *candidate);
        }
    }

    /// The current practitioner's slots of `date`, usually the last day touched.
    fn day(&mut self, date: NaiveDate) -> &mut DayBest {
        let used = &self.days[..self.days_used];
        let found = used
            .last()
            .filter(|d| d.date == date)
            .map(|_| self.days_used - 1)
            .or_else(|| used.iter().position(|d| d.date == date));
        let index = match found {
            Some(index) => index,
            None => {
                if self.days_used == self.days.len() {
                    self.days.push(DayBest {
                        date,
                        slots: Vec::with_capacity(self.limit),
                    });
                }
                let fresh = &mut self.days[self.days_used];
                fresh.date = date;
                fresh.slots.clear();
                self.days_used += 1;
                self.days_used - 1
            }
        };
        &mut self.days[index]
    }

    /// Moves the current practitioner's day-best slots into the overall best.
    fn flush(&mut self) {
        for day in &self.days[..self.days_used] {
            for candidate in &day.slots {
                if self.best.len() < self.kept {
                    self.best.push(*candidate);
                } else if let Some(mut worst) = self.best.peek_mut()
                    && candidate.rank < worst.rank
                {
                    *worst = *candidate;
                }
            }
        }
        self.days_used = 0;
    }

    /// The offer: at most `limit` slots, best rank first.
    pub(crate) fn pick(mut self) -> Vec<Candidate> {
        self.flush();
        pick(self.best.into_sorted_vec(), self.limit, self.per_day)
    }
}

/// Applies the rule to slots sorted best first.
pub(crate) fn pick(sorted: Vec<Candidate>, limit: usize, per_day: usize) -> Vec<Candidate> {
    let mut taken = vec![false; sorted.len()];
    let mut offered: Vec<(Uuid, NaiveDate, usize)> = Vec::new();
    let offered_that_day = |offered: &[(Uuid, NaiveDate, usize)], c: &Candidate| {
        offered
            .iter()
            .find(|(p, d, _)| *p == c.rank.practitioner_id && *d == c.date)
            .map_or(0, |&(_, _, n)| n)
    };
    for _ in 0..limit {
        let Some(best) = taken.iter().position(|t| !t) else {
            break;
        };
        let mut choice = best;
        if offered_that_day(&offered, &sorted[best]) >= per_day {
            let other = (best + 1..sorted.len())
                .find(|&i| !taken[i] && offered_that_day(&offered, &sorted[i]) < per_day);
            if let Some(other) = other
                && sorted[best]
                    .rank
                    .score()
                    .saturating_sub(sorted[other].rank.score())
                    <= NEARLY_AS_GOOD
            {
                choice = other;
            }
        }
        taken[choice] = true;
        let c = &sorted[choice];
        match offered
            .iter_mut()
            .find(|(p, d, _)| *p == c.rank.practitioner_id && *d == c.date)
        {
            Some(entry) => entry.2 += 1,
            None => offered.push((c.rank.practitioner_id, c.date, 1)),
        }
    }
    sorted
        .into_iter()
        .zip(taken)
        .filter_map(|(c, t)| t.then_some(c))
        .collect()
}

#[cfg(test)]
mod tests;
