//! JSON admin API over HTTP: the endpoint the rookery CLI and later web admin talk to
