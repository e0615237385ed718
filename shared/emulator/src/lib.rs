//! The local cloud's core, which knows no domain: a domain brings its functions, event types,
//! samples and demo through [`domain::Domain`], and the `localcloud` CLI bundles the domains.
//!
//! [`topology`] reads the SAM template into an event graph; [`cloud`] runs it in process on a
//! virtual clock: EventBridge rules ([`event_pattern`]), SQS queues ([`sqs`]), event source
//! mappings ([`esm`]), SNS topics, and the functions from their crates' declarations
//! ([`functions`]) on the kit's local platform; [`faults`] injects what production does to a system.
//! Each CLI subcommand is a function from input to report ([`route`], [`decode`], [`graph`], [`operations`]),
//! so tests call it directly and the CLI only parses arguments and prints.
//!
//! What it keeps of AWS (how invocations run at once, which delivery settings come from the
//! template and how faults are drawn: `shared/emulator/README.md`):
//!
//! - **Template**: `sam_template` loads `infra/template.yaml` as CloudFormation would deploy it
//!   (intrinsics in short and long form, `Fn::FindInMap`, conditions, parameters, `Globals`,
//!   physical names, ARNs). What the local cloud cannot run is a load error naming the resource
//!   and property.
//! - **EventBridge**: buses and rules with the whole pattern language ([`event_pattern`]),
//!   scheduled `rate(..)` rules, targets to SQS, SNS and Lambda with `InputPath`, `Input` and
//!   `InputTransformer`, and the dead-letter queues of targets for what a target refuses;
//!   archives and their replays.
//! - **SQS** ([`sqs`]): visibility timeout, receive count, redrive to the DLQ at
//!   `maxReceiveCount` (same message id), FIFO groups in order and 5-minute deduplication, the
//!   size limit (1 MiB by default, attribute names, types and values counted), and expiry after
//!   `MessageRetentionPeriod` (from the original enqueue time, even in a DLQ).
//! - **SNS**: fan-out, raw delivery, and filter policies in full (`event_pattern::sns`): typed
//!   attributes (`Number` compared as numbers, `String.Array` element by element, `Binary`
//!   ignored), body scope with nested keys; a policy SNS would refuse is a load error with
//!   SNS's message; attributes reach SQS and Lambda with their data type.
//! - **Event source mappings** ([`esm`]): batch size, batching window, and partial batch
//!   responses as Lambda documents them (an empty list is success; an unknown or empty item id,
//!   or a function error, fails the whole batch; failed records return after the visibility
//!   timeout).
//! - **Functions in process** ([`functions`]): each function of the template built from its
//!   crate's library, with the template's environment, on the kit's local platform where
//!   `main.rs` puts AWS adapters: publishing to the local bus or topic, in-memory tables and
//!   idempotency store, parking on the local parking queue. Each is invoked with the payload
//!   Lambda would send, read into its trigger's type as Lambda's runtime reads it.

pub mod cloud;
pub mod decode;
pub mod domain;
pub mod esm;
pub mod faults;
pub mod functions;
pub mod graph;
pub mod operations;
pub mod route;
pub mod scenario;
pub mod sqs;
pub mod topology;
