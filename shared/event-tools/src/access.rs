//! What the `events` command calls on the deployed stack, declared once beside the code that
//! calls it, as each function declares its own: the stack's `EventReplayRole` allows exactly
//! this (`tests/tests/template.rs` checks it, as it checks each function's role).
//!
//! An operator points the command at the stack's outputs (`--table <EventStoreTableName>`),
//! so a grant names what it holds on by those outputs, or by the names the stack gives what it
//! makes (`<stack>-...`).

/// Where a grant holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The table or bus a stack output names (`EventStoreTableName`).
    Output(&'static str),
    /// Every index of the table a stack output names.
    IndexesOf(&'static str),
    /// Every rule of the bus a stack output names.
    RulesOf(&'static str),
    /// Every queue of the stack (named `<stack>-...`): a rule's targets are among them.
    StackQueues,
    /// Every table named `<stack>-<prefix>...`: tables an operator makes for the command.
    StackTables(&'static str),
    /// The stack's customer managed key (`EncryptionKeyArn`), when it is given one.
    CustomerKey,
}

/// IAM actions the command calls on one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Where.
    pub scope: Scope,
    /// The actions (`dynamodb:Query`).
    pub actions: &'static [&'static str],
    /// For `events:PutEvents`: the event sources it puts, the role's `events:source`
    /// condition (and the bus's policy lets the role put each of them).
    pub sources: &'static [&'static str],
    /// Which command needs it, and why.
    pub purpose: &'static str,
}

impl Grant {
    const fn on(scope: Scope, actions: &'static [&'static str], purpose: &'static str) -> Self {
        Self {
            scope,
            actions,
            sources: &[],
            purpose,
        }
    }
}

/// The event sources a replay puts back on the bus: every domain's, as the store archives
/// every event of every domain.
pub const REPLAYED_SOURCES: &[&str] = &[orders::events::SOURCE, sensors::events::SOURCE];

/// Everything the command calls.
pub const GRANTS: &[Grant] = &[
    Grant::on(
        Scope::Output("EventStoreTableName"),
        &["dynamodb:Query", "dynamodb:Scan"],
        "replay --stream and history read a stream (Query); rebuild reads every order's stream (Scan)",
    ),
    Grant::on(
        Scope::IndexesOf("EventStoreTableName"),
        &["dynamodb:Query"],
        "replay --from --to reads a time range, of some types or all (the by-time and by-type indexes)",
    ),
    Grant {
        scope: Scope::Output("EventBusName"),
        actions: &["events:PutEvents"],
        sources: REPLAYED_SOURCES,
        purpose: "replay puts the events back on the bus",
    },
    Grant::on(
        Scope::RulesOf("EventBusName"),
        &["events:DescribeRule", "events:ListTargetsByRule"],
        "replay --rule reads the rule's pattern and targets",
    ),
    Grant::on(
        Scope::StackQueues,
        &["sqs:GetQueueUrl", "sqs:SendMessage"],
        "replay --rule sends each matching event to the rule's target queues",
    ),
    Grant::on(
        Scope::Output("OrdersTableName"),
        &["dynamodb:Scan"],
        "rebuild --live compares with every live order view",
    ),
    Grant::on(
        Scope::StackTables("rebuild-"),
        &["dynamodb:GetItem", "dynamodb:PutItem"],
        "rebuild --into writes a fresh table, never a live one",
    ),
    // SQS needs both to send to an SSE-KMS queue; DynamoDB decrypts a table's key as the
    // caller when it reads or writes a table under the key.
    Grant::on(
        Scope::CustomerKey,
        &["kms:Decrypt", "kms:GenerateDataKey"],
        "with EncryptionKeyArn: replay --rule sends to SSE-KMS queues, every command reads tables under the key",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_the_grants_then_only_the_bus_grant_names_sources_and_each_action_is_granted_once_per_scope() {
        for grant in GRANTS {
            assert_eq!(
                !grant.sources.is_empty(),
                grant.actions.contains(&"events:PutEvents"),
                "{grant:?}: sources go with PutEvents, and PutEvents with its sources"
            );
        }
        let scopes: std::collections::BTreeSet<String> = GRANTS.iter().map(|g| format!("{:?}", g.scope)).collect();
        assert_eq!(scopes.len(), GRANTS.len(), "one grant per scope");
    }
}
