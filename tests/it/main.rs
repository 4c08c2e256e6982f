//! Integration tests: real HTTP over real sockets against servers bound to 127.0.0.1:0.
//! One test binary with modules, so the suite links once.

mod admin;
mod audit;
mod checks;
mod cli;
mod cli_verify;
mod codegen;
mod crash;
mod dedup_redis;
mod delivery;
mod diskfull;
mod filters;
mod hostile;
mod inbox;
mod ingest;
mod nats;
mod ninjaone;
mod observe;
mod presets;
mod presets_serve;
mod profiles;
mod properties;
mod receiver_suite;
mod redelivery;
mod redis_stream;
mod replicas;
mod running;
mod schema_answers;
mod security;
mod serve;
mod services;
mod sources;
mod specs;
mod support;
mod validation;
mod vectors;
