//! SMTP, submission and LMTP sessions: RFC 5321 state machines over queue, store and directory
