//! `serve.moduleDir` and `serve.reload.fromClients`: whether a serve client
//! may name a module file in `policy.reload`, and where it must be.
//!
//! Every client of serve's socket acts for every company, but loading a
//! module is the operator's decision: off by default, a client's
//! `policy.reload {path}` is refused; when the operator turns it on, the
//! path must resolve (symlinks followed, `..` removed) inside the one
//! directory the operator named. A reload without a path (the operator's
//! own `--policy` file again) is always allowed.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::SettingsError;

/// `serve.reload` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ReloadFile {
    from_clients: Option<bool>,
}

/// Whether serve clients may load module files, and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSettings {
    /// `serve.reload.fromClients` (default false).
    pub from_clients: bool,
    /// `serve.moduleDir`: the directory a client's module must resolve
    /// into; required when `from_clients` is true.
    pub module_dir: Option<PathBuf>,
}

/// Why a client's `policy.reload {path}` was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadRefused {
    /// The operator has not let clients name module files.
    #[error(
        "policy.reload with a path is off on this server: the operator must set \
         `serve.reload.fromClients: true` and `serve.moduleDir` in the host settings; \
         without a path, policy.reload re-reads the server's own --policy file"
    )]
    FromClientsOff,
    /// The path does not resolve (missing, or a component is not readable).
    #[error(
        "policy.reload: the path {path} does not resolve ({source}); give the path of a \
         module file inside `serve.moduleDir` ({dir})"
    )]
    Unresolvable {
        /// The path the client gave.
        path: String,
        /// The operator's module directory.
        dir: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The module directory itself does not resolve.
    #[error(
        "policy.reload: `serve.moduleDir` ({dir}) does not resolve ({source}); the operator \
         must create it or fix the host settings"
    )]
    ModuleDirUnresolvable {
        /// The operator's module directory.
        dir: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The path resolves outside the module directory.
    #[error(
        "policy.reload: the path {path} resolves to {resolved}, outside `serve.moduleDir` \
         ({dir}); put the module in that directory, or change `serve.moduleDir` in the host \
         settings"
    )]
    OutsideModuleDir {
        /// The path the client gave.
        path: String,
        /// Where it resolves.
        resolved: String,
        /// The operator's module directory, resolved.
        dir: String,
    },
}

impl ReloadRefused {
    /// The `data.reason` of the refusal in serve's answer.
    pub fn reason(&self) -> &'static str {
        match self {
            ReloadRefused::FromClientsOff => "reload-from-clients-off",
            ReloadRefused::Unresolvable { .. }
            | ReloadRefused::ModuleDirUnresolvable { .. }
            | ReloadRefused::OutsideModuleDir { .. } => "outside-module-dir",
        }
    }
}

impl ReloadSettings {
    /// The canonical form of `path`, a module file a client named, when the
    /// operator lets clients name one and it resolves inside
    /// `serve.moduleDir`.
    pub fn admit(&self, path: &Path) -> Result<PathBuf, ReloadRefused> {
        let Some(dir) = self.module_dir.as_deref().filter(|_| self.from_clients) else {
            return Err(ReloadRefused::FromClientsOff);
        };
        let shown = |p: &Path| p.display().to_string();
        let dir = dir
            .canonicalize()
            .map_err(|source| ReloadRefused::ModuleDirUnresolvable {
                dir: shown(dir),
                source,
            })?;
        let resolved = path
            .canonicalize()
            .map_err(|source| ReloadRefused::Unresolvable {
                path: shown(path),
                dir: shown(&dir),
                source,
            })?;
        // Component-wise: `/mods-evil` is not inside `/mods`.
        if resolved.starts_with(&dir) && resolved != dir {
            Ok(resolved)
        } else {
            Err(ReloadRefused::OutsideModuleDir {
                path: shown(path),
                resolved: shown(&resolved),
                dir: shown(&dir),
            })
        }
    }
}

