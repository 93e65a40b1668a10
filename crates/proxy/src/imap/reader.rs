//! Reading one IMAP command from the client, literals included, within
//! the frontend's bounds: over-long lines and literals are answered with
//! `BAD` (or `BYE` when the literal's bytes are already on their way) and
//! never buffered.

use super::command::{Segment, is_tag, literal_marker};
use crate::client::{ClientConn, Gone};
use crate::config::FrontendConfig;
use crate::lines::Line;

/// Literals in one command before the login: LOGIN has two arguments.
const MAX_LITERALS: usize = 2;

pub(super) enum Read {
    Command(Vec<Segment>),
    /// Bad input, answered; the session goes on.
    Answer(Vec<u8>),
    /// Bad input that cannot be resynchronised; answered, then closed.
    Close(Vec<u8>),
}

pub(super) async fn read_command(client: &mut ClientConn, config: &FrontendConfig) -> Result<Read, Gone> {
    let mut segments = Vec::new();
    loop {
        let line = match client.read_line(config.login_timeout).await? {
            Line::Complete(line) => line,
            Line::TooLong => return Ok(Read::Answer(b"* BAD command line too long\r\n".to_vec())),
        };
        let Some((text_len, n, synchronising)) = literal_marker(&line) else {
            segments.push(Segment::Text(line.to_vec()));
            return Ok(Read::Command(segments));
        };
        let text = line[..text_len].to_vec();
        let n_literals = segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        let too_large = usize::try_from(n).map_or(true, |n| n > config.max_login_literal);
        if too_large || n_literals >= MAX_LITERALS {
            if !synchronising {
                // The literal's bytes follow whatever is answered, and
                // would be read as commands: the session cannot go on.
                return Ok(Read::Close(b"* BYE literal too large\r\n".to_vec()));
            }
            // A client waiting for `+` takes the tagged answer instead
            // and does not send the literal (RFC 9051 §4.3).
            let tag = segments
                .first()
                .map_or(text.as_slice(), |s| match s {
                    Segment::Text(t) => t.as_slice(),
                    Segment::Literal(_) => &[],
                })
                .split(|&b| b == b' ')
                .next()
                .and_then(|t| std::str::from_utf8(t).ok())
                .filter(|t| is_tag(t))
                .map(str::to_owned);
            return Ok(Read::Answer(match tag {
                Some(tag) => format!("{tag} BAD literal too large\r\n").into_bytes(),
                None => b"* BAD literal too large\r\n".to_vec(),
            }));
        }
        segments.push(Segment::Text(text));
        if synchronising {
            client.write(b"+ go ahead\r\n").await?;
        }
        let Ok(n) = usize::try_from(n) else { return Ok(Read::Close(b"* BYE literal too large\r\n".to_vec())) };
        let literal = client.read_exact(n, config.login_timeout).await?;
        segments.push(Segment::Literal(literal.to_vec()));
    }
}

/// Why a SASL response was refused; worded per tag when answered.
pub(super) struct SaslRefusal(&'static str);

impl SaslRefusal {
    pub(super) fn for_tag(&self, tag: &str) -> String {
        format!("{tag} BAD {}\r\n", self.0)
    }
}

/// The client's line in answer to a `+` prompt, still base64.
pub(super) async fn read_sasl_line(
    client: &mut ClientConn,
    config: &FrontendConfig,
) -> Result<Result<Vec<u8>, SaslRefusal>, Gone> {
    Ok(match client.read_line(config.login_timeout).await? {
        Line::Complete(line) => Ok(line.to_vec()),
        Line::TooLong => Err(SaslRefusal("response too long")),
    })
}

/// Decodes a base64 SASL response (`=` is empty, `*` cancels).
pub(super) fn decode_sasl(line: &[u8]) -> Result<Vec<u8>, SaslRefusal> {
    sasl::decode_response(line).map_err(|e| match e {
        sasl::SaslError::Cancelled => SaslRefusal("authentication cancelled"),
        _ => SaslRefusal("invalid base64"),
    })
}
