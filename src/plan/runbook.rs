//! The runbook a plan carries when it switches the regions' roles: ordered
//! steps as plain data, reviewed with the plan and recorded in the state
//! when run. `switchover` builds it from a plan and carries it out; the
//! renderers read it.
//!
//! What a step is, beyond what it does, is its data too: the AWS regions it
//! calls (`needs`: it runs only while each answers), whether it is tried
//! and left pending when it cannot be done during a failover
//! (`best_effort`), and what covers it meanwhile (`meanwhile`).

use crate::state::roles::Run;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    /// `switchover` (planned, no data loss), `failover`, or `drill` (a
    /// failover rehearsed on copies: see `crate::drill`).
    pub mode: String,
    /// Region names (from `regions:`) and their AWS regions.
    pub from: String,
    pub to: String,
    pub from_region: String,
    pub to_region: String,
    pub steps: Vec<Step>,
}

impl Runbook {
    /// A switchover or failover makes its target active; a drill (copies,
    /// then their cleanup) switches nothing.
    pub fn switches_roles(&self) -> bool {
        self.mode != "drill"
    }

    /// The step that applies the plan's change at `address`, if one does.
    pub fn step_applying(&self, address: &str) -> Option<&Step> {
        self.steps.iter().find(
            |s| matches!(&s.action, StepAction::Changes { addresses, .. } if addresses.iter().any(|a| a == address)),
        )
    }

    /// Without the steps a run already did (what is left, for plans).
    pub fn remaining(mut self, run: &Run) -> Runbook {
        self.steps.retain(|s| run.status(&s.id) != Some("done"));
        self
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Stable id, e.g. `readiness`, `db.switchover`.
    pub id: String,
    pub title: String,
    /// Where its calls go, for people (`us-west-1, us-east-1` for readiness).
    pub region: String,
    /// The AWS regions it calls: while one of them is down (a failover), the
    /// step waits, pending, whatever its place in the order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// During a failover, a failure leaves the step pending (said so) and the
    /// run goes on; otherwise a failure stops the run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub best_effort: bool,
    /// What covers the step while it is pending, for the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meanwhile: Option<String>,
    /// What the operator must do once it is done, kept as a note of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<StepNote>,
    /// Seconds that must have passed since the step `wait_after` ended
    /// before it runs (users following a DNS change). The end is read from
    /// the run's events, so a resumed run (whose runbook no longer lists the
    /// steps done) waits only what is left of them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wait_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_after: Option<String>,
    #[serde(flatten)]
    pub action: StepAction,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A note a step leaves when done: in `text`, `{at}` becomes the step's end
/// (RFC 3339) and `{from_ms}` that time less `before_secs`, in milliseconds
/// since the epoch (what Mattermost's jobs take).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepNote {
    pub text: String,
    pub before_secs: u64,
}

impl Step {
    /// A step of `action` whose calls go to `needs` (shown joined).
    pub fn new(id: &str, title: String, needs: &[&str], action: StepAction) -> Step {
        let mut needs: Vec<String> = needs.iter().map(|r| r.to_string()).collect();
        needs.dedup();
        Step {
            id: id.to_string(),
            title,
            region: needs.join(", "),
            needs,
            best_effort: false,
            meanwhile: None,
            note: None,
            wait_secs: 0,
            wait_after: None,
            action,
        }
    }

    /// Runs only once `secs` have passed since the step `step` ended.
    pub fn after(mut self, secs: u64, step: &str) -> Step {
        self.wait_secs = secs;
        self.wait_after = Some(step.to_string());
        self
    }

    /// Tried during a failover, and left pending when it cannot be done then.
    pub fn best_effort(mut self, meanwhile: &str) -> Step {
        self.best_effort = true;
        self.meanwhile = Some(meanwhile.to_string());
        self
    }

    /// Leaves `text` as a note of the run once done (see [`StepNote`]).
    pub fn note(mut self, text: String, before_secs: u64) -> Step {
        self.note = Some(StepNote { text, before_secs });
        self
    }

