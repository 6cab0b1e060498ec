//! Leader election on a `coordination.k8s.io/v1` Lease: the one replica of
//! `leasebox serve` that runs the background sweep.
//!
//! Each replica calls [`Elector::round`] every third of the lease duration.
//! A round reads the Lease and then
//! - creates it naming this replica when there is none;
//! - renews it (`renewTime`) when this replica holds it;
//! - takes it over (`holderIdentity`, `acquireTime`, `leaseTransitions`+1)
//!   when it has no holder, or when its record has not changed for a whole
//!   lease duration as measured on this replica's own clock (so clock skew
//!   between replicas does not matter);
//! - otherwise follows the holder.
//!
//! Every write carries the resourceVersion that was read, so of two replicas
//! taking over at once the API server lets one win and answers the other
//! 409, which is a lost round, not an error. A holder that cannot renew for
//! a lease duration stops counting itself as leader ([`Elector::leading`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};

use crate::cluster::kube_client::KubeClusterIo;
use crate::contract::KubeError;
use crate::settings::LeaderSettings;

/// The outcome of a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leadership {
    /// This replica holds the Lease.
    Leading,
    /// Another replica does (or held it and has not yet been out for a
    /// lease duration).
    Following {
        /// Its identity.
        holder: String,
    },
}

/// What a round does, decided from the Lease as read.
#[derive(Debug, Clone)]
enum Action {
    Create,
    Renew(Lease),
    TakeOver(Lease),
    Follow(String),
}

/// The record last seen and when (on this replica's clock) it last changed.
#[derive(Debug, Clone)]
struct Observed {
    resource_version: String,
    changed_at: Instant,
}

/// One replica's side of the election.
pub struct Elector {
    cluster: Arc<KubeClusterIo>,
    settings: LeaderSettings,
    identity: String,
    observed: Option<Observed>,
    /// When this replica last wrote the Lease as its holder.
    renewed_at: Option<Instant>,
}

