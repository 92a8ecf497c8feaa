//! The plugin system of seed spiraltorch-plugin-system.md.