    /// It calls `region`.
    pub fn needs_region(&self, region: &str) -> bool {
        self.needs.iter().any(|r| r == region)
    }
}

/// What a step does. Its fields sit beside the step's own in the JSON (the
/// step flattens it), so none may be named like one of [`Step`]'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepAction {
    /// DR health checks of the parts that switch (ids prefixed as listed).
    /// `scaled` names the Auto Scaling groups of the target region that the
    /// runbook scales up from no nodes (their desired capacity after it): no
    /// nodes there yet is then expected, not a failure.
    Readiness {
        checks: Vec<String>,
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        scaled: std::collections::BTreeMap<String, i64>,
        /// What the plan itself would do to users during the switch, found
        /// when it was made: each refuses the run as a failed check does.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        refuse: Vec<String>,
    },
    /// `SwitchoverGlobalCluster` to the member in the target region.
    AuroraSwitchover { address: String, global_cluster: String, target_region: String },
    /// The cluster forwards writes as a secondary. `before_switch`: set on
    /// the writer before a switchover (AWS applies it at demotion; on a
    /// writer it does nothing until then); otherwise checked on a secondary
    /// and asked for if missing.
    WriteForwarding {
        address: String,
        cluster: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        before_switch: bool,
    },
    /// `FailoverGlobalCluster` with `AllowDataLoss`, sent to the target's
    /// region and waited on there only.
    AuroraFailover { address: String, global_cluster: String, target_region: String },
    /// After a failover: the old writer is back as a secondary (Aurora
    /// re-adds it once its region is reachable; observed, not asked), and
    /// the snapshot Aurora took of its old volume copied to a manual one.
    Rejoin { global_cluster: String, cluster: String },
    /// Search, in the new active region: its auto-follow rules deleted
    /// (`leader_alias:name`), then every follower index stopped (named, or
    /// matching a rule's pattern): they become normal, writable indices.
    /// `catch_up` (planned switchover: the leader is there): first wait
    /// until each follower's checkpoint equals its leader's.
    SearchStopFollowers {
        via: String,
        domain: String,
        rules: Vec<String>,
        indices: Vec<String>,
        patterns: Vec<String>,
        #[serde(default)]
        catch_up: bool,
    },
    /// Search, in the old active region: its copies of the indices the
    /// reversed replication brings back, deleted. `indices` are those the
    /// plan listed (with their document counts, read when planning); the
    /// step deletes those only, and only those the new leader (`via_new`,
    /// in the new active region) has.
    SearchDeleteOldCopies {
        via: String,
        domain: String,
        indices: Vec<IndexDocs>,
        patterns: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via_new: Option<String>,
    },
    /// The target region's app tier serves: each Auto Scaling group there
    /// has its desired capacity (at least one node) in service and each of
    /// its target groups a healthy target. Waits, with progress.
    /// `route53` (a planned switchover): Route 53's health checkers see
    /// that region's load balancers healthy too, so that users follow DNS
    /// there as soon as it moves.
    AppServing {
        app_region: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        route53: bool,
    },
    /// These changes of the plan (at `addresses`), applied as `apply` would,
    /// journaled alike; the ordinary apply that follows leaves them alone.
    /// `hold`: attributes of some of them left as they are, by address (a
    /// later step applies those changes whole), e.g. the old active
    /// region's capacity, which shrinks only after users have left it.
    Changes {
        addresses: Vec<String>,
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        hold: std::collections::BTreeMap<String, Vec<String>>,
    },
    /// Drill: `copy`, an Aurora clone of `source_cluster` (in the step's
    /// region; a full copy at its latest restorable time when AWS refuses
    /// the clone), and its writer `instance`; both tagged with the drill id.
    DrillDbCopy { source_cluster: String, copy: String, instance: String, instance_class: String, drill: String },
    /// Drill: `copy`, a search domain following the leader (`leader` in
    /// `leader_region`) as the standby follower (`via`, its address;
    /// `follower`, its name) does: `indices` started, auto-follow `rules`
    /// (name, pattern) made; tagged with the drill id.
    DrillSearchCopy {
        via: String,
        follower: String,
        leader: String,
        leader_region: String,
        copy: String,
        indices: Vec<String>,
        rules: Vec<(String, String)>,
        drill: String,
    },
    /// Drill: the copy's followers stopped as a failover stops the standby's
    /// (rules `alias:name` deleted, then each follower index stopped).
    DrillSearchWritable {
        via: String,
        copy: String,
        rules: Vec<String>,
        indices: Vec<String>,
        patterns: Vec<String>,
        drill: String,
    },
    /// Drill: its instances deleted, then its clusters (no final snapshot),
    /// and its search `domains` with their connections; those already gone
    /// are skipped.
    DrillCleanup {
        clusters: Vec<String>,
        instances: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        domains: Vec<String>,
        drill: String,
        /// The app tier on the drill's record: removed first (its database
        /// group last, once the copy is gone).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        app: bool,
    },
    /// Drill: the app tier of one node on the copies (`crate::drill::app`):
    /// `module` called with `inputs` (the standby region's, as configured),
    /// named `name`, on the database copy `name` and the search copy.
    DrillApp {
        module: String,
        inputs: serde_json::Map<String, serde_json::Value>,
        name: String,
        search: Option<String>,
        drill: String,
    },
    /// Drill: its node in service, its target healthy, and Mattermost's
    /// ping answering 200 through its load balancer as `site_url`.
    DrillServing { site_url: String, drill: String },
    /// Drill: a post through its load balancer into `channel` (none: skipped).
    DrillPost { site_url: String, channel: Option<String>, drill: String },
}