/// `serve.reload` and `serve.moduleDir` checked together: clients may name
/// modules only with a directory to take them from, given as an absolute
/// path.
pub(super) fn reload_settings(
    file: ReloadFile,
    module_dir: Option<PathBuf>,
) -> Result<ReloadSettings, SettingsError> {
    if let Some(dir) = &module_dir
        && !dir.is_absolute()
    {
        return Err(SettingsError::Invalid {
            field: "serve.moduleDir",
            message: format!(
                "is {}; use an absolute path (the directory a client's policy.reload may load \
                 modules from)",
                dir.display()
            ),
        });
    }
    let from_clients = file.from_clients.unwrap_or(false);
    if from_clients && module_dir.is_none() {
        return Err(SettingsError::Invalid {
            field: "serve.reload.fromClients",
            message: "is true without `serve.moduleDir`; set the directory clients may load \
                      modules from, or leave fromClients false"
                .into(),
        });
    }
    Ok(ReloadSettings {
        from_clients,
        module_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("leasebox-reload-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("mods")).expect("temp dir");
        std::fs::write(dir.join("mods/policy.wasm"), b"\0asm").expect("module");
        std::fs::write(dir.join("outside.wasm"), b"\0asm").expect("module");
        dir
    }

    fn allowed(dir: &Path) -> ReloadSettings {
        ReloadSettings {
            from_clients: true,
            module_dir: Some(dir.join("mods")),
        }
    }

    #[test]
    fn by_default_a_client_path_is_refused_naming_the_setting() {
        let dir = module_dir("default");
        let refused = ReloadSettings::default()
            .admit(&dir.join("mods/policy.wasm"))
            .expect_err("off by default");
        assert_eq!(refused.reason(), "reload-from-clients-off");
        assert!(
            refused
                .to_string()
                .contains("serve.reload.fromClients: true")
        );
    }

    #[test]
    fn a_module_dir_without_from_clients_still_refuses() {
        let dir = module_dir("dir-only");
        let settings = ReloadSettings {
            from_clients: false,
            module_dir: Some(dir.join("mods")),
        };
        let refused = settings.admit(&dir.join("mods/policy.wasm"));
        assert!(matches!(refused, Err(ReloadRefused::FromClientsOff)));
    }

    #[test]
    fn a_file_inside_the_module_dir_is_admitted_canonical() {
        let dir = module_dir("inside");
        let admitted = allowed(&dir)
            .admit(&dir.join("mods/../mods/./policy.wasm"))
            .expect("inside");
        assert_eq!(
            admitted,
            dir.join("mods/policy.wasm").canonicalize().expect("exists")
        );
    }

    #[test]
    fn dot_dot_out_of_the_module_dir_is_refused() {
        let dir = module_dir("dotdot");
        let refused = allowed(&dir)
            .admit(&dir.join("mods/../outside.wasm"))
            .expect_err("outside");
        assert!(matches!(refused, ReloadRefused::OutsideModuleDir { .. }));
        assert_eq!(refused.reason(), "outside-module-dir");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_in_the_module_dir_to_a_file_outside_is_refused() {
        let dir = module_dir("symlink");
        std::os::unix::fs::symlink("/etc/passwd", dir.join("mods/evil.wasm")).expect("link");
        let refused = allowed(&dir)
            .admit(&dir.join("mods/evil.wasm"))
            .expect_err("outside");
        assert!(
            refused.to_string().contains("resolves to /etc/passwd"),
            "{refused}"
        );
    }

    #[test]
    fn a_sibling_directory_sharing_the_prefix_is_outside() {
        let dir = module_dir("sibling");
        std::fs::create_dir_all(dir.join("mods-evil")).expect("dir");
        std::fs::write(dir.join("mods-evil/policy.wasm"), b"\0asm").expect("module");
        let refused = allowed(&dir).admit(&dir.join("mods-evil/policy.wasm"));
        assert!(matches!(
            refused,
            Err(ReloadRefused::OutsideModuleDir { .. })
        ));
    }

    #[test]
    fn a_missing_path_is_refused_without_reading_anything() {
        let dir = module_dir("missing");
        let refused = allowed(&dir).admit(&dir.join("mods/nope.wasm"));
        assert!(matches!(refused, Err(ReloadRefused::Unresolvable { .. })));
    }

    #[test]
    fn from_clients_without_a_module_dir_is_refused_at_start() {
        let file = ReloadFile {
            from_clients: Some(true),
        };
        let error = reload_settings(file, None).expect_err("needs a dir");
        assert!(
            error.to_string().contains("`serve.reload.fromClients`"),
            "{error}"
        );
    }

    #[test]
    fn a_relative_module_dir_is_refused() {
        let error =
            reload_settings(ReloadFile::default(), Some("mods".into())).expect_err("relative");
        assert!(error.to_string().contains("`serve.moduleDir`"), "{error}");
    }
}
