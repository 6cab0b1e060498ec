//! Resolving a lease request into the [`Context`] the builders read: the
//! request's ids and times checked, the adapter found, and the image, the
//! tenant namespace and the egress plan decided by the policy's [`Hooks`].

use crate::adapters::{self, Adapter};
use crate::config::{Backend, Config};
use crate::error::PolicyError;
use crate::hooks::Hooks;
use crate::image::{ImageCandidate, ImageSource, adapter_image, parse};
use crate::lease::{Command, LeaseRequest};
use crate::manifests::Context;
use crate::{names, time};

/// Resolves a lease request against a normalized configuration: the
/// image (admitted by [`Hooks::image_policy`], see [`image`]), the tenant
/// namespace ([`Hooks::tenant_namespace`]) and the egress plan
/// ([`Hooks::egress`]) come from `hooks`.
///
/// `now` is normalized to UTC with second precision, so the annotations
/// and `shutdownTime` of every object carry the same spelling.
pub fn context(
    hooks: &dyn Hooks,
    config: Config,
    request: &LeaseRequest,
) -> Result<Context, PolicyError> {
    names::check_lease_id(&request.lease_id)
        .map_err(|e| PolicyError::BadRequest(format!("lease id: {e}")))?;
    if request.company_id.trim().is_empty() {
        return Err(PolicyError::BadRequest(
            "company id is empty; pass the id of the tenant the lease is for".into(),
        ));
    }
    if request.run_id.trim().is_empty() {
        return Err(PolicyError::BadRequest(
            "run id is empty; pass the id of the run the lease is for".into(),
        ));
    }
    let now =
        time::parse(&request.now).map_err(|e| PolicyError::BadRequest(format!("now: {e}")))?;
    let expires_at = time::add_seconds(now, u64::from(config.lease_max_age_sec))
        .map_err(|e| PolicyError::BadRequest(format!("leaseMaxAgeSec: {e}")))?;

    let adapter_type = request
        .adapter_type
        .clone()
        .unwrap_or_else(|| config.adapter_type.clone());
    let adapter = adapters::find(&config, &adapter_type).ok_or_else(|| {
        let known: Vec<String> = adapters::registry(&config)
            .into_iter()
            .map(|a| a.adapter_type)
            .collect();
        PolicyError::NotAllowed(format!(
            "adapter `{adapter_type}` is not in the registry; use one of: {}, or declare it \
             under `adapters`",
            known.join(", ")
        ))
    })?;

    let command = match config.backend {
        Backend::Job => Some(job_command(request.command.as_ref())?),
        Backend::SandboxCr | Backend::Pod => None,
    };

    let image = image(hooks, &config, &adapter, request.image_override.as_deref())?;
    let namespace = hooks.tenant_namespace(&config, &request.company_id);
    let egress = hooks.egress(&config, &adapter);

    Ok(Context {
        company_id: request.company_id.clone(),
        run_id: request.run_id.clone(),
        lease_id: request.lease_id.clone(),
        now: time::format(now),
        expires_at,
        namespace,
        adapter,
        image,
        egress,
        command,
        config,
    })
}

/// The image a lease runs: the override or the adapter's default,
/// rewritten to `imageRegistry`, once the image policy of `hooks` admits
/// it.
///
/// The override is used as given (not rewritten): the allow-list is what
/// the operator approved.
pub fn image(
    hooks: &dyn Hooks,
    config: &Config,
    adapter: &Adapter,
    image_override: Option<&str>,
) -> Result<String, PolicyError> {
    let (image, source) = match image_override {
        Some(image) => {
            parse(image).map_err(|e| PolicyError::BadRequest(format!("image override: {e}")))?;
            (image.to_string(), ImageSource::Override)
        }
        None => (adapter_image(config, adapter)?, ImageSource::Adapter),
    };
    hooks.image_policy(&ImageCandidate {
        image: &image,
        source,
        config,
        adapter,
    })?;
    Ok(image)
}

