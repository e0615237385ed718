//! Event source mappings from queues to functions, refused as Lambda refuses them when they are
//! created (batch and window bounds, a visibility timeout shorter than the function's).

use sam_template::Resource;
use serde_json::Value;

use super::values::{flag, number, text};
use super::{LoadError, Topology, invalid};
use crate::esm::MappingConfig;

impl Topology {
    pub(super) fn add_mapping(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let source = text(resource.property("EventSourceArn"))
            .ok_or_else(|| invalid(id, "Properties.EventSourceArn", "missing"))?;
        let queue = self.queue_of(id, "Properties.EventSourceArn", &source)?;
        let function = self.function_named(resource)?;
        self.push_mapping(id, queue, function, resource.properties.clone())
    }

    pub(super) fn push_mapping(
        &mut self,
        id: &str,
        queue: String,
        function: String,
        properties: Value,
    ) -> Result<(), LoadError> {
        let batch_size = number(properties.get("BatchSize")).unwrap_or(10);
        let window = number(properties.get("MaximumBatchingWindowInSeconds")).unwrap_or(0);
        if !(1..=10_000).contains(&batch_size) || !(0..=300).contains(&window) || (batch_size > 10 && window == 0) {
            return Err(invalid(
                id,
                "Properties.BatchSize",
                "BatchSize must be 1..=10000 (over 10 needs MaximumBatchingWindowInSeconds > 0) and the window 0..=300 s",
            ));
        }
        // Lambda refuses these mappings when they are created.
        let queue_config = self.queues.get(&queue);
        let timeout_ms = self
            .functions
            .get(&function)
            .map_or(0, |f| i64::try_from(f.spec.timeout.as_millis()).unwrap_or(i64::MAX));
        if let Some(config) = queue_config {
            if config.visibility_timeout_ms < timeout_ms {
                return Err(invalid(
                    id,
                    "Properties.EventSourceArn",
                    format!(
                        "{queue}'s visibility timeout ({} s) is shorter than {function}'s timeout ({} s)",
                        config.visibility_timeout_ms / 1000,
                        timeout_ms / 1000
                    ),
                ));
            }
            if config.fifo && batch_size > 10 {
                return Err(invalid(
                    id,
                    "Properties.BatchSize",
                    "a FIFO queue's batches are at most 10",
                ));
            }
        }
        let maximum_concurrency = match number(properties.pointer("/ScalingConfig/MaximumConcurrency")) {
            None => None,
            Some(limit @ 2..=1000) => usize::try_from(limit).ok(),
            Some(_) => {
                return Err(invalid(
                    id,
                    "Properties.ScalingConfig.MaximumConcurrency",
                    "must be 2..=1000",
                ));
            }
        };
        let report = match properties.get("FunctionResponseTypes") {
            None => false,
            Some(Value::Array(types)) => types.iter().any(|t| t == "ReportBatchItemFailures"),
            Some(_) => return Err(invalid(id, "Properties.FunctionResponseTypes", "must be a list")),
        };
        self.mappings.push(MappingConfig {
            logical_id: id.to_owned(),
            queue,
            function,
            batch_size: usize::try_from(batch_size).unwrap_or(10),
            window_ms: window * 1000,
            report_batch_item_failures: report,
            enabled: flag(properties.get("Enabled")).unwrap_or(true),
            maximum_concurrency,
        });
        Ok(())
    }
}
