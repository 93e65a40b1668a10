//! POP3 sessions (RFC 1939, RFC 2449): the state machine over store and directory
