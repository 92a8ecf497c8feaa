//! The [`Module`] trait, its visitors, state dicts and the containers.

mod containers;
mod module_trait;
mod state;
mod visit;

pub use containers::{ModuleList, Sequential};
pub use module_trait::Module;
pub use state::{Incompatible, StateDict};
pub use visit::{Item, Mode, Slot, Visitor, VisitorMut};
