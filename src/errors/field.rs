//! A problem found in one field of a fixture record or a control-plane record, before the
//! file and record are known (the caller adds them).

/// A problem with one field of a record, before the file and record are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field path inside the record.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
