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

impl From<serde_path_to_error::Error<serde_json::Error>> for FieldError {
    /// The field path of a typed read, and serde's message without the text's line and column
    /// (the path says where, in a record read alone or from a larger text alike).
    fn from(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        // `.` is the record itself, `?` an unknown position: neither names a field.
        let field = match e.path().to_string().as_str() {
            "." | "?" => String::new(),
            path => path.to_owned(),
        };
        let inner = e.into_inner();
        let message = inner.to_string();
        let position = format!(" at line {} column {}", inner.line(), inner.column());
        let message = message.strip_suffix(&position).unwrap_or(&message);
        Self::new(field, message)
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
