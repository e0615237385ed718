"""The template's stack on a local AWS (moto): every resource of `infra/template.yaml` created
through the real APIs, its names and ARNs resolved as CloudFormation resolves them.

One resolver for every harness that needs the deployed stack (`make e2e`, `make bench-cold`,
`make bench-calls`): intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::FindInMap`, `Fn::If` and
the condition functions, `Fn::Join`, `Fn::Select`, `Fn::Split`), pseudo parameters, parameters
with their defaults, and conditions. A resource is created the first time anything refers to
it, so creation follows the references, as CloudFormation orders it.

Names: a resource that names itself (`FunctionName`, the bus's `Name`, a log group's
`LogGroupName`) keeps its name; one that does not gets CloudFormation's shape,
`<stack>-<LogicalId>-<suffix>` (a FIFO queue's ending in `.fifo`), with a fixed suffix so runs
are comparable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra/template.yaml"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
STACK = "serverless-events"
# CloudFormation appends a random suffix to generated names; a fixed one keeps runs comparable.
SUFFIX = "E2E0LOCAL"

NO_VALUE = object()


class TemplateError(Exception):
    """The template asks for something the harness cannot resolve or create; says where."""


def load_template(path: Path = TEMPLATE) -> dict:
    template, problems = decode(str(path))
    if template is None:
        raise TemplateError(f"{path} does not load: {problems}")
    return template


@dataclass
class Function:
    """A serverless function as the template declares it."""

    logical_id: str
    name: str
    binary: str
    memory: int
    timeout: int
    env: dict[str, str]
    url: bool


@dataclass
class Mapping:
    """An SQS event source mapping as the template declares it."""

    logical_id: str
    function: str  # logical id
    queue_arn: str
    queue_url: str
    batch_size: int
    window_seconds: float
    report_failures: bool
    max_concurrency: int


@dataclass
class Schedule:
    """A scheduled rule whose target is a function (EventBridge invokes it asynchronously)."""

    rule: str
    rule_arn: str
    rate_seconds: int
    function: str  # logical id
    retries: int


@dataclass
class Made:
    """What a created resource answers to `Ref` and `Fn::GetAtt`."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


