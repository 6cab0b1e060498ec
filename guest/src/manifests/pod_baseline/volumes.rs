//! The volume layout of every pod: the workspace, a writable `$HOME` and
//! its cache, `/tmp`, and the supervisor's binary, each with its mount.

use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, PersistentVolumeClaimVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::config::{Backend, Workspace};
use crate::manifests::context::Context;
use crate::names;

/// Volume of `/workspace` (also the `volumeClaimTemplates` name).
pub const WORKSPACE_VOLUME: &str = "workspace";
/// Volume of `$HOME`.
pub const HOME_VOLUME: &str = "home";
/// Volume of `$HOME/.cache`.
pub const CACHE_VOLUME: &str = "home-cache";
/// Volume of `/tmp`.
pub const TMP_VOLUME: &str = "tmp";
/// Volume the supervisor binary is side-loaded into.
pub const BIN_VOLUME: &str = "leasebox-bin";

/// Mount path of the workspace.
pub const WORKSPACE_PATH: &str = "/workspace";
/// `$HOME` of the agent: writable, since agent CLIs fail silently without.
pub const HOME_PATH: &str = "/home/agent";
/// Mount path of the cache volume.
pub const CACHE_PATH: &str = "/home/agent/.cache";
/// Mount path of the temp volume.
pub const TMP_PATH: &str = "/tmp";
/// Where the supervisor binary is installed (read-only for the agent).
pub const BIN_PATH: &str = "/opt/leasebox/bin";

/// Size limit of `$HOME`.
pub const HOME_SIZE: &str = "1Gi";
/// Size limit of `$HOME/.cache`.
pub const CACHE_SIZE: &str = "1Gi";
/// Size limit of `/tmp`.
pub const TMP_SIZE: &str = "2Gi";
/// Size limit of the supervisor volume: one static binary.
pub const BIN_SIZE: &str = "512Mi";

/// Mounts of the agent container.
pub(super) fn agent_mounts(with_supervisor: bool) -> Vec<VolumeMount> {
    let mut mounts = vec![
        mount(WORKSPACE_VOLUME, WORKSPACE_PATH, false),
        mount(HOME_VOLUME, HOME_PATH, false),
        mount(CACHE_VOLUME, CACHE_PATH, false),
        mount(TMP_VOLUME, TMP_PATH, false),
    ];
    if with_supervisor {
        mounts.push(mount(BIN_VOLUME, BIN_PATH, true));
    }
    mounts
}

/// Volumes of the pod. A `pvc` workspace of a Sandbox has none: the
/// agent-sandbox controller adds a volume named after its
/// `volumeClaimTemplates` entry ([`WORKSPACE_VOLUME`]).
pub(super) fn volumes(ctx: &Context, with_supervisor: bool) -> Vec<Volume> {
    let mut volumes = Vec::new();
    match (&ctx.config.workspace, ctx.config.backend) {
        (Workspace::EmptyDir { size_limit }, _) => {
            volumes.push(empty_dir(WORKSPACE_VOLUME, size_limit));
        }
        (Workspace::Pvc { .. }, Backend::SandboxCr) => {}
        (Workspace::Pvc { .. }, Backend::Job | Backend::Pod) => volumes.push(Volume {
            name: WORKSPACE_VOLUME.to_string(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: names::workspace_claim_name(&ctx.lease_id),
                ..PersistentVolumeClaimVolumeSource::default()
            }),
            ..Volume::default()
        }),
    }
    volumes.push(empty_dir(HOME_VOLUME, HOME_SIZE));
    volumes.push(empty_dir(CACHE_VOLUME, CACHE_SIZE));
    volumes.push(empty_dir(TMP_VOLUME, TMP_SIZE));
    if with_supervisor {
        volumes.push(empty_dir(BIN_VOLUME, BIN_SIZE));
    }
    volumes
}

/// An `emptyDir` volume capped at `size_limit`.
fn empty_dir(name: &str, size_limit: &str) -> Volume {
    Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(size_limit.to_string())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A mount of the volume `name` at `path`.
pub(super) fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}
