//! Tenant namespaces: what a call learns of each (ownership label, company
//! mark; read once per call), which it may read and write, and how a
//! Namespace is made (the host stamps its marks, never adopts one).

use super::marks::{self, Marks};
use super::rule::Rule;
use super::{COMPANY_ANNOTATION, GuardedCluster, NamespaceFacts, namespace_ref, unowned_message};
use crate::cluster::manifest::Manifest;
use crate::contract::KubeError;
use crate::locks::lock;

impl GuardedCluster {
    /// What this call knows of `namespace`, read once per call: `None`
    /// when it does not exist.
    pub(super) fn facts(&self, namespace: &str) -> Result<Option<NamespaceFacts>, KubeError> {
        if let Some(known) = lock(&self.namespaces).get(namespace) {
            return Ok(known.clone());
        }
        let facts = self
            .read(&namespace_ref(namespace))?
            .map(|object| NamespaceFacts::of(&object));
        self.remember(namespace, facts.clone());
        Ok(facts)
    }

    pub(super) fn remember(&self, namespace: &str, facts: Option<NamespaceFacts>) {
        lock(&self.namespaces).insert(namespace.to_string(), facts);
    }

    /// A namespace the call's company may use: when the call is for a
    /// company, the namespace's mark must be that company's.
    pub(super) fn check_company(
        &self,
        what: &str,
        namespace: &str,
        facts: &NamespaceFacts,
    ) -> Result<(), KubeError> {
        let Some(company) = self.scope.company.as_deref() else {
            return Ok(());
        };
        match facts.company.as_deref() {
            Some(mark) if mark == company => Ok(()),
            Some(_) => self.deny(
                Rule::TenantCompany,
                format!(
                    "{what} in namespace `{namespace}`: the namespace is another company's \
                     tenant, and this call is for company `{company}`; company ids that map to \
                     one namespace are refused (choose another companySlug, use the same \
                     company id, or an operator declares the ids one company in the host \
                     settings' fence.companyAliases)"
                ),
            ),
            None => self.deny(
                Rule::TenantCompany,
                format!(
                    "{what} in namespace `{namespace}`: the namespace carries no company mark \
                     ({COMPANY_ANNOTATION}); if it is company `{company}`'s (made by an older \
                     leasebox), an operator marks it: kubectl annotate namespace {namespace} \
                     {COMPANY_ANNOTATION}=<company id>"
                ),
            ),
        }
    }

    /// A read of objects in `namespace`: inside the fence and, for a call
    /// for a company, in that company's namespace.
    pub(super) fn check_read(&self, what: &str, namespace: &str) -> Result<(), KubeError> {
        self.check_fence(what, Some(namespace))?;
        if self.scope.company.is_none() {
            return Ok(());
        }
        match self.facts(namespace)? {
            // Nothing there to read.
            None => Ok(()),
            Some(facts) => self.check_company(what, namespace, &facts),
        }
    }

    /// True when a namespace's objects may be shown to this call: inside
    /// the fence and, for a call for a company, that company's.
    pub(super) fn readable(&self, namespace: &str) -> Result<bool, KubeError> {
        if self.fence_rule(namespace).is_some() {
            return Ok(false);
        }
        let Some(company) = self.scope.company.as_deref() else {
            return Ok(true);
        };
        Ok(self
            .facts(namespace)?
            .is_some_and(|f| f.owned && f.company.as_deref() == Some(company)))
    }

    /// A write into `namespace`: inside the fence, the namespace exists,
    /// carries the ownership label and, for a call for a company, that
    /// company's mark. Returns what is known of it.
    pub(super) fn check_write(
        &self,
        what: &str,
        namespace: Option<&str>,
    ) -> Result<NamespaceFacts, KubeError> {
        self.check_fence(what, namespace)?;
        let ns = namespace.unwrap_or("");
        let Some(facts) = self.facts(ns)? else {
            return Err(KubeError::NotFound(format!(
                "{what}: namespace `{ns}` does not exist; apply the Namespace first"
            )));
        };
        if !facts.owned {
            return self.deny(Rule::FenceUnowned, unowned_message(what, ns));
        }
        self.check_company(what, ns, &facts)?;
        Ok(facts)
    }

    /// Applies a Namespace, for a call for a company: inside the fence;
    /// created by the host with the ownership label and the company's mark
    /// when missing, converged when it carries both, refused otherwise.
    pub(super) fn apply_namespace(&self, mut manifest: Manifest) -> Result<String, KubeError> {
        let name = manifest.name.clone();
        let what = format!("apply of Namespace `{name}`");
        self.check_fence(&what, Some(&name))?;
        let Some(company) = self.scope.company.clone() else {
            return self.deny(
                Rule::TenantCompany,
                format!("{what}: a namespace is made only by a call for a company"),
            );
        };
        let marks = Marks {
            company: Some(&company),
            ..Marks::default()
        };
        if let Err((rule, message)) = marks::check(&manifest.value, "Namespace", &marks) {
            return self.deny(rule, format!("{what}: {message}"));
        }
        marks::stamp(&mut manifest.value, "Namespace", &marks);
        let converge = |facts: Option<NamespaceFacts>| match facts {
            Some(f) if !f.owned => self.deny(Rule::FenceUnowned, unowned_message(&what, &name)),
            Some(f) => {
                self.check_company(&what, &name, &f)?;
                self.inner.apply(manifest.clone())
            }
            None => Err(KubeError::Conflict(format!(
                "{what}: the namespace was deleted while it was being created"
            ))),
        };
        match self.facts(&name)? {
            Some(facts) => converge(Some(facts)),
            None => match self.inner.create(manifest.clone()) {
                Ok(created) => {
                    self.remember(
                        &name,
                        Some(NamespaceFacts {
                            owned: true,
                            company: Some(company.clone()),
                        }),
                    );
                    Ok(created)
                }
                // Someone created it between the read and the create: look
                // again, and use it only if it is this company's.
                Err(KubeError::Conflict(_)) => {
                    lock(&self.namespaces).remove(&name);
                    converge(self.facts(&name)?)
                }
                Err(other) => Err(other),
            },
        }
    }
}