class Stack:
    """The template's resources, created in the local AWS behind `clients` on first reference."""

    def __init__(self, template: dict, clients: Any, parameters: dict[str, str] | None = None) -> None:
        self.template = template
        self.resources: dict[str, dict] = template["Resources"]
        self.clients = clients
        self.parameters = {
            name: str(spec.get("Default", ""))
            for name, spec in template.get("Parameters", {}).items()
        }
        self.parameters.update(parameters or {})
        self.made: dict[str, Made] = {}
        self._making: list[str] = []
        self.skipped: dict[str, str] = {}

    # -- intrinsics -------------------------------------------------------------------------

    def resolve(self, value: Any, where: str = "") -> Any:
        """`value` with every intrinsic resolved; `NO_VALUE` drops a key or list item."""
        if isinstance(value, list):
            items = [self.resolve(v, where) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            handler = INTRINSICS.get(key)
            if handler is not None:
                return handler(self, arg, where)
            if key == "Condition" and isinstance(arg, str) and where.startswith("Conditions"):
                return self.condition(arg)
        resolved = {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str, where: str) -> Any:
        pseudo = {
            "AWS::StackName": STACK,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/{SUFFIX.lower()}",
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.create(name).ref
        raise TemplateError(f"{where}: Ref {name} names no parameter or resource")

    def get_att(self, logical_id: str, attribute: str, where: str) -> str:
        made = self.create(logical_id)
        if attribute not in made.attributes:
            raise TemplateError(
                f"{where}: {logical_id} has no attribute {attribute} here (it has {sorted(made.attributes)})"
            )
        return made.attributes[attribute]

    def condition(self, name: str) -> bool:
        spec = self.template.get("Conditions", {}).get(name)
        if spec is None:
            raise TemplateError(f"no condition {name} in Conditions")
        return bool(self.resolve(spec, f"Conditions.{name}"))

    def sub(self, text: str, variables: dict[str, Any], where: str) -> str:
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute, where)
            return str(self.ref(name, where))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    # -- resources --------------------------------------------------------------------------

    def name_for(self, logical_id: str, fifo: bool = False, limit: int = 80) -> str:
        name = f"{STACK}-{logical_id}-{SUFFIX}"
        if fifo:
            name = name[: limit - 5] + ".fifo"
        return name[:limit]

    def create(self, logical_id: str) -> Made:
        if logical_id in self.made:
            return self.made[logical_id]
        if logical_id in self._making:
            raise TemplateError(f"a cycle of references: {' -> '.join(self._making + [logical_id])}")
        if logical_id not in self.resources:
            implicit = self.sam_implicit(logical_id)
            if implicit is None:
                raise TemplateError(f"no resource {logical_id} in the template")
            self.resources[logical_id] = implicit
        resource = self.resources[logical_id]
        condition = resource.get("Condition")
        if condition and not self.condition(condition):
            raise TemplateError(f"{logical_id} is referred to but its condition {condition} is false")
        self._making.append(logical_id)
        try:
            depends = resource.get("DependsOn", [])
            for dependency in [depends] if isinstance(depends, str) else depends:
                self.create(dependency)
            props = self.resolve(resource.get("Properties", {}), f"Resources.{logical_id}.Properties")
            creator = CREATORS.get(resource["Type"])
            if creator is None:
                raise TemplateError(f"{logical_id}: the harness cannot create a {resource['Type']}")
            made = creator(self, logical_id, props)
        finally:
            self._making.pop()
        self.made[logical_id] = made
        return made

    def sam_implicit(self, logical_id: str) -> dict | None:
        """A resource SAM's transform generates for a function, as CloudFormation would see it:
        `<Function>Role` (its execution role, with the function's inline policies) and
        `<Function>Url` (its Function URL)."""
        for suffix, kind in (("Role", "AWS::IAM::Role"), ("Url", "AWS::Lambda::Url")):
            function = logical_id.removesuffix(suffix)
            spec = self.resources.get(function)
            if logical_id.endswith(suffix) and spec and spec["Type"] == "AWS::Serverless::Function":
                return {"Type": kind, "Properties": {"Function": function, **spec["Properties"]}}
        return None

    def create_all(self) -> None:
        """Every resource whose condition holds, in an order that follows the references."""
        for logical_id, resource in list(self.resources.items()):
            condition = resource.get("Condition")
            if condition and not self.condition(condition):
                self.skipped[logical_id] = f"condition {condition} is false"
                continue
            self.create(logical_id)

    # -- what the hosts read ----------------------------------------------------------------

    def functions(self) -> dict[str, Function]:
        globals_fn = self.template.get("Globals", {}).get("Function", {})
        globals_env = globals_fn.get("Environment", {}).get("Variables", {})
        found = {}
        for logical_id, resource in self.resources.items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            props = resource["Properties"]
            variables = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
            where = f"Resources.{logical_id}.Environment"
            env = {key: str(self.resolve(value, where)) for key, value in variables.items()}
            found[logical_id] = Function(
                logical_id=logical_id,
                name=self.create(logical_id).ref,
                binary=resource["Metadata"]["BuildProperties"]["Binary"],
                memory=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
                timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
                env=env,
                url="FunctionUrlConfig" in props,
            )
        return found

    def mappings(self) -> list[Mapping]:
        found = []
        for logical_id, resource in self.resources.items():
            if resource["Type"] != "AWS::Lambda::EventSourceMapping":
                continue
            where = f"Resources.{logical_id}.Properties"
            props = self.resolve(resource["Properties"], where)
            function = self.function_logical_id(props["FunctionName"])
            queue = self.logical_id_of_arn(props["EventSourceArn"])
            found.append(Mapping(
                logical_id=logical_id,
                function=function,
                queue_arn=props["EventSourceArn"],
                queue_url=self.made[queue].ref,
                batch_size=int(props.get("BatchSize", 10)),
                window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                # Without ScalingConfig, Lambda scales an SQS mapping to 1,250 at most.
                max_concurrency=int(props.get("ScalingConfig", {}).get("MaximumConcurrency", 1250)),
            ))
        return found

    def schedules(self) -> list[Schedule]:
        found = []
        for logical_id, resource in self.resources.items():
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::Events::Rule" or "ScheduleExpression" not in props:
                continue
            where = f"Resources.{logical_id}.Properties"
            props = self.resolve(props, where)
            rate = parse_rate(props["ScheduleExpression"], where)
            for target in props.get("Targets", []):
                function = self.function_logical_id(target["Arn"])
                retries = next(
                    (int(self.resolve(r["Properties"].get("MaximumRetryAttempts", 2)))
                     for r in self.resources.values()
                     if r["Type"] == "AWS::Lambda::EventInvokeConfig"
                     and self.function_logical_id(self.resolve(r["Properties"]["FunctionName"])) == function),
                    2,  # Lambda's default for asynchronous invocations
                )
                found.append(Schedule(logical_id, self.made[logical_id].attributes["Arn"], rate, function, retries))
        return found

    def function_logical_id(self, name_or_arn: str) -> str:
        for logical_id, made in self.made.items():
            if self.resources[logical_id]["Type"] == "AWS::Serverless::Function" and name_or_arn in (
                made.ref, made.attributes.get("Arn")
            ):
                return logical_id
        raise TemplateError(f"no function {name_or_arn} in the stack")

    def logical_id_of_arn(self, arn: str) -> str:
        for logical_id, made in self.made.items():
            if made.attributes.get("Arn") == arn:
                return logical_id
        raise TemplateError(f"no resource with ARN {arn} in the stack")

    def queue_url(self, logical_id: str) -> str:
        return self.create(logical_id).ref

    def outputs(self) -> dict[str, str]:
        return {
            name: str(self.resolve(spec["Value"], f"Outputs.{name}"))
            for name, spec in self.template.get("Outputs", {}).items()
        }


def parse_rate(expression: str, where: str) -> int:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise TemplateError(f"{where}: only rate() schedules are played, not {expression!r}")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


# -- intrinsic functions ------------------------------------------------------------------------


def _ref(stack: Stack, arg: Any, where: str) -> Any:
    return stack.ref(arg, where)


def _get_att(stack: Stack, arg: Any, where: str) -> str:
    logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
    return stack.get_att(logical_id, stack.resolve(attribute, where), where)


def _sub(stack: Stack, arg: Any, where: str) -> str:
    if isinstance(arg, list):
        text, variables = arg
        return stack.sub(text, {k: stack.resolve(v, where) for k, v in variables.items()}, where)
    return stack.sub(arg, {}, where)


def _find_in_map(stack: Stack, arg: Any, where: str) -> Any:
    name, first, second = (stack.resolve(a, where) for a in arg)
    try:
        return stack.template["Mappings"][name][first][second]
    except KeyError as missing:
        raise TemplateError(f"{where}: FindInMap [{name}, {first}, {second}]: no {missing}") from None


def _if(stack: Stack, arg: Any, where: str) -> Any:
    name, when_true, when_false = arg
    return stack.resolve(when_true if stack.condition(name) else when_false, where)


def _equals(stack: Stack, arg: Any, where: str) -> bool:
    one, other = (stack.resolve(a, where) for a in arg)
    return str(one) == str(other)


def _join(stack: Stack, arg: Any, where: str) -> str:
    delimiter, items = arg
    return delimiter.join(str(i) for i in stack.resolve(items, where))


def _select(stack: Stack, arg: Any, where: str) -> Any:
    index, items = arg
    return stack.resolve(items, where)[int(stack.resolve(index, where))]


def _split(stack: Stack, arg: Any, where: str) -> list[str]:
    delimiter, text = arg
    return str(stack.resolve(text, where)).split(delimiter)


INTRINSICS = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::FindInMap": _find_in_map,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": lambda s, a, w: not s.resolve(a[0], w),
    "Fn::And": lambda s, a, w: all(s.resolve(c, w) for c in a),
    "Fn::Or": lambda s, a, w: any(s.resolve(c, w) for c in a),
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
}


