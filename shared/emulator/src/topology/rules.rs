//! EventBridge rules (patterns compiled, targets with their input, dead-letter queue and retry
//! policy), archives, and rules that fire on a `rate(...)` schedule.

use std::collections::BTreeMap;

use event_pattern::Pattern;
use sam_template::Resource;
use serde_json::Value;

use super::values::{json_object, number, text};
use super::{Archive, Input, LoadError, RetryPolicy, Rule, ScheduledRule, Target, Topology, invalid};

/// The period of a `rate(value unit)` schedule in ms, as EventBridge reads it: a positive whole
/// value, and `minute`, `hour` or `day` for 1, their plurals otherwise.
/// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html>
pub(super) fn rate_ms(expression: &str) -> Result<i64, String> {
    let Some(inner) = expression
        .trim()
        .strip_prefix("rate(")
        .and_then(|r| r.strip_suffix(')'))
    else {
        return Err(if expression.trim().starts_with("cron(") {
            format!("{expression}: cron schedules are not run locally; use rate(...)")
        } else {
            format!("{expression}: expected rate(value unit) or cron(...)")
        });
    };
    let (value, unit) = inner
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("{expression}: expected rate(value unit), e.g. rate(1 minute)"))?;
    let value: i64 = value
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("{expression}: the value must be a whole number above 0"))?;
    let (singular, per) = match unit.trim() {
        "minute" => (true, 60_000),
        "minutes" => (false, 60_000),
        "hour" => (true, 3_600_000),
        "hours" => (false, 3_600_000),
        "day" => (true, 86_400_000),
        "days" => (false, 86_400_000),
        other => {
            return Err(format!(
                "{expression}: unit {other} is not minute(s), hour(s) or day(s)"
            ));
        }
    };
    if singular != (value == 1) {
        return Err(format!(
            "{expression}: EventBridge wants the singular unit for 1 and the plural otherwise"
        ));
    }
    Ok(value * per)
}

impl Topology {
    pub(super) fn pattern(resource: &str, property: &str, value: &Value) -> Result<(Pattern, Value), LoadError> {
        let json = json_object(resource, property, value)?;
        let pattern = Pattern::from_value(&json).map_err(|e| invalid(resource, property, e.to_string()))?;
        Ok((pattern, json))
    }

    pub(super) fn add_archive(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let source = resource
            .property("SourceArn")
            .ok_or_else(|| invalid(id, "Properties.SourceArn", "missing: an archive needs its bus's ARN"))?;
        let bus = self.bus_of(id, "Properties.SourceArn", Some(source))?;
        let pattern = match resource.property("EventPattern") {
            Some(pattern) => Some(Self::pattern(id, "Properties.EventPattern", pattern)?.0),
            None => None,
        };
        self.archives.push(Archive {
            logical_id: id.clone(),
            bus,
            pattern,
        });
        Ok(())
    }

    pub(super) fn add_rule(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let enabled = text(resource.property("State")).is_none_or(|state| state != "DISABLED");
        let targets = self.targets(resource)?;
        if let Some(expression) = text(resource.property("ScheduleExpression")) {
            if resource.property("EventPattern").is_some() {
                return Err(invalid(
                    id,
                    "Properties.ScheduleExpression",
                    "a rule with both a schedule and an event pattern is not run locally: split it in two",
                ));
            }
            // Scheduled rules run on the default bus only.
            // <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html>
            if self.bus_of(id, "Properties.EventBusName", resource.property("EventBusName"))? != "default" {
                return Err(invalid(
                    id,
                    "Properties.EventBusName",
                    "a scheduled rule must be on the default event bus",
                ));
            }
            let every_ms =
                rate_ms(&expression).map_err(|reason| invalid(id, "Properties.ScheduleExpression", reason))?;
            self.schedules.push(ScheduledRule {
                logical_id: id.clone(),
                arn: resource.arn.clone().unwrap_or_default(),
                every_ms,
                enabled,
                targets,
            });
            return Ok(());
        }
        let bus = self.bus_of(id, "Properties.EventBusName", resource.property("EventBusName"))?;
        let pattern = resource.property("EventPattern").ok_or_else(|| {
            invalid(
                id,
                "Properties.EventPattern",
                "missing: a rule needs an EventPattern or a ScheduleExpression",
            )
        })?;
        let (pattern, pattern_json) = Self::pattern(id, "Properties.EventPattern", pattern)?;
        self.rules.push(Rule {
            logical_id: id.clone(),
            bus,
            pattern,
            pattern_json,
            enabled,
            targets,
        });
        Ok(())
    }

