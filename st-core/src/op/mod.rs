//! The one closed list of operations ([`OpId`]) and the definition of each ([`OpDef`]).
//! See Note [Dispatch dtype] in `infer.rs`.

mod id;
mod infer;
mod params;

pub use id::{OpDef, OpId, OpKind};
pub use infer::{check_scalar, dispatch_dtype, infer, InferInput, TensorMeta};
pub use params::{Conv2dParams, DimVec, OpParams, WindowParams};
