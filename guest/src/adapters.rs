//! Built-in adapters (agent CLIs) and the declared registry merged over them.

use std::collections::BTreeMap;

use crate::config::document::{AdapterDecl, Config};

/// One adapter: the image that runs it, the secrets it needs, where it
/// talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// Name used in `adapterType`.
    pub adapter_type: String,
    /// Default image.
    pub image: String,
    /// Env keys the host fills into the per-run Secret.
    pub env_keys: Vec<String>,
    /// DNS names the adapter needs.
    pub allow_fqdns: Vec<String>,
    /// Version command.
    pub probe_command: Option<String>,
    /// Non-secret env values.
    pub default_env: BTreeMap<String, String>,
}

/// Registry and organisation of the built-in adapter images.
const BUILTIN_IMAGE_PREFIX: &str = "ghcr.io/paperclipai/agent-runtime-";

/// Tag of the built-in adapter images.
const BUILTIN_IMAGE_TAG: &str = "v1";

/// One built-in adapter as data.
struct Builtin {
    adapter_type: &'static str,
    /// Image name after [`BUILTIN_IMAGE_PREFIX`].
    image: &'static str,
    env_keys: &'static [&'static str],
    allow_fqdns: &'static [&'static str],
    probe_command: &'static str,
}

/// The built-ins (the paperclip plugin's defaults).
const BUILTINS: [Builtin; 6] = [
    Builtin {
        adapter_type: "claude_local",
        image: "claude",
        env_keys: &["ANTHROPIC_API_KEY"],
        allow_fqdns: &["api.anthropic.com"],
        probe_command: "claude --version",
    },
    Builtin {
        adapter_type: "codex_local",
        image: "codex",
        env_keys: &["OPENAI_API_KEY"],
        allow_fqdns: &["api.openai.com"],
        probe_command: "codex --version",
    },
    Builtin {
        adapter_type: "gemini_local",
        image: "gemini",
        env_keys: &["GOOGLE_API_KEY", "GEMINI_API_KEY"],
        allow_fqdns: &["generativelanguage.googleapis.com"],
        probe_command: "gemini --version",
    },
    Builtin {
        adapter_type: "cursor_local",
        image: "cursor",
        env_keys: &["ANTHROPIC_API_KEY", "OPENAI_API_KEY"],
        allow_fqdns: &["api.anthropic.com", "api.openai.com"],
        probe_command: "cursor-agent --version",
    },
    Builtin {
        adapter_type: "opencode_local",
        image: "opencode",
        env_keys: &["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY"],
        allow_fqdns: &["api.anthropic.com", "api.openai.com", "openrouter.ai"],
        probe_command: "opencode --version",
    },
    Builtin {
        adapter_type: "pi_local",
        image: "pi",
        env_keys: &["ANTHROPIC_API_KEY"],
        allow_fqdns: &["api.anthropic.com"],
        probe_command: "pi --version",
    },
];

/// The six built-in adapters.
pub fn builtins() -> Vec<Adapter> {
    BUILTINS
        .iter()
        .map(|b| Adapter {
            adapter_type: b.adapter_type.to_string(),
            image: format!("{BUILTIN_IMAGE_PREFIX}{}:{BUILTIN_IMAGE_TAG}", b.image),
            env_keys: b.env_keys.iter().map(|k| (*k).to_string()).collect(),
            allow_fqdns: b.allow_fqdns.iter().map(|f| (*f).to_string()).collect(),
            probe_command: Some(b.probe_command.to_string()),
            default_env: BTreeMap::new(),
        })
        .collect()
}

/// The names of the built-in adapters, in registry order.
pub fn builtin_types() -> Vec<&'static str> {
    BUILTINS.iter().map(|b| b.adapter_type).collect()
}

impl From<&AdapterDecl> for Adapter {
    fn from(decl: &AdapterDecl) -> Adapter {
        Adapter {
            adapter_type: decl.adapter_type.clone(),
            image: decl.image.clone(),
            env_keys: decl.env_keys.clone(),
            allow_fqdns: decl.allow_fqdns.clone(),
            probe_command: decl.probe_command.clone(),
            default_env: decl.default_env.clone(),
        }
    }
}

/// Built-ins with the configuration's declared adapters merged over them.
///
/// A declared adapter with a built-in's `adapterType` replaces it in place;
/// the others follow the built-ins in declaration order (a later
/// declaration of the same type replaces an earlier one).
pub fn registry(config: &Config) -> Vec<Adapter> {
    let mut adapters = builtins();
    for decl in &config.adapters {
        let declared = Adapter::from(decl);
        match adapters
            .iter_mut()
            .find(|a| a.adapter_type == declared.adapter_type)
        {
            Some(slot) => *slot = declared,
            None => adapters.push(declared),
        }
    }
    adapters
}

