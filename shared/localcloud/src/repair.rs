//! The repair tools on the local cloud: [`LocalQueues`] implements the `repair` crate's
//! [`Queues`] port over a [`LocalCloud`]'s queues (the template's logical ids as names), and
//! [`what_consumers_did`] reads the timeline of the run after a redrive or a resubmit.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use emulator::cloud::{Entry, LocalCloud, What};
use emulator::sqs::{Message, Outgoing};
use emulator::topology::Endpoint;
use repair::{DeadLetterSource, MoveProgress, Peeked, QueueInfo, Queues, RepairError};

/// The logical id of the template's parking queue.
pub const PARKING_QUEUE: &str = "ParkingQueue";

/// The local cloud's queues, for the repair tools: a move task moves at once (its messages
/// arrive at the rate in virtual time when the cloud runs again).
pub struct LocalQueues<'a> {
    cloud: RefCell<&'a mut LocalCloud>,
    moves: RefCell<HashMap<String, MoveProgress>>,
}

impl<'a> LocalQueues<'a> {
    /// The queues of `cloud`.
    pub fn new(cloud: &'a mut LocalCloud) -> Self {
        Self {
            cloud: RefCell::new(cloud),
            moves: RefCell::default(),
        }
    }
}

fn peeked(cloud: &LocalCloud, message: &Message) -> Peeked {
    Peeked {
        id: message.id.clone(),
        body: message.sent.body.clone(),
        attributes: message.sent.attributes.clone(),
        receive_count: message.receive_count,
        sent_at: Some(cloud.instant(message.sent_at)),
    }
}

impl Queues for LocalQueues<'_> {
    async fn queues(&self) -> Result<Vec<QueueInfo>, RepairError> {
        let cloud = self.cloud.borrow();
        Ok(cloud
            .queues()
            .map(|q| QueueInfo {
                name: q.config().logical_id.clone(),
                url: q.config().url.clone(),
                arn: q.config().arn.clone(),
                depth: q.len() as u64,
                dead_letter_arn: q.config().redrive.as_ref().map(|(_, arn)| arn.clone()),
            })
            .collect())
    }

    async fn dead_letter_sources(&self) -> Result<Vec<DeadLetterSource>, RepairError> {
        let cloud = self.cloud.borrow();
        let topology = cloud.topology();
        let arn_of = |logical_id: &str| topology.queues.get(logical_id).map(|q| q.arn.clone());
        let subscriptions = topology
            .template
            .of_kind("AWS::SNS::Subscription")
            .filter_map(|subscription| {
                let text = |pointer: &str| subscription.properties.pointer(pointer)?.as_str().map(str::to_owned);
                Some(DeadLetterSource {
                    dead_letter_arn: text("/RedrivePolicy/deadLetterTargetArn")?,
                    name: format!("subscription {}", subscription.logical_id),
                    target_arn: text("/Endpoint").unwrap_or_default(),
                })
            });
        Ok(topology
            .rules
            .iter()
            .flat_map(|rule| rule.targets.iter().map(move |target| (rule, target)))
            .filter_map(|(rule, target)| {
                let dead_letter_arn = arn_of(target.dead_letter.as_deref()?)?;
                let target_arn = match &target.endpoint {
                    Endpoint::Queue(queue) => arn_of(queue).unwrap_or_else(|| queue.clone()),
                    other => other.logical_id().to_owned(),
                };
                Some(DeadLetterSource {
                    dead_letter_arn,
                    name: format!("rule {} target {}", rule.logical_id, target.id),
                    target_arn,
                })
            })
            .chain(subscriptions)
            .collect())
    }

    async fn peek(&self, queue: &QueueInfo) -> Result<Vec<Peeked>, RepairError> {
        let cloud = self.cloud.borrow();
        let found = cloud
            .queue(&queue.name)
            .ok_or_else(|| RepairError::service("ReceiveMessage", format!("no queue {}", queue.name)))?;
        Ok(found.messages().map(|m| peeked(&cloud, m)).collect())
    }

    async fn send(
        &self,
        queue: &QueueInfo,
        body: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, RepairError> {
        let message = Outgoing {
            attributes: attributes.clone(),
            ..Outgoing::body(body)
        };
        self.cloud
            .borrow_mut()
            .send_now(&queue.name, message)
            .map_err(|e| RepairError::service(format!("SendMessage to {}", queue.name), e))
    }

    async fn delete(&self, queue: &QueueInfo, id: &str) -> Result<bool, RepairError> {
        Ok(self.cloud.borrow_mut().delete_message(&queue.name, id))
    }

    async fn start_move(&self, dead_letter: &QueueInfo, rate: Option<u32>) -> Result<(), RepairError> {
        let to_move = dead_letter.depth;
        let (moved, failure) = match self.cloud.borrow_mut().move_dead_letters(&dead_letter.name, rate) {
            Ok(moved) => (moved as u64, None),
            Err(why) => (
                to_move
                    - self
                        .cloud
                        .borrow()
                        .queue(&dead_letter.name)
                        .map_or(0, |q| q.len() as u64),
                Some(why),
            ),
        };
        self.moves
            .borrow_mut()
            .insert(dead_letter.arn.clone(), MoveProgress::done(moved, to_move, failure));
        Ok(())
    }

    async fn move_progress(&self, dead_letter: &QueueInfo) -> Result<MoveProgress, RepairError> {
        self.moves.borrow().get(&dead_letter.arn).cloned().ok_or_else(|| {
            RepairError::service(
                "ListMessageMoveTasks",
                format!("no move task from {}", dead_letter.name),
            )
        })
    }

    /// EventBridge's attributes when there are some, else what the cloud recorded of the
    /// message's last failed receive (a dead letter keeps its id).
    fn failure_of(&self, message: &Peeked) -> Option<String> {
        repair::ports::failure_from_attributes(message)
            .or_else(|| self.cloud.borrow().failure_of(&message.id).map(str::to_owned))
    }

    fn now(&self) -> DateTime<Utc> {
        let cloud = self.cloud.borrow();
        cloud.instant(cloud.now())
    }
}

/// What the consumers did in `after` (the timeline since a redrive or resubmit), in lines:
/// the events they published, the notifications, what they parked or dead-lettered; or that
/// they sent nothing, every message a duplicate to its consumer.
pub fn what_consumers_did(after: &[Entry]) -> Vec<String> {
    let sent: Vec<&Entry> = after
        .iter()
        .filter(|e| {
            matches!(
                e.what,
                What::Event { .. } | What::Notification { .. } | What::Parked { .. } | What::DeadLetter { .. }
            )
        })
        .collect();
    if sent.is_empty() {
        return vec![
            "consumers sent nothing: no event, notification, parking or dead letter (what a message whose work \
             already completed does: a duplicate to its consumer's idempotency record)"
                .to_owned(),
        ];
    }
    let mut lines = vec![format!("consumers did {} thing(s):", sent.len())];
    lines.extend(sent.iter().map(|e| format!("  {e}")));
    lines
}
