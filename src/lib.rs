//! standby: declarative two-region disaster recovery for Mattermost on AWS.
//!
//! Where things live:
//! - [`config`]: the YAML configuration as written, with locations;
//!   [`json_schema`]: its JSON Schema for editors, with every kind's properties.
//! - [`expr`]: `${…}` references; [`eval`]: evaluating them.
//! - [`graph`]: dependencies and their order.
//! - [`kinds`]: resource kinds (one trait, one module per kind).
//! - [`plan`]: the plan as data, and planning; [`apply`]: carrying it out.
//! - [`state`]: the state file, its lock and journal.
//! - [`render`]: human, JSON and markdown views of a plan, a drift report
//!   and a preflight checklist.
//! - [`drift`]: drift findings as data; [`health`]: DR health checks.
//! - [`permissions`]: the AWS calls standby makes, their IAM actions, and
//!   the policies made of them.
//! - [`interrupt`]: SIGINT and SIGTERM: locks released, applies stopped gently.
//! - [`switchover`]: role switches as runbooks, and their one executor;
//!   [`drill`]: a failover rehearsed on copies, run by that executor.
//! - [`cli`]: the command line.

pub mod address;
pub mod apply;
pub mod aws;
pub mod cli;
pub mod config;
pub mod diag;
pub mod drift;
pub mod drill;
pub mod error;
pub mod eval;
pub mod expr;
pub mod glob;
pub mod graph;
pub mod health;
pub mod ids;
pub mod init;
pub mod interrupt;
pub mod json_schema;
pub mod kinds;
pub mod load;
pub mod mattermost;
pub mod permissions;
pub mod plan;
pub mod render;
pub mod state;
pub mod switchover;
pub mod topology;
pub mod value;
