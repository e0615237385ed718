//! The AWS adapters: the stack's queues on SQS (found by name prefix, the stack's name), the
//! rule targets' and subscriptions' dead-letter configuration from EventBridge and SNS, and the
//! ledger in the stack's idempotency table on DynamoDB.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
};
use chrono::{DateTime, Utc};

use crate::error::RepairError;
use crate::ports::{Claim, DeadLetterSource, Ledger, MoveProgress, Peeked, QueueInfo, Queues};

/// How long a look keeps messages invisible while it gathers them all; they are made visible
/// again as soon as it has.
const LOOK_SECONDS: i32 = 30;

/// The stack's queues on SQS, and where its rules and subscriptions keep what they could not
/// deliver.
#[derive(Debug, Clone)]
pub struct SqsQueues {
    sqs: aws_sdk_sqs::Client,
    eventbridge: aws_sdk_eventbridge::Client,
    sns: aws_sdk_sns::Client,
    stack: String,
    bus: Option<String>,
}

impl SqsQueues {
    /// The queues whose names start with `stack` (the stack's name: CloudFormation names them
    /// `<stack>-<LogicalId>-<suffix>`); the rules of `bus`, when given, for their targets'
    /// dead-letter queues.
    pub fn new(config: &aws_config::SdkConfig, stack: &str, bus: Option<&str>) -> Self {
        Self {
            sqs: aws_sdk_sqs::Client::new(config),
            eventbridge: aws_sdk_eventbridge::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            stack: stack.to_owned(),
            bus: bus.map(str::to_owned),
        }
    }

    /// Every message of `queue` with its receipt handle, all invisible until [`Self::restore`].
    async fn gather(&self, queue: &QueueInfo) -> Result<Vec<(Peeked, String)>, RepairError> {
        let mut gathered: Vec<(Peeked, String)> = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(10)
                .visibility_timeout(LOOK_SECONDS)
                .wait_time_seconds(if gathered.is_empty() { 1 } else { 0 })
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(|e| RepairError::service(format!("sqs:ReceiveMessage on {}", queue.name), sdk(&e)))?;
            let messages = output.messages();
            if messages.is_empty() {
                return Ok(gathered);
            }
            for message in messages {
                let id = message.message_id().unwrap_or_default().to_owned();
                if gathered.iter().any(|(p, _)| p.id == id) {
                    continue;
                }
                let system = message.attributes();
                let system = |name: MessageSystemAttributeName| system.and_then(|a| a.get(&name)).map(String::as_str);
                let attributes = message
                    .message_attributes()
                    .into_iter()
                    .flatten()
                    .filter_map(|(name, value)| {
                        value
                            .string_value()
                            .or(value.binary_value().map(|_| "(binary)"))
                            .map(|v| (name.clone(), v.to_owned()))
                    })
                    .collect();
                let peeked = Peeked {
                    id,
                    body: message.body().unwrap_or_default().to_owned(),
                    attributes,
                    // The count includes this look's own receive: the message's, before it, is one less.
                    receive_count: system(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|c| c.parse::<u32>().ok())
                        .unwrap_or_default()
                        .saturating_sub(1),
                    sent_at: system(MessageSystemAttributeName::SentTimestamp)
                        .and_then(|t| t.parse::<i64>().ok())
                        .and_then(DateTime::from_timestamp_millis),
                };
                gathered.push((peeked, message.receipt_handle().unwrap_or_default().to_owned()));
            }
        }
    }

    /// Makes the messages received with `handles` visible again at once.
    async fn restore(&self, queue: &QueueInfo, handles: &[&str]) -> Result<(), RepairError> {
        for chunk in handles.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(*handle)
                        .visibility_timeout(0)
                        .build()
                        .map_err(|e| RepairError::service("sqs:ChangeMessageVisibilityBatch", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.sqs
                .change_message_visibility_batch()
                .queue_url(&queue.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    RepairError::service(format!("sqs:ChangeMessageVisibilityBatch on {}", queue.name), sdk(&e))
                })?;
        }
        Ok(())
    }

    async fn queue(&self, url: &str) -> Result<QueueInfo, RepairError> {
        let output = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| RepairError::service(format!("sqs:GetQueueAttributes on {url}"), sdk(&e)))?;
        let attributes = output.attributes();
        let get = |name: QueueAttributeName| attributes.and_then(|a| a.get(&name)).cloned();
        let count = |name: QueueAttributeName| get(name).and_then(|n| n.parse::<u64>().ok()).unwrap_or_default();
        Ok(QueueInfo {
            name: url.rsplit('/').next().unwrap_or(url).to_owned(),
            url: url.to_owned(),
            arn: get(QueueAttributeName::QueueArn).unwrap_or_default(),
            depth: count(QueueAttributeName::ApproximateNumberOfMessages)
                + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            dead_letter_arn: get(QueueAttributeName::RedrivePolicy)
                .as_deref()
                .and_then(dead_letter_target),
        })
    }

    async fn rule_dead_letters(&self, bus: &str) -> Result<Vec<DeadLetterSource>, RepairError> {
        let mut sources = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let rules = self
                .eventbridge
                .list_rules()
                .event_bus_name(bus)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| RepairError::service(format!("events:ListRules on {bus}"), sdk(&e)))?;
            for rule in rules.rules() {
                let name = rule.name().unwrap_or_default();
                let targets = self
                    .eventbridge
                    .list_targets_by_rule()
                    .rule(name)
                    .event_bus_name(bus)
                    .send()
                    .await
                    .map_err(|e| RepairError::service(format!("events:ListTargetsByRule {name}"), sdk(&e)))?;
                for target in targets.targets() {
                    if let Some(dlq) = target.dead_letter_config().and_then(|d| d.arn()) {
                        sources.push(DeadLetterSource {
                            dead_letter_arn: dlq.to_owned(),
                            name: format!("rule {name} target {}", target.id()),
                            target_arn: target.arn().to_owned(),
                        });
                    }
                }
            }
            match rules.next_token() {
                Some(token) => next = Some(token.to_owned()),
                None => return Ok(sources),
            }
        }
    }

    async fn subscription_dead_letters(&self) -> Result<Vec<DeadLetterSource>, RepairError> {
        let mut sources = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .sns
                .list_subscriptions()
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| RepairError::service("sns:ListSubscriptions", sdk(&e)))?;
            for subscription in page.subscriptions() {
                let topic = subscription.topic_arn().unwrap_or_default();
                let arn = subscription.subscription_arn().unwrap_or_default();
                if !topic.rsplit(':').next().unwrap_or_default().starts_with(&self.stack) || !arn.starts_with("arn:") {
                    continue;
                }
                let attributes = self
                    .sns
                    .get_subscription_attributes()
                    .subscription_arn(arn)
                    .send()
                    .await
                    .map_err(|e| RepairError::service(format!("sns:GetSubscriptionAttributes {arn}"), sdk(&e)))?;
                if let Some(dlq) = attributes
                    .attributes()
                    .and_then(|a| a.get("RedrivePolicy"))
                    .and_then(|p| dead_letter_target(p))
                {
                    sources.push(DeadLetterSource {
                        dead_letter_arn: dlq,
                        name: format!("subscription of {}", topic.rsplit(':').next().unwrap_or(topic)),
                        target_arn: subscription.endpoint().unwrap_or_default().to_owned(),
                    });
                }
            }
            match page.next_token() {
                Some(token) => next = Some(token.to_owned()),
                None => return Ok(sources),
            }
        }
    }
}

