//! One rule's targets, for a replay with a rule filter: what EventBridge's archive replay does
//! with `FilterArns`, done by the tool since `PutEvents` cannot name a rule.

use aws_sdk_eventbridge::Client as EventBridge;
use aws_sdk_sqs::Client as Sqs;
use envelope::Envelope;
use event_pattern::Pattern;
use serde_json::Value;

/// An SQS target of the rule.
#[derive(Debug, Clone)]
pub struct Target {
    /// The target's id in the rule.
    pub id: String,
    /// The queue's URL.
    pub queue_url: String,
    /// `SqsParameters.MessageGroupId`, for a FIFO queue.
    pub message_group_id: Option<String>,
}

/// A rule, read from EventBridge: its pattern and its SQS targets.
#[derive(Debug)]
pub struct RuleTargets {
    rule: String,
    pattern: Pattern,
    targets: Vec<Target>,
    account: String,
    region: String,
}

/// What a delivery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Events the rule's pattern matched, sent to each target.
    pub matched: usize,
    /// Events it did not match: not sent, as the rule would not have sent them.
    pub skipped: usize,
}

impl RuleTargets {
    /// Reads rule `rule` on bus `bus`: its pattern (DescribeRule) and targets
    /// (ListTargetsByRule). Every target must be an SQS queue taking the whole event.
    pub async fn load(events: &EventBridge, sqs: &Sqs, bus: &str, rule: &str) -> Result<Self, String> {
        let described = events
            .describe_rule()
            .name(rule)
            .event_bus_name(bus)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "rule {rule} on {bus}: {}",
                    aws_sdk_eventbridge::error::DisplayErrorContext(e)
                )
            })?;
        let pattern_text = described
            .event_pattern()
            .ok_or_else(|| format!("rule {rule} has no event pattern (a scheduled rule replays nothing)"))?;
        let pattern: Pattern = pattern_text
            .parse()
            .map_err(|e: event_pattern::PatternError| format!("rule {rule}: its pattern: {}", e.aws_message()))?;
        let arn = described.arn().unwrap_or_default();
        // arn:aws:events:<region>:<account>:rule/<bus>/<rule>
        let parts: Vec<&str> = arn.split(':').collect();
        let (region, account) = match parts.as_slice() {
            [_, _, _, region, account, ..] => ((*region).to_owned(), (*account).to_owned()),
            _ => return Err(format!("rule {rule}: unexpected ARN {arn}")),
        };
        let listed = events
            .list_targets_by_rule()
            .rule(rule)
            .event_bus_name(bus)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "targets of {rule}: {}",
                    aws_sdk_eventbridge::error::DisplayErrorContext(e)
                )
            })?;
        let mut targets = Vec::new();
        for target in listed.targets() {
            let id = target.id().to_owned();
            if target.input().is_some() || target.input_path().is_some() || target.input_transformer().is_some() {
                return Err(format!(
                    "target {id} of {rule} reshapes the event (Input, InputPath or InputTransformer); replay to it through the bus instead"
                ));
            }
            let queue_arn = target.arn();
            let queue_name = match queue_arn.split(':').collect::<Vec<_>>().as_slice() {
                [_, _, "sqs", _, _, name] => (*name).to_owned(),
                _ => {
                    return Err(format!(
                        "target {id} of {rule} is {queue_arn}: only SQS targets are replayed to"
                    ));
                }
            };
            let owner = queue_arn.split(':').nth(4).unwrap_or_default();
            let url = sqs
                .get_queue_url()
                .queue_name(&queue_name)
                .queue_owner_aws_account_id(owner)
                .send()
                .await
                .map_err(|e| format!("queue {queue_name}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
            targets.push(Target {
                id,
                queue_url: url.queue_url().unwrap_or_default().to_owned(),
                message_group_id: target
                    .sqs_parameters()
                    .and_then(|p| p.message_group_id())
                    .map(str::to_owned),
            });
        }
        if targets.is_empty() {
            return Err(format!("rule {rule} has no targets"));
        }
        Ok(Self {
            rule: rule.to_owned(),
            pattern,
            targets,
            account,
            region,
        })
    }

    /// The targets.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Sends each of `events` the rule's pattern matches to every target, as EventBridge would
    /// deliver it, marked as replay `replay`; in order, one at a time (a FIFO target keeps it).
    pub async fn deliver(&self, sqs: &Sqs, events: &[Envelope<Value>], replay: &str) -> Result<Delivered, String> {
        let mut delivered = Delivered::default();
        for envelope in events {
            let event = crate::replayed_event(envelope, replay, &self.account, &self.region)
                .map_err(|e| format!("event {}: {e}", envelope.metadata.id))?;
            if !self.pattern.matches(&event) {
                delivered.skipped += 1;
                continue;
            }
            let body = event.to_string();
            for target in &self.targets {
                let mut send = sqs.send_message().queue_url(&target.queue_url).message_body(&body);
                if let Some(group) = &target.message_group_id {
                    let dedup = event.get("id").and_then(Value::as_str).unwrap_or_default();
                    send = send.message_group_id(group).message_deduplication_id(dedup);
                }
                send.send().await.map_err(|e| {
                    format!(
                        "{} to target {} of {}: {}",
                        envelope.metadata.id,
                        target.id,
                        self.rule,
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    )
                })?;
            }
            delivered.matched += 1;
        }
        Ok(delivered)
    }
}
