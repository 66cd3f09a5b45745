//! Read-only access to a message's header block: unfolded `(name, value)` pairs, parsed once per
//! message. Bounded: at most `MAX_HEADERS` fields from the first `MAX_HEADER_BYTES` bytes.

const MAX_HEADER_BYTES: usize = 256 * 1024;
const MAX_HEADERS: usize = 1_000;

/// The header fields of a message, in order.
#[derive(Debug, Default)]
pub struct Headers {
    fields: Vec<(String, String)>,
}

impl Headers {
    pub fn parse(message: &[u8]) -> Headers {
        let limit = message.len().min(MAX_HEADER_BYTES);
        let block = &message[..limit];
        let end = block.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 2).unwrap_or(limit);
        let text = String::from_utf8_lossy(&block[..end]);
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in text.split("\r\n") {
            if line.is_empty() {
                break;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some((_, value)) = fields.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if fields.len() >= MAX_HEADERS {
                break;
            }
            if let Some(colon) = line.find(':') {
                fields.push((line[..colon].trim().to_ascii_lowercase(), line[colon + 1..].trim().to_string()));
            }
        }
        Headers { fields }
    }

    /// Values of every field named `name` (case-insensitive).
    pub fn all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    pub fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }
}

#[cfg(test)]
mod tests {
    use super::Headers;

    #[test]
    fn unfolds_and_stops_at_the_body() {
        let h = Headers::parse(b"To: a@x.example,\r\n\tb@x.example\r\nList-Unsubscribe: <mailto:u@x>\r\n\r\nTo: body@x\r\n");
        assert_eq!(h.first("to"), Some("a@x.example, b@x.example"));
        assert_eq!(h.count("To"), 1);
        assert!(h.first("list-unsubscribe").is_some());
    }
}
