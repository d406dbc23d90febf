//! Patient tickets: the key between a patient and their data in SFM. One ticket per user and
//! patient in a tenant, re-used with its lifetime extended while valid (sliding), a new one after
//! it expires. Unguessable: 128 random bits, written like the GUIDs the real service returns.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

/// How long a ticket lives after it was last issued.
pub const TICKET_LIFETIME: TimeDelta = TimeDelta::minutes(60);

/// A patient ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    /// The ticket.
    pub value: String,
    /// The user it was issued to.
    pub user_pid: String,
    /// The patient (`Patient.id`).
    pub patient_id: String,
    /// When it expires unless issued again.
    pub expires: DateTime<Utc>,
}

/// A tenant's tickets.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "Vec<Ticket>", into = "Vec<Ticket>")]
pub struct TicketBook {
    by_value: HashMap<String, Ticket>,
    by_user_and_patient: HashMap<(String, String), String>,
}

impl From<Vec<Ticket>> for TicketBook {
    /// A book holding `tickets`; of two for the same user and patient, the one that lives
    /// longer is theirs.
    fn from(tickets: Vec<Ticket>) -> Self {
        let mut book = TicketBook::default();
        for ticket in tickets {
            let key = (ticket.user_pid.clone(), ticket.patient_id.clone());
            let theirs = book
                .by_user_and_patient
                .get(&key)
                .and_then(|value| book.by_value.get(value));
            if theirs.is_none_or(|t| t.expires < ticket.expires) {
                book.by_user_and_patient.insert(key, ticket.value.clone());
            }
            book.by_value.insert(ticket.value.clone(), ticket);
        }
        book
    }
}

impl From<TicketBook> for Vec<Ticket> {
    /// The tickets, ordered by value.
    fn from(book: TicketBook) -> Self {
        let mut tickets: Vec<Ticket> = book.by_value.into_values().collect();
        tickets.sort_by(|a, b| a.value.cmp(&b.value));
        tickets
    }
}

impl TicketBook {
    /// The ticket of `user_pid` for `patient_id`: the valid one extended, or a new one.
    pub fn issue(&mut self, user_pid: &str, patient_id: &str, now: DateTime<Utc>) -> Ticket {
        let key = (user_pid.to_owned(), patient_id.to_owned());
        if let Some(value) = self.by_user_and_patient.get(&key)
            && let Some(ticket) = self.by_value.get_mut(value)
            && ticket.expires > now
        {
            ticket.expires = crate::clock::after(now, TICKET_LIFETIME);
            return ticket.clone();
        }
        self.sweep(now);
        let ticket = Ticket {
            value: new_ticket_value(),
            user_pid: user_pid.to_owned(),
            patient_id: patient_id.to_owned(),
            expires: crate::clock::after(now, TICKET_LIFETIME),
        };
        self.by_user_and_patient.insert(key, ticket.value.clone());
        self.by_value.insert(ticket.value.clone(), ticket.clone());
        ticket
    }

    /// A valid ticket.
    pub fn get(&self, value: &str, now: DateTime<Utc>) -> Option<&Ticket> {
        self.by_value.get(value).filter(|t| t.expires > now)
    }

    /// The ticket `value`, valid or not (to explain why a ticket cannot be used).
    pub fn find(&self, value: &str) -> Option<&Ticket> {
        self.by_value.get(value)
    }

    /// A use of the ticket `value` by `user_pid`: when it is valid and theirs, its life is
    /// extended (sliding, as [`TicketBook::issue`] does) and it is returned; otherwise nothing
    /// changes.
    pub fn use_ticket(
        &mut self,
        value: &str,
        user_pid: &str,
        now: DateTime<Utc>,
    ) -> Option<&Ticket> {
        let ticket = self
            .by_value
            .get_mut(value)
            .filter(|t| t.expires > now && t.user_pid == user_pid)?;
        ticket.expires = crate::clock::after(now, TICKET_LIFETIME);
        Some(ticket)
    }

    /// The tickets still valid at `now` (for the dashboard), in no particular order.
    pub fn valid(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Ticket> {
        self.by_value.values().filter(move |t| t.expires > now)
    }

    /// How many tickets are remembered.
    pub fn len(&self) -> usize {
        self.by_value.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_value.is_empty()
    }

    fn sweep(&mut self, now: DateTime<Utc>) {
        self.by_value.retain(|_, t| t.expires > now);
        let by_value = &self.by_value;
        self.by_user_and_patient
            .retain(|_, v| by_value.contains_key(v));
    }
}

/// 128 random bits as 8-4-4-4-12 hex digits.
fn new_ticket_value() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    #[test]
    fn a_ticket_slides_while_valid_and_is_renewed_after() {
        let mut book = TicketBook::default();
        let first = book.issue("u", "p", at(0));
        assert_eq!(first.value.len(), 36);
        let again = book.issue("u", "p", at(59));
        assert_eq!(again.value, first.value);
        assert_eq!(again.expires, at(119));
        assert!(book.get(&first.value, at(118)).is_some());
        assert!(book.get(&first.value, at(119)).is_none());
        let renewed = book.issue("u", "p", at(120));
        assert_ne!(renewed.value, first.value);
        assert_eq!(book.len(), 1, "the expired one was swept");
    }

    #[test]
    fn using_a_ticket_slides_it_for_its_user_only() {
        let mut book = TicketBook::default();
        let ticket = book.issue("u", "p", at(0)).value;
        assert!(book.use_ticket(&ticket, "other", at(50)).is_none());
        assert_eq!(book.get(&ticket, at(0)).map(|t| t.expires), Some(at(60)));
        let used = book.use_ticket(&ticket, "u", at(50)).map(|t| t.expires);
        assert_eq!(used, Some(at(110)));
        assert!(book.get(&ticket, at(109)).is_some());
        assert!(book.use_ticket(&ticket, "u", at(110)).is_none(), "expired");
        assert!(book.use_ticket("nope", "u", at(0)).is_none());
    }

    #[test]
    fn tickets_differ_per_user_and_patient() {
        let mut book = TicketBook::default();
        let a = book.issue("u1", "p", at(0)).value;
        let b = book.issue("u2", "p", at(0)).value;
        let c = book.issue("u1", "q", at(0)).value;
        assert!(a != b && a != c && b != c);
    }
}
