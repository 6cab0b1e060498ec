//! The image a lease would run, as the image policy
//! ([`crate::hooks::Hooks::image_policy`]) sees it before it decides.

use crate::adapters::Adapter;
use crate::config::document::Config;

/// Where a lease's image comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSource {
    /// The request's `image-override`, used as given.
    Override,
    /// The adapter's image, rewritten to `imageRegistry` when one is set.
    Adapter,
}

/// An image resolved for a lease, not admitted yet.
#[derive(Debug, Clone, Copy)]
pub struct ImageCandidate<'a> {
    /// The full reference the workload would run; it parses.
    pub image: &'a str,
    /// Where it comes from.
    pub source: ImageSource,
    /// The lease's normalized configuration.
    pub config: &'a Config,
    /// The adapter in effect.
    pub adapter: &'a Adapter,
}