/// The adapter named `adapter_type` in the configuration's registry.
pub fn find(config: &Config, adapter_type: &str) -> Option<Adapter> {
    registry(config)
        .into_iter()
        .find(|a| a.adapter_type == adapter_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::{AdapterDecl, Config};
    use rstest::rstest;

    fn config_with(adapters: Vec<AdapterDecl>) -> Config {
        let mut config: Config = match serde_json::from_str(r#"{"inCluster":true}"#) {
            Ok(c) => c,
            Err(e) => panic!("minimal config does not parse: {e}"),
        };
        config.adapters = adapters;
        config
    }

    fn decl(adapter_type: &str, image: &str) -> AdapterDecl {
        AdapterDecl {
            adapter_type: adapter_type.into(),
            image: image.into(),
            env_keys: vec!["MY_KEY".into()],
            allow_fqdns: vec!["api.example.com".into()],
            probe_command: None,
            default_env: BTreeMap::new(),
        }
    }

    #[rstest]
    #[case::claude(
        "claude_local",
        "ghcr.io/paperclipai/agent-runtime-claude:v1",
        &["ANTHROPIC_API_KEY"],
        &["api.anthropic.com"],
        "claude --version"
    )]
    #[case::codex(
        "codex_local",
        "ghcr.io/paperclipai/agent-runtime-codex:v1",
        &["OPENAI_API_KEY"],
        &["api.openai.com"],
        "codex --version"
    )]
    #[case::gemini(
        "gemini_local",
        "ghcr.io/paperclipai/agent-runtime-gemini:v1",
        &["GOOGLE_API_KEY", "GEMINI_API_KEY"],
        &["generativelanguage.googleapis.com"],
        "gemini --version"
    )]
    #[case::cursor(
        "cursor_local",
        "ghcr.io/paperclipai/agent-runtime-cursor:v1",
        &["ANTHROPIC_API_KEY", "OPENAI_API_KEY"],
        &["api.anthropic.com", "api.openai.com"],
        "cursor-agent --version"
    )]
    #[case::opencode(
        "opencode_local",
        "ghcr.io/paperclipai/agent-runtime-opencode:v1",
        &["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY"],
        &["api.anthropic.com", "api.openai.com", "openrouter.ai"],
        "opencode --version"
    )]
    #[case::pi(
        "pi_local",
        "ghcr.io/paperclipai/agent-runtime-pi:v1",
        &["ANTHROPIC_API_KEY"],
        &["api.anthropic.com"],
        "pi --version"
    )]
    fn builtin_adapter_matches_the_paperclip_defaults(
        #[case] adapter_type: &str,
        #[case] image: &str,
        #[case] env_keys: &[&str],
        #[case] fqdns: &[&str],
        #[case] probe: &str,
    ) {
        let config = config_with(Vec::new());
        let found = find(&config, adapter_type);
        let Some(adapter) = found else {
            panic!("{adapter_type} is not a built-in");
        };
        assert_eq!(adapter.image, image);
        assert_eq!(adapter.env_keys, env_keys);
        assert_eq!(adapter.allow_fqdns, fqdns);
        assert_eq!(adapter.probe_command.as_deref(), Some(probe));
        assert!(adapter.default_env.is_empty());
    }

    #[test]
    fn there_are_exactly_six_builtins_in_table_order() {
        let types: Vec<String> = builtins().into_iter().map(|a| a.adapter_type).collect();
        assert_eq!(
            types,
            [
                "claude_local",
                "codex_local",
                "gemini_local",
                "cursor_local",
                "opencode_local",
                "pi_local"
            ]
        );
        assert_eq!(builtin_types(), types);
    }

    #[test]
    fn declared_adapter_with_a_builtin_name_replaces_it_in_place() {
        let config = config_with(vec![decl("codex_local", "registry.local/codex:2")]);
        let registry = registry(&config);
        assert_eq!(registry.len(), 6);
        assert_eq!(registry[1].adapter_type, "codex_local");
        assert_eq!(registry[1].image, "registry.local/codex:2");
        assert_eq!(registry[1].env_keys, ["MY_KEY"]);
        assert_eq!(registry[1].probe_command, None);
    }

    #[test]
    fn new_declared_adapters_follow_the_builtins_in_order() {
        let config = config_with(vec![
            decl("zeta", "registry.local/zeta:1"),
            decl("alpha", "registry.local/alpha:1"),
        ]);
        let types: Vec<String> = registry(&config)
            .into_iter()
            .map(|a| a.adapter_type)
            .collect();
        assert_eq!(types.len(), 8);
        assert_eq!(types[6], "zeta");
        assert_eq!(types[7], "alpha");
        assert_eq!(
            find(&config, "alpha").map(|a| a.image),
            Some("registry.local/alpha:1".to_string())
        );
    }

    #[test]
    fn unknown_adapter_is_not_found() {
        assert_eq!(find(&config_with(Vec::new()), "acpx_local"), None);
    }
}
