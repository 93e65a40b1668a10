//! The IMAP commands a frontend answers before the login, parsed from a
//! command's lines and literals. Anything else is named so it can be
//! refused; nothing here touches the network.

/// A piece of one command: the text of a line (without CRLF and without
/// a trailing literal marker), or a literal's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Text(Vec<u8>),
    Literal(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    pub(crate) tag: String,
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Capability,
    Noop,
    Logout,
    StartTls,
    Id,
    Login {
        user: Vec<u8>,
        password: Vec<u8>,
    },
    /// `initial` is the SASL-IR response, still base64 (`=` for empty).
    Authenticate {
        mechanism: String,
        initial: Option<Vec<u8>>,
    },
    /// A command that exists only after the login, or not at all.
    Other {
        name: String,
    },
}

/// Why a command could not be parsed; answered with `BAD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Not even a tag: answered untagged.
    NoTag,
    Syntax {
        tag: String,
        reason: &'static str,
    },
}

impl ParseError {
    pub(crate) fn reply(&self) -> Vec<u8> {
        match self {
            ParseError::NoTag => b"* BAD missing or invalid tag\r\n".to_vec(),
            ParseError::Syntax { tag, reason } => format!("{tag} BAD {reason}\r\n").into_bytes(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Atom(Vec<u8>),
    /// A quoted string or a literal.
    Str(Vec<u8>),
}

impl Token {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Token::Atom(b) | Token::Str(b) => b,
        }
    }
}

pub(crate) fn parse(segments: &[Segment]) -> Result<Command, ParseError> {
    let tokens = tokenize(segments);
    let mut tokens = match tokens {
        Ok(tokens) => tokens.into_iter(),
        Err(reason) => {
            let tag = first_word(segments).filter(|t| is_tag(t)).ok_or(ParseError::NoTag)?;
            return Err(ParseError::Syntax { tag, reason });
        }
    };
    let tag = match tokens.next() {
        Some(Token::Atom(tag)) => String::from_utf8(tag).ok().filter(|t| is_tag(t)).ok_or(ParseError::NoTag)?,
        _ => return Err(ParseError::NoTag),
    };
    let syntax = |reason| ParseError::Syntax { tag: tag.clone(), reason };
    let name = match tokens.next() {
        Some(Token::Atom(name)) => String::from_utf8(name).map_err(|_| syntax("invalid command"))?,
        _ => return Err(syntax("missing command")),
    };
    let args: Vec<Token> = tokens.collect();
    let no_args = |kind: Kind| if args.is_empty() { Ok(kind) } else { Err(syntax("unexpected arguments")) };
    let kind = match name.to_ascii_uppercase().as_str() {
        "CAPABILITY" => no_args(Kind::Capability)?,
        "NOOP" => no_args(Kind::Noop)?,
        "LOGOUT" => no_args(Kind::Logout)?,
        "STARTTLS" => no_args(Kind::StartTls)?,
        // ID's parameter list is only logged by the backends; the
        // frontend answers NIL whatever it is.
        "ID" => Kind::Id,
        "LOGIN" => {
            let [user, password]: [Token; 2] =
                args.try_into().map_err(|_| syntax("LOGIN takes a user name and a password"))?;
            Kind::Login { user: user.into_bytes(), password: password.into_bytes() }
        }
        "AUTHENTICATE" => {
            let mut args = args.into_iter();
            let (Some(Token::Atom(mechanism)), initial, None) = (args.next(), args.next(), args.next()) else {
                return Err(syntax("AUTHENTICATE takes a mechanism and an optional initial response"));
            };
            let mechanism = String::from_utf8(mechanism).map_err(|_| syntax("invalid mechanism"))?;
            let initial = match initial {
                None => None,
                Some(Token::Atom(initial)) => Some(initial),
                Some(Token::Str(_)) => return Err(syntax("the initial response must be an atom")),
            };
            Kind::Authenticate { mechanism, initial }
        }
        _ => Kind::Other { name },
    };
    Ok(Command { tag, kind })
}

/// Words, quoted strings and literals, in order.
fn tokenize(segments: &[Segment]) -> Result<Vec<Token>, &'static str> {
    let mut tokens = Vec::new();
    for segment in segments {
        let text = match segment {
            Segment::Literal(bytes) => {
                tokens.push(Token::Str(bytes.clone()));
                continue;
            }
            Segment::Text(text) => text,
        };
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b' ' => i += 1,
                // ID's parameter list; no other command here has one.
                b'(' | b')' => {
                    tokens.push(Token::Atom(vec![text[i]]));
                    i += 1;
                }
                b'"' => {
                    let mut value = Vec::new();
                    i += 1;
                    loop {
                        match text.get(i) {
                            None => return Err("unterminated quoted string"),
                            Some(b'"') => break,
                            Some(b'\\') => match text.get(i + 1) {
                                Some(&c @ (b'"' | b'\\')) => {
                                    value.push(c);
                                    i += 1;
                                }
                                _ => return Err("invalid escape in quoted string"),
                            },
                            Some(&c) => value.push(c),
                        }
                        i += 1;
                    }
                    i += 1;
                    tokens.push(Token::Str(value));
                }
                _ => {
                    let end =
                        text[i..].iter().position(|&b| matches!(b, b' ' | b'(' | b')')).map_or(text.len(), |n| i + n);
                    let word = &text[i..end];
                    if word.iter().any(|&b| b < 0x20 || b == 0x7f || b == b'"') {
                        return Err("invalid characters");
                    }
                    tokens.push(Token::Atom(word.to_vec()));
                    i = end;
                }
            }
        }
    }
    Ok(tokens)
}

fn first_word(segments: &[Segment]) -> Option<String> {
    let Some(Segment::Text(text)) = segments.first() else { return None };
    let word = text.split(|&b| b == b' ').next()?;
    String::from_utf8(word.to_vec()).ok()
}

/// A tag: ASTRING-CHARs other than `+` (RFC 9051 §9), so it can be put
/// back into a command to the backend as is.
pub(crate) fn is_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 64
        && tag
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+'))
}

/// A line ending in a literal marker: `{N}` (synchronising), `{N+}` or
/// `{N-}` (non-synchronising, RFC 7888). Gives the length of the text
/// before the marker, N, and whether the client waits for `+`.
pub(crate) fn literal_marker(line: &[u8]) -> Option<(usize, u64, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let spec = &inner[open + 1..];
    let (digits, synchronising) = match spec.last() {
        Some(b'+' | b'-') => (&spec[..spec.len() - 1], false),
        _ => (spec, true),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((open, n, synchronising))
}
