//! A stream metered against its budgets as its output arrives
//! (`enforce_stream`), for a language layer that sees the stream's text: the
//! new text since the last look is counted and the reservation grows ahead of
//! it, or the cap it would pass is named and the caller closes the stream.

use super::{Exceeded, Reservation};

#[derive(Debug)]
pub struct StreamBudget {
    reservation: Reservation,
    model: String,
    /// Bytes of the output text already counted (the text only grows).
    counted: usize,
    tokens: u64,
}

impl StreamBudget {
    /// A guard over `reservation` when its budgets meter streams as they go;
    /// otherwise the reservation back (it reserved its worst case already).
    // The error hands back the reservation it was given, on every call that is not a metered
    // stream: boxing it would cost each of them an allocation.
    #[allow(clippy::result_large_err)]
    pub fn new(reservation: Reservation, model: &str) -> Result<StreamBudget, Reservation> {
        if !reservation.enforce_stream() {
            return Err(reservation);
        }
        Ok(StreamBudget { reservation, model: model.to_string(), counted: 0, tokens: 0 })
    }

    /// `output`: the whole output text so far. Counted piece by piece, which
    /// can only count a token or two more than counting the whole at once.
    pub fn check(&mut self, output: &str) -> Result<(), Box<Exceeded>> {
        let Some(new) = output.get(self.counted..).filter(|t| !t.is_empty()) else {
            return Ok(());
        };
        self.tokens += crate::tokens::count(new, &self.model) as u64;
        self.counted = output.len();
        self.reservation.stream_progress(self.tokens)
    }

    /// Output tokens counted so far.
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    /// The reservation held (what it amounts to now).
    pub fn reservation(&self) -> &Reservation {
        &self.reservation
    }

    /// The reservation, to settle once the call is recorded.
    pub fn into_reservation(self) -> Reservation {
        self.reservation
    }
}
