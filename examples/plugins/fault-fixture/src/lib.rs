//! Test fixture for st-core's plugin fault tests (`st-core/tests/plugins_faults.rs`): a dynamic
//! plugin that misbehaves on the event bus the way the host configures, through the config key
//! `fault_fixture.mode`, before `initialize_all`:
//!
//! - `bus_panic`: subscribes to `fault.ping` through the public `ctx.event_bus` field with a
//!   callback that panics;
//! - `leak`: subscribes to `fault.ping` through `ctx.event_bus`, counting calls into the host's
//!   service `fault_fixture.hits` (an `Arc<AtomicUsize>`), and never unsubscribes;
//! - `block`: subscribes to `fault.block`; the callback sets the host's service
//!   `fault_fixture.gate` (an `Arc<AtomicUsize>`) to 1, waits (at most 60 s) until the host sets
//!   it to 2, then sets it to 3 and returns;
//! - `echo`: subscribes to `fault.echo` and republishes every event it receives, counting calls
//!   into `fault_fixture.hits`.
//!
//! Any other mode, or none, makes it a well-behaved plugin that does nothing.

use st_core::events::PluginEvent;
use st_core::plugin::{Plugin, PluginContext, PluginMetadata};
use st_core::{Error, Result};
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Plugin id.
pub const ID: &str = "fault_fixture";
/// Config key selecting the behaviour.
pub const MODE: &str = "fault_fixture.mode";
/// Service counting callback calls.
pub const HITS: &str = "fault_fixture.hits";
/// Service the `block` callback synchronizes on.
pub const GATE: &str = "fault_fixture.gate";

/// The plugin.
#[derive(Default)]
pub struct FaultFixture;

fn counter(ctx: &PluginContext, name: &str) -> Result<Arc<AtomicUsize>> {
    ctx.get_service::<Arc<AtomicUsize>>(name)
        .ok_or_else(|| Error::Plugin {
            plugin: ID.into(),
            reason: format!("the host did not provide the {name} service"),
        })
}

impl Plugin for FaultFixture {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(ID, env!("CARGO_PKG_VERSION"))
            .with_description("Misbehaves on the event bus, for st-core's fault tests")
    }

    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        let bus = ctx.event_bus.clone();
        match ctx.config_or(MODE, "good").as_str() {
            "bus_panic" => {
                bus.subscribe(
                    "fault.ping",
                    Arc::new(|_| panic!("fault_fixture: bus callback panicked")),
                );
            }
            "leak" => {
                let hits = counter(ctx, HITS)?;
                bus.subscribe(
                    "fault.ping",
                    Arc::new(move |_| {
                        hits.fetch_add(1, Ordering::SeqCst);
                    }),
                );
            }
            "block" => {
                let gate = counter(ctx, GATE)?;
                bus.subscribe(
                    "fault.block",
                    Arc::new(move |_| {
                        gate.store(1, Ordering::SeqCst);
                        let start = Instant::now();
                        while gate.load(Ordering::SeqCst) != 2
                            && start.elapsed() < Duration::from_secs(60)
                        {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        gate.store(3, Ordering::SeqCst);
                    }),
                );
            }
            "echo" => {
                let hits = counter(ctx, HITS)?;
                let again = bus.clone();
                bus.subscribe(
                    "fault.echo",
                    Arc::new(move |event: &PluginEvent| {
                        hits.fetch_add(1, Ordering::SeqCst);
                        again.publish(event);
                    }),
                );
            }
            _ => {}
        }
        Ok(())
    }

    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

st_core::declare_plugin!(ID, FaultFixture);
