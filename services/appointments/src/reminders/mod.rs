//! Reminders and follow-ups (issue 14): messages due after the booking, kept as jobs in
//! the database (`reminder_jobs`) so that a restart loses none and replicas send each
//! once. See `docs/reminders.md`.
//!
//! * [`rules`]: when reminders are due (`REMINDER_RULES`…);
//! * [`schedule`]: the consumer that schedules, moves and cancels jobs as appointments
//!   are booked, moved and cancelled, and the follow-up and no-show jobs of `PATCH`;
//! * [`runner`]: the background task that sends due jobs as REMINDER_DUE;
//! * [`routes`]: `GET /api/v1/prm/appointments/{id}/reminders`.

pub mod routes;
pub mod rules;
pub mod runner;
pub mod schedule;

pub use rules::{ReminderRule, ReminderSettings};
