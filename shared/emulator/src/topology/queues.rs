//! SQS queues: redrive policies, message size and retention within the ranges SQS accepts.

use sam_template::Resource;

use super::values::{flag, json_object, number, text};
use super::{LoadError, Topology, invalid};
use crate::sqs::{
    DEFAULT_RETENTION_SECONDS, MAX_MESSAGE_BYTES, MESSAGE_BYTES_RANGE, QueueConfig, RETENTION_SECONDS_RANGE,
};

impl Topology {
    pub(super) fn add_queue(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let property = |name: &str| resource.property(name);
        let redrive = match property("RedrivePolicy") {
            None => None,
            Some(policy) => {
                let policy = json_object(id, "Properties.RedrivePolicy", policy)?;
                let arn = text(policy.get("deadLetterTargetArn"))
                    .ok_or_else(|| invalid(id, "Properties.RedrivePolicy.deadLetterTargetArn", "missing"))?;
                // Checked now: at run time a message leaving for a DLQ that is not there is lost.
                if self.template.find(&arn).is_none_or(|r| r.kind != "AWS::SQS::Queue") {
                    return Err(invalid(
                        id,
                        "Properties.RedrivePolicy.deadLetterTargetArn",
                        format!("{arn} is not a queue of this template"),
                    ));
                }
                let count = number(policy.get("maxReceiveCount"))
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            id,
                            "Properties.RedrivePolicy.maxReceiveCount",
                            "must be a number from 1 to 1000",
                        )
                    })?;
                Some((count, arn))
            }
        };
        // Ranges and defaults as SQS documents them:
        // <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html>
        let max_message_bytes = match property("MaximumMessageSize") {
            None => MAX_MESSAGE_BYTES,
            Some(value) => number(Some(value))
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| MESSAGE_BYTES_RANGE.contains(n))
                .ok_or_else(|| {
                    invalid(
                        id,
                        "Properties.MaximumMessageSize",
                        "must be a number of bytes from 1024 to 1048576",
                    )
                })?,
        };
        let retention_seconds = match property("MessageRetentionPeriod") {
            None => DEFAULT_RETENTION_SECONDS,
            Some(value) => number(Some(value))
                .filter(|n| RETENTION_SECONDS_RANGE.contains(n))
                .ok_or_else(|| {
                    invalid(
                        id,
                        "Properties.MessageRetentionPeriod",
                        "must be a number of seconds from 60 to 1209600",
                    )
                })?,
        };
        self.queues.insert(
            id.clone(),
            QueueConfig {
                logical_id: id.clone(),
                arn: resource.arn.clone().unwrap_or_default(),
                url: resource.ref_value.clone().unwrap_or_default(),
                visibility_timeout_ms: number(property("VisibilityTimeout")).unwrap_or(30) * 1000,
                redrive,
                fifo: flag(property("FifoQueue")).unwrap_or(false),
                content_based_deduplication: flag(property("ContentBasedDeduplication")).unwrap_or(false),
                max_message_bytes,
                retention_ms: retention_seconds * 1000,
            },
        );
        Ok(())
    }
}