    /// A rule's `Targets`.
    pub(super) fn targets(&self, resource: &Resource) -> Result<Vec<Target>, LoadError> {
        let id = &resource.logical_id;
        let mut targets = Vec::new();
        let listed = match resource.property("Targets") {
            Some(Value::Array(listed)) => listed.clone(),
            None => Vec::new(),
            Some(_) => return Err(invalid(id, "Properties.Targets", "must be a list")),
        };
        for (index, target) in listed.iter().enumerate() {
            let at = |field: &str| format!("Properties.Targets[{index}].{field}");
            let arn = text(target.get("Arn")).ok_or_else(|| invalid(id, &at("Arn"), "missing"))?;
            let endpoint = self.endpoint(id, &at("Arn"), &arn)?;
            let input = match (
                text(target.get("Input")),
                text(target.get("InputPath")),
                target.get("InputTransformer"),
            ) {
                (None, None, None) => Input::Event,
                (Some(constant), None, None) => Input::Constant(constant),
                (None, Some(path), None) => Input::Path(path),
                (None, None, Some(transformer)) => {
                    let paths = match transformer.get("InputPathsMap") {
                        None => BTreeMap::new(),
                        Some(Value::Object(map)) => map
                            .iter()
                            .map(|(k, v)| (k.clone(), text(Some(v)).unwrap_or_default()))
                            .collect(),
                        Some(_) => return Err(invalid(id, &at("InputTransformer.InputPathsMap"), "must be a map")),
                    };
                    let template = text(transformer.get("InputTemplate"))
                        .ok_or_else(|| invalid(id, &at("InputTransformer.InputTemplate"), "missing"))?;
                    Input::Transformer { paths, template }
                }
                _ => {
                    return Err(invalid(
                        id,
                        &at("Input"),
                        "Input, InputPath and InputTransformer exclude each other",
                    ));
                }
            };
            let dead_letter = match text(target.pointer("/DeadLetterConfig/Arn")) {
                Some(arn) => Some(self.queue_of(id, &at("DeadLetterConfig.Arn"), &arn)?),
                None => None,
            };
            let retry = RetryPolicy {
                maximum_retry_attempts: match number(target.pointer("/RetryPolicy/MaximumRetryAttempts")) {
                    None => 185,
                    Some(attempts @ 0..=185) => u32::try_from(attempts).unwrap_or(185),
                    Some(_) => return Err(invalid(id, &at("RetryPolicy.MaximumRetryAttempts"), "must be 0..=185")),
                },
                maximum_event_age_ms: match number(target.pointer("/RetryPolicy/MaximumEventAgeInSeconds")) {
                    None => 86_400_000,
                    Some(seconds @ 60..=86_400) => seconds * 1000,
                    Some(_) => {
                        return Err(invalid(
                            id,
                            &at("RetryPolicy.MaximumEventAgeInSeconds"),
                            "must be 60..=86400",
                        ));
                    }
                },
            };
            targets.push(Target {
                id: text(target.get("Id")).unwrap_or_else(|| format!("target-{index}")),
                endpoint,
                input,
                dead_letter,
                message_group_id: text(target.pointer("/SqsParameters/MessageGroupId")),
                retry,
            });
        }
        Ok(targets)
    }
}
