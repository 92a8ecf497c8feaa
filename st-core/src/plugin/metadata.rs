//! What a plugin says about itself: [`PluginMetadata`] (id, semver version, capabilities,
//! dependencies with semver ranges) and [`PluginCapability`].

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// What a plugin provides, for discovery with `PluginRegistry::find_by_capability`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PluginCapability {
    /// A compute backend, e.g. `Backend("CUDA")`, `Backend("WGPU")`, `Backend("CPU")`.
    Backend(String),
    /// Tensor operators.
    Operators,
    /// Loss functions for training.
    LossFunctions,
    /// Optimization algorithms.
    Optimizers,
    /// Data loading and preprocessing.
    DataLoaders,
    /// Visualization and plotting.
    Visualization,
    /// Monitoring and metrics.
    Telemetry,
    /// NLP and language models.
    Language,
    /// Computer vision.
    Vision,
    /// RL environments and agents.
    ReinforcementLearning,
    /// GNN components.
    GraphNeuralNetworks,
    /// Recommendation systems.
    Recommender,
    /// Anything else.
    Custom(String),
}

impl std::fmt::Display for PluginCapability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginCapability::Backend(b) => write!(f, "Backend({b})"),
            PluginCapability::Custom(c) => write!(f, "Custom({c})"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A dependency on another plugin: its id and a semver requirement (`">=1.0.0"`, `"^2.0"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginDependency {
    /// Id of the plugin depended on.
    pub id: String,
    /// Semver requirement its version must satisfy.
    pub version_req: String,
}

/// Description of a plugin, built with [`PluginMetadata::new`] and the `with_*` methods.
///
/// ```
/// use st_core::plugin::{PluginCapability, PluginMetadata};
/// let m = PluginMetadata::new("my_plugin", "1.0.0")
///     .with_name("My Plugin")
///     .with_capability(PluginCapability::Operators)
///     .with_dependency("base_plugin", ">=1.0.0");
/// assert_eq!(m.dependencies[0].id, "base_plugin");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginMetadata {
    /// Unique id (registry key).
    pub id: String,
    /// Semantic version (`"1.2.3"`).
    pub version: String,
    /// Human-readable name (defaults to the id).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Author.
    pub author: String,
    /// What the plugin provides.
    pub capabilities: Vec<PluginCapability>,
    /// Plugins that must be loaded first, with version requirements.
    pub dependencies: Vec<PluginDependency>,
    /// Free-form key/value metadata.
    pub metadata: BTreeMap<String, String>,
}

impl PluginMetadata {
    /// Metadata with `id` and `version`; everything else empty.
    pub fn new(id: impl Into<String>, version: impl Into<String>) -> Self {
        let id = id.into();
        PluginMetadata {
            name: id.clone(),
            id,
            version: version.into(),
            description: String::new(),
            author: String::new(),
            capabilities: Vec::new(),
            dependencies: Vec::new(),
            metadata: BTreeMap::new(),
        }
    }

    /// Sets the display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the author.
    pub fn with_author(mut self, author: impl Into<String>) -> Self {
        self.author = author.into();
        self
    }

    /// Adds a capability.
    pub fn with_capability(mut self, capability: PluginCapability) -> Self {
        self.capabilities.push(capability);
        self
    }

    /// Adds a dependency on plugin `id` whose version must satisfy `version_req` (semver).
    pub fn with_dependency(
        mut self,
        id: impl Into<String>,
        version_req: impl Into<String>,
    ) -> Self {
        self.dependencies.push(PluginDependency {
            id: id.into(),
            version_req: version_req.into(),
        });
        self
    }

    /// Adds a key/value pair.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// True when the plugin declares `capability`.
    pub fn has_capability(&self, capability: &PluginCapability) -> bool {
        self.capabilities.contains(capability)
    }

    /// Parses the version and every dependency requirement.
    ///
    /// # Errors
    /// [`Error::Plugin`] naming the plugin when the id is empty, the version is not semver, a
    /// requirement does not parse, or the plugin depends on itself.
    pub fn validate(&self) -> Result<(semver::Version, Vec<semver::VersionReq>)> {
        let fail = |reason: String| Error::Plugin {
            plugin: self.id.clone(),
            reason,
        };
        if self.id.trim().is_empty() {
            return Err(fail("plugin id is empty".into()));
        }
        let version = semver::Version::parse(&self.version).map_err(|e| {
            fail(format!(
                "version {:?} is not semantic versioning: {e}",
                self.version
            ))
        })?;
        let reqs = self
            .dependencies
            .iter()
            .map(|d| {
                if d.id == self.id {
                    return Err(fail("depends on itself".into()));
                }
                semver::VersionReq::parse(&d.version_req).map_err(|e| {
                    fail(format!(
                        "dependency {} has an invalid version requirement {:?}: {e}",
                        d.id, d.version_req
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((version, reqs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_bad_versions() {
        assert!(PluginMetadata::new("a", "1.2.3").validate().is_ok());
        assert!(PluginMetadata::new("a", "1.2").validate().is_err());
        assert!(PluginMetadata::new("", "1.2.3").validate().is_err());
        let bad_req = PluginMetadata::new("a", "1.0.0").with_dependency("b", "=>1");
        assert!(bad_req.validate().is_err());
        let own = PluginMetadata::new("a", "1.0.0").with_dependency("a", "*");
        assert!(own.validate().is_err());
    }
}
