//! What a running cloud asks of the graph: a queue's consumer, a function's crate, a bus by
//! name, the rules an event matches, and where a target leads.

use serde_json::Value;

use super::{Bus, Endpoint, Rule, Target, Topology};

impl Topology {
    /// The function consuming `queue`, if a mapping reads it.
    pub fn consumer_of(&self, queue: &str) -> Option<&str> {
        self.mappings
            .iter()
            .find(|m| m.queue == queue)
            .map(|m| m.function.as_str())
    }

    /// The crate name of function `logical_id` (its own name in the timeline).
    pub fn crate_of<'a>(&'a self, logical_id: &'a str) -> &'a str {
        self.functions
            .get(logical_id)
            .map_or(logical_id, |f| f.spec.binary.as_str())
    }

    /// The bus named `name` (or with that logical id), if any.
    pub fn bus(&self, name: &str) -> Option<&Bus> {
        self.buses.values().find(|b| b.name == name || b.logical_id == name)
    }

    /// The enabled rules of bus `bus_id` whose pattern matches `event`.
    pub fn matching_rules<'a>(&'a self, bus_id: &'a str, event: &'a Value) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules
            .iter()
            .filter(move |r| r.enabled && r.bus == bus_id && r.pattern.matches(event))
    }

    /// Where `target` of `rule` leads, for people: `Rule -> Queue -> function`.
    pub fn route_of(&self, rule: &Rule, target: &Target) -> String {
        self.route_from(&rule.logical_id, target)
    }

    /// `rule -> target [-> its consumer]` for any rule, scheduled or not.
    pub fn route_from(&self, rule: &str, target: &Target) -> String {
        match &target.endpoint {
            Endpoint::Queue(queue) => {
                let consumer = self.consumer_of(queue).map_or("(no consumer)", |f| self.crate_of(f));
                format!("{rule} -> {queue} -> {consumer}")
            }
            Endpoint::Topic(topic) => format!("{rule} -> {topic}"),
            Endpoint::Function(function) => format!("{rule} -> {}", self.crate_of(function)),
        }
    }
}