/// The command a `job` lease runs: required, and not empty.
fn job_command(command: Option<&Command>) -> Result<Command, PolicyError> {
    match command {
        None => Err(PolicyError::BadRequest(
            "command: the job backend runs one command to completion; pass `command` (an argv \
             or a shell string)"
                .into(),
        )),
        Some(Command::Argv(argv)) if argv.first().is_none_or(|a| a.is_empty()) => {
            Err(PolicyError::BadRequest(
                "command: the argv is empty or starts with an empty program; pass the program \
                 to run first"
                    .into(),
            ))
        }
        Some(Command::Shell(s)) if s.trim().is_empty() => Err(PolicyError::BadRequest(
            "command: the shell string is empty; pass the command line to run".into(),
        )),
        Some(c) => Ok(c.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::hooks::DefaultHooks;
    use crate::manifests::fixture::{self, LEASE};

    fn config(overrides: Value) -> Config {
        let mut base = json!({ "inCluster": true });
        if let (Some(b), Some(o)) = (base.as_object_mut(), overrides.as_object()) {
            b.extend(o.clone());
        }
        serde_json::from_value(base).expect("config parses")
    }

    #[test]
    fn context_carries_deadline_and_normalized_now() {
        let mut request = fixture::request(&json!({}));
        request.now = "2026-11-23T12:00:00+02:00".into();
        let ctx = context(
            &DefaultHooks,
            config(json!({ "leaseMaxAgeSec": 3600 })),
            &request,
        )
        .expect("context resolves");
        assert_eq!(ctx.now, "2026-11-23T10:00:00Z");
        assert_eq!(ctx.expires_at, "2026-11-23T11:00:00Z");
        assert_eq!(ctx.lease_id, LEASE);
        assert!(ctx.namespace.starts_with("leasebox-"), "{}", ctx.namespace);
    }

    #[test]
    fn bad_lease_id_is_a_bad_request_naming_it() {
        let mut request = fixture::request(&json!({}));
        request.lease_id = "pod-1".into();
        let err = context(&DefaultHooks, config(json!({})), &request).expect_err("bad id");
        assert!(
            matches!(&err, PolicyError::BadRequest(m) if m.starts_with("lease id:")),
            "{err}"
        );
    }

    #[test]
    fn empty_company_id_is_a_bad_request() {
        let mut request = fixture::request(&json!({}));
        request.company_id = "  ".into();
        let err = context(&DefaultHooks, config(json!({})), &request).expect_err("empty company");
        assert!(
            matches!(&err, PolicyError::BadRequest(m) if m.contains("company id")),
            "{err}"
        );
    }

    #[test]
    fn empty_run_id_is_a_bad_request() {
        let mut request = fixture::request(&json!({}));
        request.run_id = String::new();
        let err = context(&DefaultHooks, config(json!({})), &request).expect_err("empty run");
        assert!(
            matches!(&err, PolicyError::BadRequest(m) if m.contains("run id")),
            "{err}"
        );
    }

    #[test]
    fn unparseable_now_is_a_bad_request() {
        let mut request = fixture::request(&json!({}));
        request.now = "tomorrow".into();
        let err = context(&DefaultHooks, config(json!({})), &request).expect_err("bad now");
        assert!(
            matches!(&err, PolicyError::BadRequest(m) if m.starts_with("now:")),
            "{err}"
        );
    }

    #[test]
    fn unknown_adapter_is_not_allowed_and_lists_the_known_ones() {
        let mut request = fixture::request(&json!({}));
        request.adapter_type = Some("no_such_agent".into());
        let err = context(&DefaultHooks, config(json!({})), &request).expect_err("unknown adapter");
        match err {
            PolicyError::NotAllowed(m) => {
                assert!(m.contains("no_such_agent"), "{m}");
                assert!(m.contains("claude_local"), "{m}");
            }
            other => panic!("expected NotAllowed, got {other:?}"),
        }
    }

    #[test]
    fn per_run_adapter_overrides_the_configured_one() {
        let declared = json!({ "adapters": [{ "adapterType": "my_agent", "image": "ghcr.io/acme/agent:1.2.3" }] });
        let mut request = fixture::request(&json!({}));
        request.adapter_type = Some("my_agent".into());
        let ctx = context(&DefaultHooks, config(declared), &request).expect("context resolves");
        assert_eq!(ctx.adapter.adapter_type, "my_agent");
        assert_eq!(ctx.image, "ghcr.io/acme/agent:1.2.3");
    }

    #[test]
    fn job_backend_without_command_is_a_bad_request_naming_command() {
        let mut request = fixture::request(&json!({}));
        request.command = None;
        let err = context(&DefaultHooks, config(json!({ "backend": "job" })), &request)
            .expect_err("job needs a command");
        assert!(
            matches!(&err, PolicyError::BadRequest(m) if m.starts_with("command:")),
            "{err}"
        );
    }

    #[test]
    fn job_backend_with_empty_argv_is_a_bad_request() {
        let mut request = fixture::request(&json!({}));
        request.command = Some(Command::Argv(vec![]));
        let err = context(&DefaultHooks, config(json!({ "backend": "job" })), &request)
            .expect_err("empty argv");
        assert!(matches!(err, PolicyError::BadRequest(_)), "{err}");
    }

    #[test]
    fn sandbox_backends_ignore_the_command() {
        let ctx = fixture::context(json!({ "backend": "pod" }));
        assert_eq!(ctx.command, None);
    }
}
