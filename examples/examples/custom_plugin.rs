//! A custom plugin with a service, a dependency and event subscriptions.
//!
//! `metrics_store` keeps the last value of every metric and offers it to other plugins as a
//! `metrics` service (an `Arc<dyn MetricsStore>`). `epoch_reporter` depends on it (`^1.0`),
//! subscribes to epoch events and a custom `note` event, and writes into the store.
//!
//! ```text
//! cargo run -p st-examples --example custom_plugin
//! ```

use st_core::events::PluginEvent;
use st_core::plugin::{
    global_registry, init_plugin_system, Plugin, PluginCapability, PluginContext, PluginMetadata,
};
use st_core::Result;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The service `metrics_store` offers.
trait MetricsStore: Send + Sync {
    fn put(&self, name: &str, value: f64);
    fn snapshot(&self) -> BTreeMap<String, f64>;
}

#[derive(Default)]
struct InMemoryStore(Mutex<BTreeMap<String, f64>>);

impl MetricsStore for InMemoryStore {
    fn put(&self, name: &str, value: f64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), value);
    }
    fn snapshot(&self) -> BTreeMap<String, f64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Default)]
struct MetricsStorePlugin;

impl Plugin for MetricsStorePlugin {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("metrics_store", "1.2.0")
            .with_name("Metrics store")
            .with_description("Keeps the latest value of each metric")
            .with_capability(PluginCapability::Telemetry)
    }
    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        let store: Arc<dyn MetricsStore> = Arc::new(InMemoryStore::default());
        ctx.register_service("metrics", store);
        Ok(())
    }
    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        println!("metrics_store: unloaded");
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[derive(Default)]
struct EpochReporter {
    epochs_seen: usize,
}

impl Plugin for EpochReporter {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("epoch_reporter", "0.3.0")
            .with_name("Epoch reporter")
            .with_author("SpiralTorch examples")
            .with_capability(PluginCapability::Custom("reporting".into()))
            .with_dependency("metrics_store", "^1.0")
    }
    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        let store = ctx
            .get_service::<Arc<dyn MetricsStore>>("metrics")
            .ok_or_else(|| st_core::Error::Plugin {
                plugin: "epoch_reporter".into(),
                reason: "metrics service missing".into(),
            })?;
        let prefix = ctx.config_or("reporter.prefix", ">>");
        ctx.subscribe(
            "EpochEnd",
            Arc::new(move |event| {
                if let PluginEvent::EpochEnd { epoch, metrics } = event {
                    for (k, v) in metrics {
                        store.put(k, *v);
                    }
                    println!("{prefix} epoch {epoch} done: {metrics:?}");
                }
            }),
        );
        ctx.subscribe(
            "note",
            Arc::new(|event| {
                if let Some(text) = event.custom_data::<String>() {
                    println!("note: {text}");
                }
            }),
        );
        Ok(())
    }
    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        println!(
            "epoch_reporter: saw {} epoch starts, unloaded",
            self.epochs_seen
        );
        Ok(())
    }
    fn on_event(&mut self, event: &PluginEvent, _ctx: &PluginContext) -> Result<()> {
        if let PluginEvent::EpochStart { .. } = event {
            self.epochs_seen += 1;
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

fn main() -> st_core::Result<()> {
    init_plugin_system()?;
    let registry = global_registry();
    registry.context().set_config("reporter.prefix", "[report]");
    // Registered dependent-first on purpose: the registry orders loading by dependency.
    registry.register(Box::new(EpochReporter::default()))?;
    registry.register(Box::new(MetricsStorePlugin))?;
    registry.initialize_all()?;
    for info in registry.list() {
        println!("{} {} ({:?})", info.id(), info.metadata.version, info.state);
    }

    let bus = registry.event_bus();
    for epoch in 0..3 {
        bus.publish(&PluginEvent::EpochStart { epoch });
        let loss = 1.0 / (epoch as f64 + 1.0);
        let metrics = BTreeMap::from([("loss".to_string(), loss)]);
        bus.publish(&PluginEvent::EpochEnd { epoch, metrics });
    }
    bus.publish(&PluginEvent::custom(
        "note",
        String::from("training finished"),
    ));

    let store = registry
        .context()
        .get_service::<Arc<dyn MetricsStore>>("metrics");
    if let Some(store) = store {
        println!("latest metrics: {:?}", store.snapshot());
    }
    let steps = registry.with_plugin::<EpochReporter, _>("epoch_reporter", |p| p.epochs_seen)?;
    println!("epoch_reporter counted {steps} epochs");
    // Unloading the store first unloads the reporter, which depends on it.
    registry.unload("metrics_store")?;
    registry.shutdown()
}