/// An index and its document count (`None`: not readable when planned).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexDocs {
    pub index: String,
    pub docs: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a run records is read back as it was (a field named like the
    /// step's own would be lost).
    #[test]
    fn every_action_round_trips_through_json() {
        let actions = vec![
            StepAction::Readiness {
                checks: vec!["db.".into()],
                scaled: [("a".to_string(), 2)].into(),
                refuse: Vec::new(),
            },
            StepAction::AuroraSwitchover {
                address: "g".into(),
                global_cluster: "mm".into(),
                target_region: "r2".into(),
            },
            StepAction::WriteForwarding { address: "c".into(), cluster: "mm-1".into(), before_switch: true },
            StepAction::AuroraFailover { address: "g".into(), global_cluster: "mm".into(), target_region: "r2".into() },
            StepAction::Rejoin { global_cluster: "mm".into(), cluster: "mm-1".into() },
            StepAction::SearchStopFollowers {
                via: "u".into(),
                domain: "d".into(),
                rules: vec!["a:b".into()],
                indices: vec!["i".into()],
                patterns: vec!["p*".into()],
                catch_up: true,
            },
            StepAction::SearchDeleteOldCopies {
                via: "u".into(),
                domain: "d".into(),
                indices: vec![IndexDocs { index: "i".into(), docs: Some(3) }],
                patterns: vec![],
                via_new: Some("v".into()),
            },
            StepAction::AppServing { app_region: "r2".into(), route53: true },
            StepAction::Changes {
                addresses: vec!["x".into()],
                hold: [("x".to_string(), vec!["desired_capacity".to_string()])].into(),
            },
            StepAction::DrillDbCopy {
                source_cluster: "mm-east".into(),
                copy: "p-drill-ab12cd".into(),
                instance: "p-drill-ab12cd-1".into(),
                instance_class: "db.r6g.large".into(),
                drill: "ab12cd".into(),
            },
            StepAction::DrillSearchCopy {
                via: "module.search.aws_opensearch_domain.follower".into(),
                follower: "f".into(),
                leader: "l".into(),
                leader_region: "r1".into(),
                copy: "p-drill-ab12cd".into(),
                indices: vec!["channels".into()],
                rules: vec![("posts".into(), "posts*".into())],
                drill: "ab12cd".into(),
            },
            StepAction::DrillSearchWritable {
                via: "v".into(),
                copy: "p-drill-ab12cd".into(),
                rules: vec!["p-drill-ab12cd:posts".into()],
                indices: vec!["channels".into()],
                patterns: vec!["posts*".into()],
                drill: "ab12cd".into(),
            },
            StepAction::DrillCleanup {
                clusters: vec!["p-drill-ab12cd".into()],
                instances: vec!["p-drill-ab12cd-1".into()],
                domains: vec!["p-drill-ab12cd".into()],
                drill: "ab12cd".into(),
                app: true,
            },
        ];
        let steps: Vec<Step> = actions
            .into_iter()
            .map(|a| {
                Step::new("s", "t".into(), &["r1", "r2"], a).best_effort("m").note("n {at}".into(), 5).after(7, "s0")
            })
            .collect();
        let rb = Runbook {
            mode: "failover".into(),
            from: "a".into(),
            to: "b".into(),
            from_region: "r1".into(),
            to_region: "r2".into(),
            steps,
        };
        let back: Runbook = serde_json::from_value(serde_json::to_value(&rb).unwrap()).unwrap();
        assert_eq!(back, rb);
    }
}
