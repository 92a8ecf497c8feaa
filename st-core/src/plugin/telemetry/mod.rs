//! Built-in telemetry plugins, each an ordinary [`Plugin`](super::Plugin): an op profiler
//! writing Chrome trace JSON (opens in Perfetto and `chrome://tracing`), per-(op, backend, dtype)
//! statistics, and a JSONL event recorder.

mod profiler;
mod recorder;
mod stats;

pub use profiler::{OpProfiler, OpRecord, ProfilerHandle};
pub use recorder::{event_to_json, EventRecorder};
pub use stats::{OpStat, OpStats, StatsHandle};
