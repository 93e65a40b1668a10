//! The `rookery` binary: `serve` runs a server; the other commands
//! administer a running one through its admin endpoint. Only this crate
//! reads configuration files and the environment.
#![forbid(unsafe_code)]

mod account_move;
mod admin_client;
mod cluster_admin;
mod config;
mod demo;
mod dynamic;
mod first_start;
mod member;
mod remote_admin;
mod remote_mailbox;
mod serve;
mod web_front;
mod webmail_listener;

use admin_client::AdminCommand;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "rookery", version, about = "A mail server: SMTP, submission, LMTP, POP3, and its admin commands")]
struct Cli {
    /// Configuration file (TOML); see rookery.example.toml.
    #[arg(long, global = true, env = "ROOKERY_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides `data_dir` of the config file).
    #[arg(long, global = true, env = "ROOKERY_DATA")]
    data: Option<PathBuf>,
    #[command(flatten)]
    admin: admin_client::AdminOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server in the foreground.
    Serve,
    /// Manage domains.
    #[command(subcommand)]
    Domain(admin_client::DomainCommand),
    /// Manage accounts.
    #[command(subcommand)]
    Account(admin_client::AccountCommand),
    /// Manage aliases.
    #[command(subcommand)]
    Alias(admin_client::AliasCommand),
    /// Look at the mail queue.
    #[command(subcommand)]
    Queue(admin_client::QueueCommand),
    /// The cluster: its status, and failover in the shared directory.
    #[command(subcommand)]
    Cluster(cluster_admin::ClusterCommand),
    /// Start a complete cluster on loopback addresses, to try it out.
    #[command(subcommand)]
    Demo(demo::DemoCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve::run(cli.config.as_deref(), cli.data),
        Command::Domain(c) => admin_client::run(cli.config.as_deref(), cli.data, cli.admin, AdminCommand::Domain(c)),
        Command::Account(c) => admin_client::run(cli.config.as_deref(), cli.data, cli.admin, AdminCommand::Account(c)),
        Command::Alias(c) => admin_client::run(cli.config.as_deref(), cli.data, cli.admin, AdminCommand::Alias(c)),
        Command::Queue(c) => admin_client::run(cli.config.as_deref(), cli.data, cli.admin, AdminCommand::Queue(c)),
        Command::Cluster(c) if c.asks_a_member() => {
            admin_client::run(cli.config.as_deref(), cli.data, cli.admin, AdminCommand::Cluster(c))
        }
        Command::Cluster(c) => cluster_admin::run(cli.config.as_deref(), c),
        Command::Demo(c) => demo::run(c),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rookery: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