impl std::fmt::Debug for Elector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elector")
            .field("settings", &self.settings)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Elector {
    /// An elector for `identity` on the Lease of `settings`.
    pub fn new(cluster: Arc<KubeClusterIo>, settings: LeaderSettings, identity: String) -> Self {
        Elector {
            cluster,
            settings,
            identity,
            observed: None,
            renewed_at: None,
        }
    }

    /// This replica's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// How long to wait between rounds: a third of the lease duration.
    pub fn retry_period(&self) -> Duration {
        self.settings.lease_duration / 3
    }

    /// Whether this replica holds the Lease and renewed it within a lease
    /// duration before `now`.
    pub fn leading(&self, now: Instant) -> bool {
        self.renewed_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.settings.lease_duration)
    }

    fn api(&self) -> Api<Lease> {
        Api::namespaced(self.cluster.ctx().client.clone(), &self.settings.namespace)
    }

    /// One round at `now` (this replica's clock): read, then create, renew,
    /// take over or follow.
    pub fn round(&mut self, now: Instant) -> Result<Leadership, KubeError> {
        let api = self.api();
        let name = self.settings.lease_name.clone();
        let ctx = self.cluster.ctx().clone();
        let current = self.cluster.block_on(async {
            ctx.call("get the leader Lease", || api.get_opt(&name))
                .await
        })?;
        let written = match self.decide(current, now) {
            Action::Follow(holder) => return Ok(Leadership::Following { holder }),
            Action::Create => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(self.settings.namespace.clone()),
                        labels: Some(
                            [(
                                "app.kubernetes.io/managed-by".to_string(),
                                "leasebox".to_string(),
                            )]
                            .into(),
                        ),
                        ..ObjectMeta::default()
                    },
                    spec: Some(self.claim(None)),
                };
                let params = PostParams::default();
                self.cluster.block_on(async {
                    ctx.call("create the leader Lease", || api.create(&params, &lease))
                        .await
                })
            }
            Action::Renew(mut lease) => {
                let before = lease.spec.take().unwrap_or_default();
                lease.spec = Some(LeaseSpec {
                    renew_time: Some(MicroTime(jiff::Timestamp::now())),
                    lease_duration_seconds: Some(self.duration_seconds()),
                    ..before
                });
                self.replace(&api, &name, &lease, "renew the leader Lease")
            }
            Action::TakeOver(mut lease) => {
                let before = lease.spec.take();
                lease.spec = Some(self.claim(before.as_ref()));
                self.replace(&api, &name, &lease, "take over the leader Lease")
            }
        };
        match written {
            Ok(lease) => {
                self.observe(&lease, now);
                self.renewed_at = Some(now);
                Ok(Leadership::Leading)
            }
            Err(KubeError::Conflict(_)) => {
                // Another replica wrote first: this round is lost.
                self.renewed_at = None;
                Ok(Leadership::Following {
                    holder: "(another replica, just now)".to_string(),
                })
            }
            Err(error) => Err(error),
        }
    }

    /// Gives the Lease up (holder cleared) if this replica holds it, so the
    /// next replica takes over at once instead of after a lease duration.
    pub fn release(&mut self) -> Result<(), KubeError> {
        let api = self.api();
        let name = self.settings.lease_name.clone();
        let ctx = self.cluster.ctx().clone();
        let Some(mut lease) = self.cluster.block_on(async {
            ctx.call("get the leader Lease", || api.get_opt(&name))
                .await
        })?
        else {
            return Ok(());
        };
        let holder = lease.spec.as_ref().and_then(|s| s.holder_identity.clone());
        if holder.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.renew_time = None;
        }
        self.renewed_at = None;
        match self.replace(&api, &name, &lease, "release the leader Lease") {
            Ok(_) | Err(KubeError::Conflict(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Writes `lease` back, conditional on the resourceVersion it was read
    /// with.
    fn replace(
        &self,
        api: &Api<Lease>,
        name: &str,
        lease: &Lease,
        step: &str,
    ) -> Result<Lease, KubeError> {
        let ctx = self.cluster.ctx().clone();
        let params = PostParams::default();
        self.cluster
            .block_on(async { ctx.call(step, || api.replace(name, &params, lease)).await })
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.settings.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }

    /// The spec naming this replica as a new holder.
    fn claim(&self, before: Option<&LeaseSpec>) -> LeaseSpec {
        let now = MicroTime(jiff::Timestamp::now());
        let transitions = before.and_then(|s| s.lease_transitions).unwrap_or(0);
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_duration_seconds: Some(self.duration_seconds()),
            lease_transitions: Some(if before.is_some() {
                transitions.saturating_add(1)
            } else {
                0
            }),
            ..LeaseSpec::default()
        }
    }

    /// Notes `lease`'s resourceVersion; a new one restarts the clock.
    fn observe(&mut self, lease: &Lease, now: Instant) {
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        match &self.observed {
            Some(seen) if seen.resource_version == version => {}
            _ => {
                self.observed = Some(Observed {
                    resource_version: version,
                    changed_at: now,
                })
            }
        }
    }

    fn decide(&mut self, current: Option<Lease>, now: Instant) -> Action {
        let Some(lease) = current else {
            return Action::Create;
        };
        self.observe(&lease, now);
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.unwrap_or_default();
        if holder == self.identity {
            return Action::Renew(lease);
        }
        if holder.is_empty() {
            return Action::TakeOver(lease);
        }
        // The holder's own claim of how long it keeps the Lease, else ours.
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.settings.lease_duration, Duration::from_secs);
        let unchanged_for = self.observed.as_ref().map_or(Duration::ZERO, |seen| {
            now.saturating_duration_since(seen.changed_at)
        });
        if unchanged_for >= duration {
            Action::TakeOver(lease)
        } else {
            Action::Follow(holder)
        }
    }
}

/// This process's identity: `$POD_NAME` (the Downward API) or the host
/// name, with the process id.
pub fn default_identity() -> String {
    let base = std::env::var("POD_NAME")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "leasebox".to_string());
    format!("{base}-{}", std::process::id())
}
