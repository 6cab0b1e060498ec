//! Where the cluster is: an explicit kubeconfig path, `KUBECONFIG`,
//! `~/.kube/config`, or the pod's service account (in-cluster).

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::contract::KubeError;

/// Builds a kube-rs configuration.
///
/// - `kubeconfig` given: that file, with `context` (or its current context).
/// - otherwise, with `context` given: `KUBECONFIG` / `~/.kube/config` with
///   that context (in-cluster config has no contexts).
/// - otherwise: kube-rs inference (`KUBECONFIG`, `~/.kube/config`, then the
///   in-cluster service account).
///
/// kube-rs's built-in retry layer is switched off: [`super::retry`] does it.
pub(crate) async fn load(
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
) -> Result<kube::Config, KubeError> {
    let options = KubeConfigOptions {
        context: context.clone(),
        cluster: None,
        user: None,
    };
    let mut config = match (kubeconfig, context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(&path).map_err(|e| {
                KubeError::NoCluster(format!(
                    "cannot read the kubeconfig {}: {e}; check the path given with --kubeconfig",
                    path.display()
                ))
            })?;
            kube::Config::from_custom_kubeconfig(file, &options).await.map_err(|e| {
                KubeError::NoCluster(format!("cannot use the kubeconfig {}: {e}", path.display()))
            })?
        }
        (None, Some(name)) => kube::Config::from_kubeconfig(&options).await.map_err(|e| {
            KubeError::NoCluster(format!(
                "cannot use context {name:?} from KUBECONFIG or ~/.kube/config: {e}"
            ))
        })?,
        (None, None) => kube::Config::infer().await.map_err(|e| {
            KubeError::NoCluster(format!(
                "no cluster found: {e}; set KUBECONFIG, pass --kubeconfig, or run in a pod with a service account"
            ))
        })?,
    };
    config.default_retry = false;
    Ok(config)
}
