//! The containers of the pod: the agent (its command, environment and
//! resources) and, with a supervisor, the init container that installs it.

use k8s_openapi::api::core::v1::{
    Container, EnvFromSource, EnvVar, ResourceRequirements, SecretEnvSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::security::container_security_context;
use super::volumes::{BIN_PATH, BIN_VOLUME, HOME_PATH, agent_mounts, mount};
use crate::config::{Backend, Supervisor};
use crate::lease::Command;
use crate::manifests::context::Context;
use crate::manifests::object::quantities;
use crate::{image, names};

/// Extended resource of a GPU.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// The agent container: the lease's image running the agent command
/// (see [`agent_command`]), its Secret as environment, `$HOME` writable.
pub(super) fn agent_container(ctx: &Context, supervisor: Option<&Supervisor>) -> Container {
    let (command, args) = agent_command(ctx, supervisor);
    let env_from = vec![EnvFromSource {
        secret_ref: Some(SecretEnvSource {
            name: names::secret_name(&ctx.lease_id),
            ..SecretEnvSource::default()
        }),
        ..EnvFromSource::default()
    }];

    Container {
        name: names::AGENT_CONTAINER.to_string(),
        image: Some(ctx.image.clone()),
        image_pull_policy: Some(image::pull_policy(&ctx.image).to_string()),
        command,
        args,
        env: Some(vec![EnvVar {
            name: "HOME".to_string(),
            value: Some(HOME_PATH.to_string()),
            ..EnvVar::default()
        }]),
        env_from: Some(env_from),
        resources: Some(agent_resources(ctx)),
        security_context: Some(container_security_context()),
        volume_mounts: Some(agent_mounts(supervisor.is_some())),
        ..Container::default()
    }
}

/// Command and args of the agent container.
fn agent_command(
    ctx: &Context,
    supervisor: Option<&Supervisor>,
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    if ctx.config.backend == Backend::Job {
        // plan::resolve::context guarantees a command for a Job; without one the
        // image's own entrypoint runs.
        return match &ctx.command {
            Some(Command::Argv(argv)) => (Some(argv.clone()), None),
            Some(Command::Shell(line)) => (
                Some(vec!["sh".to_string(), "-lc".to_string(), line.clone()]),
                None,
            ),
            None => (None, None),
        };
    }
    match supervisor {
        Some(s) => (
            Some(vec![format!("{BIN_PATH}/{}", binary_name(&s.binary))]),
            (!s.args.is_empty()).then(|| s.args.clone()),
        ),
        None => (
            Some(vec!["sleep".to_string(), "infinity".to_string()]),
            None,
        ),
    }
}

/// File name of the supervisor binary once installed.
pub fn binary_name(binary: &str) -> &str {
    binary
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .unwrap_or("supervisor")
}

/// The init container that copies the supervisor binary into
/// [`BIN_VOLUME`]: same non-root baseline as the agent, resources at the
/// LimitRange floor so that it never eats the tenant quota.
pub(super) fn supervisor_install(ctx: &Context, supervisor: &Supervisor) -> Container {
    let quota = &ctx.config.quota;
    let floor = quantities(&[("cpu", &quota.min_cpu), ("memory", &quota.min_memory)]);
    let command = supervisor.install.clone().unwrap_or_else(|| {
        vec![
            "cp".to_string(),
            supervisor.binary.clone(),
            format!("{BIN_PATH}/"),
        ]
    });
    Container {
        name: names::SUPERVISOR_INIT_CONTAINER.to_string(),
        image: Some(supervisor.image.clone()),
        image_pull_policy: Some(image::pull_policy(&supervisor.image).to_string()),
        command: Some(command),
        resources: Some(ResourceRequirements {
            requests: Some(floor.clone()),
            limits: Some(floor),
            ..ResourceRequirements::default()
        }),
        security_context: Some(container_security_context()),
        volume_mounts: Some(vec![mount(BIN_VOLUME, BIN_PATH, false)]),
        ..Container::default()
    }
}

/// Requests and limits of the agent container, plus the GPU limit.
fn agent_resources(ctx: &Context) -> ResourceRequirements {
    let r = &ctx.config.default_resources;
    let mut limits = quantities(&[("cpu", &r.limits.cpu), ("memory", &r.limits.memory)]);
    if ctx.config.gpu > 0 {
        limits.insert(
            GPU_RESOURCE.to_string(),
            Quantity(ctx.config.gpu.to_string()),
        );
    }
    ResourceRequirements {
        requests: Some(quantities(&[
            ("cpu", &r.requests.cpu),
            ("memory", &r.requests.memory),
        ])),
        limits: Some(limits),
        ..ResourceRequirements::default()
    }
}