/// The `deadLetterTargetArn` of a `RedrivePolicy` (JSON text).
fn dead_letter_target(policy: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(policy)
        .ok()?
        .get("deadLetterTargetArn")?
        .as_str()
        .map(str::to_owned)
}

/// An SDK error with its service's message, not only "service error".
fn sdk<E: std::error::Error>(err: &E) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Queues for SqsQueues {
    async fn queues(&self) -> Result<Vec<QueueInfo>, RepairError> {
        let mut urls = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .sqs
                .list_queues()
                .queue_name_prefix(&self.stack)
                .max_results(1000)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| RepairError::service(format!("sqs:ListQueues --prefix {}", self.stack), sdk(&e)))?;
            urls.extend(page.queue_urls().iter().cloned());
            match page.next_token() {
                Some(token) => next = Some(token.to_owned()),
                None => break,
            }
        }
        let mut queues = Vec::with_capacity(urls.len());
        for url in urls {
            queues.push(self.queue(&url).await?);
        }
        Ok(queues)
    }

    async fn dead_letter_sources(&self) -> Result<Vec<DeadLetterSource>, RepairError> {
        let mut sources = match &self.bus {
            Some(bus) => self.rule_dead_letters(bus).await?,
            None => Vec::new(),
        };
        sources.extend(self.subscription_dead_letters().await?);
        Ok(sources)
    }

    async fn peek(&self, queue: &QueueInfo) -> Result<Vec<Peeked>, RepairError> {
        let gathered = self.gather(queue).await?;
        let handles: Vec<&str> = gathered.iter().map(|(_, h)| h.as_str()).collect();
        self.restore(queue, &handles).await?;
        let mut messages: Vec<Peeked> = gathered.into_iter().map(|(p, _)| p).collect();
        messages.sort_by_key(|m| m.sent_at);
        Ok(messages)
    }

    async fn send(
        &self,
        queue: &QueueInfo,
        body: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, RepairError> {
        let mut send = self.sqs.send_message().queue_url(&queue.url).message_body(body);
        for (name, value) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| RepairError::service("sqs:SendMessage", e))?;
            send = send.message_attributes(name, value);
        }
        let sent = send
            .send()
            .await
            .map_err(|e| RepairError::service(format!("sqs:SendMessage to {}", queue.name), sdk(&e)))?;
        Ok(sent.message_id().unwrap_or_default().to_owned())
    }

    async fn delete(&self, queue: &QueueInfo, id: &str) -> Result<bool, RepairError> {
        let gathered = self.gather(queue).await?;
        let (found, others): (Vec<_>, Vec<_>) = gathered.iter().partition(|(p, _)| p.id == id);
        let others: Vec<&str> = others.iter().map(|(_, h)| h.as_str()).collect();
        self.restore(queue, &others).await?;
        let Some((_, handle)) = found.first() else {
            return Ok(false);
        };
        self.sqs
            .delete_message()
            .queue_url(&queue.url)
            .receipt_handle(handle)
            .send()
            .await
            .map_err(|e| RepairError::service(format!("sqs:DeleteMessage {id} on {}", queue.name), sdk(&e)))?;
        Ok(true)
    }

    async fn start_move(&self, dead_letter: &QueueInfo, rate: Option<u32>) -> Result<(), RepairError> {
        let rate = rate.map(|r| i32::try_from(r).unwrap_or(i32::MAX));
        self.sqs
            .start_message_move_task()
            .source_arn(&dead_letter.arn)
            .set_max_number_of_messages_per_second(rate)
            .send()
            .await
            .map_err(|e| {
                RepairError::service(format!("sqs:StartMessageMoveTask from {}", dead_letter.name), sdk(&e))
            })?;
        Ok(())
    }

    async fn move_progress(&self, dead_letter: &QueueInfo) -> Result<MoveProgress, RepairError> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let output = self
            .sqs
            .list_message_move_tasks()
            .source_arn(&dead_letter.arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| {
                RepairError::service(format!("sqs:ListMessageMoveTasks from {}", dead_letter.name), sdk(&e))
            })?;
        let task = output.results().first().ok_or_else(|| {
            RepairError::service(
                format!("sqs:ListMessageMoveTasks from {}", dead_letter.name),
                "no move task listed",
            )
        })?;
        Ok(MoveProgress {
            status: task.status().unwrap_or("UNKNOWN").to_owned(),
            moved: u64::try_from(task.approximate_number_of_messages_moved()).unwrap_or_default(),
            to_move: task
                .approximate_number_of_messages_to_move()
                .and_then(|n| u64::try_from(n).ok()),
            failure: task.failure_reason().map(str::to_owned),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The idempotency table's key attribute (`shared/idempotency`'s DynamoDB store: `id`, S).
const KEY: &str = "id";
/// The idempotency table's TTL attribute (epoch seconds, N).
const EXPIRATION: &str = "expiration";
/// When a resubmit was claimed (RFC 3339).
const RESUBMITTED_AT: &str = "resubmittedAt";

/// The ledger in the stack's idempotency table (`IDEMPOTENCY_TABLE`): an item per resubmit,
/// keyed `resubmit#...` beside the consumers' records, kept [`crate::LEDGER_DAYS`] by the
/// table's TTL.
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoLedger {
    /// The ledger in `table`.
    pub fn new(config: &aws_config::SdkConfig, table: &str) -> Self {
        Self {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_owned(),
        }
    }
}

impl Ledger for DynamoLedger {
    async fn claim(&self, key: &str, at: DateTime<Utc>) -> Result<Claim, RepairError> {
        let expires = at + chrono::Duration::days(crate::LEDGER_DAYS);
        let item = HashMap::from([
            (KEY.to_owned(), AttributeValue::S(key.to_owned())),
            (
                EXPIRATION.to_owned(),
                AttributeValue::N(expires.timestamp().to_string()),
            ),
            (RESUBMITTED_AT.to_owned(), AttributeValue::S(at.to_rfc3339())),
        ]);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#key)")
            .expression_attribute_names("#key", KEY)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Claimed),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed)) => {
                    let at = failed
                        .item()
                        .and_then(|item| item.get(RESUBMITTED_AT))
                        .and_then(|v| v.as_s().ok())
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t.with_timezone(&Utc));
                    Ok(Claim::Already(at))
                }
                _ => Err(RepairError::service(
                    format!("dynamodb:PutItem {key} in {}", self.table),
                    sdk(&err),
                )),
            },
        }
    }

    async fn release(&self, key: &str) -> Result<(), RepairError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .send()
            .await
            .map_err(|e| RepairError::service(format!("dynamodb:DeleteItem {key} in {}", self.table), sdk(&e)))?;
        Ok(())
    }
}