# -- creators: one per resource type, through the service's API ---------------------------------


def _table(stack: Stack, logical_id: str, props: dict) -> Made:
    name = props.get("TableName") or stack.name_for(logical_id, limit=255)
    request = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification", "SSESpecification"):
        if props.get(key):
            request[key] = props[key]
    if "SSESpecification" in request:
        request["SSESpecification"] = {
            k: v for k, v in request["SSESpecification"].items() if k in ("Enabled", "SSEType", "KMSMasterKeyId")
        }
    ddb = stack.clients.dynamodb
    table = ddb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled")).lower() == "true":
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    attributes = {"Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        attributes["StreamArn"] = table["LatestStreamArn"]
    return Made(name, attributes)


QUEUE_ATTRIBUTES = (
    "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds", "FifoQueue", "ContentBasedDeduplication",
    "KmsMasterKeyId", "SqsManagedSseEnabled", "DeduplicationScope", "FifoThroughputLimit",
)


def _queue(stack: Stack, logical_id: str, props: dict) -> Made:
    fifo = str(props.get("FifoQueue", "false")).lower() == "true"
    name = props.get("QueueName") or stack.name_for(logical_id, fifo=fifo)
    attributes = {key: _text(props[key]) for key in QUEUE_ATTRIBUTES if key in props}
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    if "RedriveAllowPolicy" in props:
        attributes["RedriveAllowPolicy"] = json.dumps(props["RedriveAllowPolicy"])
    url = stack.clients.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    return Made(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def _queue_policy(stack: Stack, logical_id: str, props: dict) -> Made:
    for url in props["Queues"]:
        stack.clients.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
    return Made(logical_id)


def _topic(stack: Stack, logical_id: str, props: dict) -> Made:
    fifo = str(props.get("FifoTopic", "false")).lower() == "true"
    name = props.get("TopicName") or stack.name_for(logical_id, fifo=fifo, limit=256)
    attributes = {key: _text(props[key]) for key in ("KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication") if key in props}
    arn = stack.clients.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    for subscription in props.get("Subscription", []):
        stack.clients.sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
    return Made(arn, {"TopicArn": arn, "TopicName": name})


def _subscription(stack: Stack, logical_id: str, props: dict) -> Made:
    attributes = {}
    for key in ("FilterPolicyScope", "RawMessageDelivery", "DeliveryPolicy"):
        if key in props:
            attributes[key] = _text(props[key])
    for key in ("FilterPolicy", "RedrivePolicy"):
        if key in props:
            attributes[key] = json.dumps(props[key])
    arn = stack.clients.sns.subscribe(
        TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"],
        Attributes=attributes, ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return Made(arn, {"Arn": arn})


def _key(stack: Stack, logical_id: str, props: dict) -> Made:
    request = {"Description": props.get("Description", logical_id)}
    if "KeyPolicy" in props:
        request["Policy"] = json.dumps(props["KeyPolicy"])
    for key in ("KeyUsage", "KeySpec"):
        if key in props:
            request[key] = props[key]
    metadata = stack.clients.kms.create_key(**request)["KeyMetadata"]
    if str(props.get("EnableKeyRotation", "false")).lower() == "true":
        stack.clients.kms.enable_key_rotation(KeyId=metadata["KeyId"])
    return Made(metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]})


def _bus(stack: Stack, logical_id: str, props: dict) -> Made:
    arn = stack.clients.events.create_event_bus(Name=props["Name"])["EventBusArn"]
    return Made(props["Name"], {"Arn": arn, "Name": props["Name"]})


def _bus_policy(stack: Stack, logical_id: str, props: dict) -> Made:
    # PutPermission with a whole statement; moto keeps it (and does not evaluate it).
    policy = {"Version": "2012-10-17", "Statement": [props["Statement"]]}
    stack.clients.events.put_permission(EventBusName=props["EventBusName"], Policy=json.dumps(policy))
    return Made(props["StatementId"])


def _rule(stack: Stack, logical_id: str, props: dict) -> Made:
    name = props.get("Name") or stack.name_for(logical_id, limit=64)
    bus = props.get("EventBusName", "default")
    request = {"Name": name, "State": props.get("State", "ENABLED"), "EventBusName": bus}
    if "EventPattern" in props:
        request["EventPattern"] = json.dumps(props["EventPattern"])
    if "ScheduleExpression" in props:
        request["ScheduleExpression"] = props["ScheduleExpression"]
    if "Description" in props:
        request["Description"] = props["Description"]
    arn = stack.clients.events.put_rule(**request)["RuleArn"]
    targets = [_target(t) for t in props.get("Targets", [])]
    if targets:
        stack.clients.events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    # A rule on a custom bus answers Ref with "<bus>|<rule>".
    ref = name if bus == "default" else f"{bus}|{name}"
    return Made(ref, {"Arn": arn})


def _target(target: dict) -> dict:
    made = {"Id": target["Id"], "Arn": target["Arn"]}
    for key in ("InputTransformer", "SqsParameters", "RetryPolicy", "DeadLetterConfig", "Input", "InputPath"):
        if key in target:
            made[key] = target[key]
    if "RetryPolicy" in made:
        made["RetryPolicy"] = {k: int(v) for k, v in made["RetryPolicy"].items()}
    return made


def _archive(stack: Stack, logical_id: str, props: dict) -> Made:
    name = props.get("ArchiveName") or stack.name_for(logical_id, limit=48)
    request = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
    if "EventPattern" in props:
        request["EventPattern"] = json.dumps(props["EventPattern"])
    if "RetentionDays" in props:
        request["RetentionDays"] = int(props["RetentionDays"])
    arn = stack.clients.events.create_archive(**request)["ArchiveArn"]
    return Made(name, {"Arn": arn, "ArchiveName": name})


def _log_group(stack: Stack, logical_id: str, props: dict) -> Made:
    name = props.get("LogGroupName") or stack.name_for(logical_id, limit=512)
    stack.clients.logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        stack.clients.logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return Made(name, {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"})


def _alarm(stack: Stack, logical_id: str, props: dict) -> Made:
    name = props.get("AlarmName") or stack.name_for(logical_id, limit=255)
    request = {"AlarmName": name}
    for key in ("AlarmDescription", "Namespace", "MetricName", "Statistic", "ExtendedStatistic", "ComparisonOperator", "TreatMissingData"):
        if key in props:
            request[key] = props[key]
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in props:
            request[key] = int(props[key])
    if "Threshold" in props:
        request["Threshold"] = float(props["Threshold"])
    if "Dimensions" in props:
        request["Dimensions"] = props["Dimensions"]
    # An alarm on a query (a Metrics Insights one, as the parked records' by reason) instead of
    # one metric.
    if "Metrics" in props:
        request["Metrics"] = [_metric_query(query) for query in props["Metrics"]]
    for key in ("AlarmActions", "OKActions"):
        if key in props:
            request[key] = props[key]
    stack.clients.cloudwatch.put_metric_alarm(**request)
    return Made(name, {"Arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"})


def _metric_query(query: dict) -> dict:
    made = dict(query)
    if "Period" in made:
        made["Period"] = int(made["Period"])
    if "ReturnData" in made:
        made["ReturnData"] = _text(made["ReturnData"]) == "true"
    return made


def _dashboard(stack: Stack, logical_id: str, props: dict) -> Made:
    name = props.get("DashboardName") or stack.name_for(logical_id, limit=255)
    stack.clients.cloudwatch.put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
    return Made(name, {})


def _function(stack: Stack, logical_id: str, props: dict) -> Made:
    # Hosted by the harness (tests/e2e/lambdas.py), not by the local AWS: moto would need Docker.
    name = props.get("FunctionName") or stack.name_for(logical_id, limit=64)
    return Made(name, {"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"})


def _role(stack: Stack, logical_id: str, props: dict) -> Made:
    # The execution role SAM makes of a function's `Policies`; moto keeps it (and does not
    # evaluate it: tests/tests/template.rs proves least privilege from the declarations).
    name = stack.name_for(logical_id, limit=64)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    arn = stack.clients.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for index, policy in enumerate(p for p in props.get("Policies", []) if isinstance(p, dict) and "Statement" in p):
        stack.clients.iam.put_role_policy(RoleName=name, PolicyName=f"{logical_id}Policy{index}", PolicyDocument=json.dumps(policy))
    return Made(name, {"Arn": arn, "RoleId": name})


def _url(stack: Stack, logical_id: str, props: dict) -> Made:
    # Served by the harness's Lambda host; this is the address AWS would give it.
    url = f"https://{props['Function'].lower()}.lambda-url.{REGION}.on.aws/"
    return Made(url, {"FunctionUrl": url, "FunctionArn": stack.get_att(props["Function"], "Arn", logical_id)})


def _hosted(stack: Stack, logical_id: str, props: dict) -> Made:
    # Event source mappings, permissions and invoke configs: the harness's Lambda host reads them
    # from the template (Stack.mappings, Stack.schedules); nothing to create in the local AWS.
    return Made(logical_id)


CREATORS = {
    "AWS::DynamoDB::Table": _table,
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::SNS::Topic": _topic,
    "AWS::SNS::Subscription": _subscription,
    "AWS::KMS::Key": _key,
    "AWS::Events::EventBus": _bus,
    "AWS::Events::EventBusPolicy": _bus_policy,
    "AWS::Events::Rule": _rule,
    "AWS::Events::Archive": _archive,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::Serverless::Function": _function,
    "AWS::IAM::Role": _role,
    "AWS::Lambda::Url": _url,
    "AWS::Lambda::EventSourceMapping": _hosted,
    "AWS::Lambda::Permission": _hosted,
    "AWS::Lambda::EventInvokeConfig": _hosted,
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
