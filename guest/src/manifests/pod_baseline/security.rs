//! The security baseline of every pod and container: non-root, no
//! privilege escalation, no capabilities, a read-only root, the runtime's
//! default seccomp profile.

use k8s_openapi::api::core::v1::{
    Capabilities, PodSecurityContext, SeccompProfile, SecurityContext,
};

/// uid, gid and fsGroup of every container.
pub const AGENT_UID: i64 = 1000;
/// Pod-level security: non-root uid/gid 1000, fsGroup 1000 changed only on
/// mismatch, the runtime's default seccomp profile.
pub(super) fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(AGENT_UID),
        run_as_group: Some(AGENT_UID),
        fs_group: Some(AGENT_UID),
        fs_group_change_policy: Some("OnRootMismatch".to_string()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_string(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// Container-level security of every container: read-only root, no
/// privilege escalation, no capabilities, non-root.
pub(super) fn container_security_context() -> SecurityContext {
    SecurityContext {
        read_only_root_filesystem: Some(true),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_string()]),
            ..Capabilities::default()
        }),
        run_as_non_root: Some(true),
        ..SecurityContext::default()
    }
}
