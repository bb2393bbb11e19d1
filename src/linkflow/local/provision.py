"""Provision the local AWS endpoint from template.yaml: no second, hand-kept list of resources."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api_gateway import HttpRoute
from .client import ResourceInfo
from .lambda_runtime import FunctionSpec, Runtime
from .schedules import Schedule
from .sqs_poller import SqsEventSource
from .template import Resolver, Template, TemplateError

ACCOUNT = "123456789012"
ROLE_NAME = "linkflow-local-execution-role"

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
FUNCTION_TYPE = "AWS::Serverless::Function"
LAYER_TYPE = "AWS::Serverless::LayerVersion"
STATE_MACHINE_TYPE = "AWS::Serverless::StateMachine"
POOL_TYPE = "AWS::Cognito::UserPool"
CLIENT_TYPE = "AWS::Cognito::UserPoolClient"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
QUEUE_TYPE = "AWS::SQS::Queue"
BUCKET_TYPE = "AWS::S3::Bucket"
SCHEDULE_TYPE = "AWS::Scheduler::Schedule"
IMPLICIT_HTTP_API = "ServerlessHttpApi"  # what SAM names the HTTP API it creates for HttpApi events
LOCAL_API_ID = "linkflow-local-api"
# Types with no local behaviour: permissions, roles and log groups exist on AWS only; federated
# identity providers and the hosted UI are simulated by `linkflow local federated-signin`.
IGNORED_TYPES = {
    "AWS::Cognito::UserPoolIdentityProvider",
    "AWS::Cognito::UserPoolDomain",
    "AWS::Lambda::Permission",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Logs::LogGroup",
    "AWS::CloudWatch::Alarm",
    "AWS::SNS::Topic",
}
SUPPORTED = set(TABLE_TYPES) | {FUNCTION_TYPE, LAYER_TYPE, STATE_MACHINE_TYPE, POOL_TYPE, CLIENT_TYPE,
                                HTTP_API_TYPE, QUEUE_TYPE, BUCKET_TYPE, SCHEDULE_TYPE} | IGNORED_TYPES
# AWS::SQS::Queue properties that are queue attributes of the same name (RedrivePolicy is set
# once every queue exists: its dead-letter queue must exist first).
QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
                    "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled", "KmsMasterKeyId",
                    "KmsDataKeyReusePeriodSeconds", "FifoQueue", "ContentBasedDeduplication")
# The SAM SQS event properties the local event source mapping honours; any other fails loudly.
SQS_EVENT_PROPERTIES = {"Queue", "BatchSize", "FunctionResponseTypes", "Enabled", "MaximumBatchingWindowInSeconds"}


@dataclass
class Provisioned:
    resources: dict[str, ResourceInfo] = field(default_factory=dict)  # logical id -> type, name, arn
    outputs: dict[str, str] = field(default_factory=dict)
    routes: list[HttpRoute] = field(default_factory=list)
    queue_sources: list[SqsEventSource] = field(default_factory=list)  # SAM `Type: SQS` events
    schedules: list[Schedule] = field(default_factory=list)  # fired only with --schedules or by hand
    user_pool_id: str | None = None
    client_id: str | None = None


class Provisioner:
    """Creates the template's resources through boto3 against the local endpoint."""

    def __init__(self, template: Template, clients: Any, region: str, runtime: Runtime,
                 stack_name: str, extra_env: dict[str, str], api_url: str = "http://127.0.0.1:3000"):
        self.t = template
        self.clients = clients  # callable: service name -> boto3 client
        self.region = region
        self.runtime = runtime
        self.stack_name = stack_name
        self.extra_env = extra_env
        self.api_url = api_url
        self.out = Provisioned()
        self._physical: dict[str, str] = {}
        self._arns: dict[str, str] = {}
        self._queue_urls: dict[str, str] = {}
        self.resolver = Resolver(
            template,
            pseudo={"AWS::Region": region, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                    "AWS::StackName": stack_name, "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""},
            ref=self._ref,
            get_att=self._get_att,
        )

    # -- naming -------------------------------------------------------------------------------
    def _check_types(self) -> None:
        for logical_id, res in self.t.resources.items():
            kind = res.get("Type")
            if kind not in SUPPORTED:
                raise TemplateError(f"resource {logical_id}: type {kind} is not supported by the local stack")
            if "Condition" in res:  # load_template drops or keeps conditional resources
                raise TemplateError(f"resource {logical_id}: Condition {res['Condition']} was not evaluated")

    def _name(self, logical_id: str) -> str:
        if logical_id in self._physical:
            return self._physical[logical_id]
        res = self.t.resources.get(logical_id)
        if res is None:
            raise TemplateError(f"reference to unknown resource or parameter {logical_id}")
        props = res.get("Properties", {}) or {}
        key = {"AWS::DynamoDB::Table": "TableName", FUNCTION_TYPE: "FunctionName",
               STATE_MACHINE_TYPE: "Name", POOL_TYPE: "UserPoolName", LAYER_TYPE: "LayerName",
               QUEUE_TYPE: "QueueName", BUCKET_TYPE: "BucketName", SCHEDULE_TYPE: "Name"}.get(res["Type"])
        explicit = props.get(key) if key else None
        name = self.resolver.resolve(explicit, logical_id) if explicit else f"{self.stack_name}-{logical_id}"
        self._physical[logical_id] = name
        return name

    def _arn(self, logical_id: str) -> str:
        if logical_id in self._arns:
            return self._arns[logical_id]
        kind = self.t.resources[logical_id]["Type"]
        name = self._name(logical_id)
        arn = {
            FUNCTION_TYPE: f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{name}",
            STATE_MACHINE_TYPE: f"arn:aws:states:{self.region}:{ACCOUNT}:stateMachine:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{name}",
            "AWS::Serverless::SimpleTable": f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{name}",
            LAYER_TYPE: f"arn:aws:lambda:{self.region}:{ACCOUNT}:layer:{name}:1",
            QUEUE_TYPE: f"arn:aws:sqs:{self.region}:{ACCOUNT}:{name}",
            BUCKET_TYPE: f"arn:aws:s3:::{name}",
        }.get(kind)
        if arn is None:
            raise TemplateError(f"{logical_id}: its ARN is only known once it is created")
        return arn

    def _ref(self, logical_id: str) -> str:
        if logical_id == IMPLICIT_HTTP_API and logical_id not in self.t.resources:
            return LOCAL_API_ID
        res = self.t.resources.get(logical_id)
        if res is None:
            raise TemplateError(f"reference to unknown resource or parameter {logical_id}")
        kind = res["Type"]
        if kind in (STATE_MACHINE_TYPE, LAYER_TYPE):
            return self._arn(logical_id)
        if kind in (POOL_TYPE, CLIENT_TYPE, HTTP_API_TYPE):
            if logical_id not in self._physical:
                raise TemplateError(f"{logical_id} is referenced before the local stack created it")
            return self._physical[logical_id]
        if kind == QUEUE_TYPE:  # a queue's Ref is its URL
            if logical_id not in self._queue_urls:
                raise TemplateError(f"{logical_id} is referenced before the local stack created it")
            return self._queue_urls[logical_id]
        return self._name(logical_id)

    def _get_att(self, logical_id: str, attr: str) -> str:
        if logical_id not in self.t.resources:
            raise TemplateError(f"GetAtt of unknown resource {logical_id}")
        if attr == "Arn":
            if self.t.resources[logical_id]["Type"] == POOL_TYPE:
                return f"arn:aws:cognito-idp:{self.region}:{ACCOUNT}:userpool/{self._ref(logical_id)}"
            return self._arn(logical_id)
        if attr in ("Name", "TableName", "QueueName"):
            return self._name(logical_id)
        if attr == "QueueUrl":
            return self._ref(logical_id)
        if attr == "ProviderName":
            return f"cognito-idp.{self.region}.amazonaws.com/{self._ref(logical_id)}"
        raise TemplateError(f"GetAtt {logical_id}.{attr} is not supported by the local stack")

    def _record(self, logical_id: str, name: str, arn: str = "") -> None:
        self.out.resources[logical_id] = {"type": self.t.resources[logical_id]["Type"], "name": name, "arn": arn}

    # -- resources ----------------------------------------------------------------------------
    def provision(self) -> Provisioned:
        self._check_types()
        self._check_functions()
        iam = self.clients("iam")
        try:
            policy = json.dumps({"Version": "2012-10-17", "Statement": []})
            iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=policy)
        except iam.exceptions.EntityAlreadyExistsException:
            pass  # a second provision into the same endpoint reuses the role
        for logical_id, res in self.t.of_type(*TABLE_TYPES).items():
            self._table(logical_id, res)
        for logical_id in self.t.of_type(BUCKET_TYPE):
            self.clients("s3").create_bucket(Bucket=self._name(logical_id))
            self._record(logical_id, self._name(logical_id), self._arn(logical_id))
        queues = self.t.of_type(QUEUE_TYPE)
        for logical_id, res in queues.items():
            self._queue(logical_id, res)
        for logical_id, res in queues.items():
            self._redrive_policy(logical_id, res)
        for logical_id, res in self.t.of_type(POOL_TYPE).items():
            self._user_pool(logical_id, res)
        for logical_id, res in self.t.of_type(CLIENT_TYPE).items():
            self._client(logical_id, res)
        for logical_id in self.t.of_type(HTTP_API_TYPE):
            self._physical[logical_id] = LOCAL_API_ID
            self._record(logical_id, LOCAL_API_ID)
        for logical_id in self.t.of_type(LAYER_TYPE):
            self._record(logical_id, self._name(logical_id), self._arn(logical_id))
        for logical_id, res in self.t.of_type(FUNCTION_TYPE).items():
            self._function(logical_id, res)
        for logical_id, res in self.t.of_type(STATE_MACHINE_TYPE).items():
            self._state_machine(logical_id, res)
        for logical_id, res in self.t.of_type(SCHEDULE_TYPE).items():
            self._schedule(logical_id, res)
        for logical_id, res in self.t.resources.items():
            if res["Type"] in IGNORED_TYPES:
                self._record(logical_id, logical_id)
        self.out.outputs = {k: self._local_url(str(self.resolver.resolve(v["Value"], f"Outputs.{k}")))
                            for k, v in (self.t.body.get("Outputs") or {}).items()}
        return self.out

    def _local_url(self, value: str) -> str:
        """An API Gateway URL of this template's HTTP API is, locally, the API endpoint."""
        return re.sub(rf"https://{LOCAL_API_ID}\.execute-api\.[^/]+", self.api_url, value)

    def _check_functions(self) -> None:
        for logical_id, res in self.t.of_type(FUNCTION_TYPE).items():
            spec = self._function_props(logical_id, res)
            code_dir = self.t.root / spec.get("CodeUri", ".")
            handler = spec.get("Handler")
            if not handler or "." not in handler:
                raise TemplateError(f"resource {logical_id}: Handler must be module.function, got {handler!r}")
            path = code_dir / f"{handler.rsplit('.', 1)[0]}.py"
            if not path.is_file():
                raise TemplateError(f"resource {logical_id}: handler file {path} does not exist")

    def _table(self, logical_id: str, res: dict[str, Any]) -> None:
        props = self.resolver.resolve(res.get("Properties", {}), logical_id)
        name = self._name(logical_id)
        if res["Type"] == "AWS::Serverless::SimpleTable":
            pk = props.get("PrimaryKey", {"Name": "id", "Type": "String"})
            short = {"String": "S", "Number": "N", "Binary": "B"}[pk["Type"]]
            props = {"AttributeDefinitions": [{"AttributeName": pk["Name"], "AttributeType": short}],
                     "KeySchema": [{"AttributeName": pk["Name"], "KeyType": "HASH"}]}
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if args["BillingMode"] == "PROVISIONED":
            args["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        gsis = props.get("GlobalSecondaryIndexes")
        if gsis:
            args["GlobalSecondaryIndexes"] = gsis
        if props.get("StreamSpecification"):
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        self.clients("dynamodb").create_table(**args)
        self._record(logical_id, name, self._arn(logical_id))

    def _queue(self, logical_id: str, res: dict[str, Any]) -> None:
        props = self.resolver.resolve(res.get("Properties", {}) or {}, logical_id)
        unknown = set(props) - set(QUEUE_ATTRIBUTES) - {"QueueName", "RedrivePolicy", "Tags"}
        if unknown:
            raise TemplateError(f"resource {logical_id}: queue properties {', '.join(sorted(unknown))} "
                                "are not supported by the local stack")
        attributes = {k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
                      for k in QUEUE_ATTRIBUTES if k in props}
        name = self._name(logical_id)
        url = self.clients("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self._queue_urls[logical_id] = url
        self._record(logical_id, name, self._arn(logical_id))
        self.out.resources[logical_id]["url"] = url

    def _redrive_policy(self, logical_id: str, res: dict[str, Any]) -> None:
        policy = self.resolver.resolve((res.get("Properties", {}) or {}).get("RedrivePolicy"), logical_id)
        if not policy:
            return
        if policy.get("deadLetterTargetArn") not in {self._arn(q) for q in self.t.of_type(QUEUE_TYPE)}:
            raise TemplateError(f"resource {logical_id}: RedrivePolicy names no queue of this template")
        self.clients("sqs").set_queue_attributes(QueueUrl=self._queue_urls[logical_id],
                                                 Attributes={"RedrivePolicy": json.dumps(policy)})

    def _user_pool(self, logical_id: str, res: dict[str, Any]) -> None:
        props = self.resolver.resolve(res.get("Properties", {}), logical_id)
        name = props.pop("UserPoolName", f"{self.stack_name}-{logical_id}")
        allowed = {"Policies", "LambdaConfig", "AutoVerifiedAttributes", "UsernameAttributes", "AliasAttributes",
                   "Schema", "AccountRecoverySetting", "AdminCreateUserConfig", "MfaConfiguration",
                   "UsernameConfiguration", "VerificationMessageTemplate", "DeletionProtection",
                   "UserAttributeUpdateSettings"}
        args = {k: v for k, v in props.items() if k in allowed}
        for attr in args.get("Schema", []):
            for constraint in ("StringAttributeConstraints", "NumberAttributeConstraints"):
                if constraint in attr:
                    attr[constraint] = {k: str(v) for k, v in attr[constraint].items()}
        pool = self.clients("cognito-idp").create_user_pool(PoolName=name, **args)["UserPool"]
        self._physical[logical_id] = pool["Id"]
        self.out.user_pool_id = self.out.user_pool_id or pool["Id"]
        self._record(logical_id, pool["Id"], pool["Arn"])

    def _client(self, logical_id: str, res: dict[str, Any]) -> None:
        props = self.resolver.resolve(res.get("Properties", {}), logical_id)
        args = {k: v for k, v in props.items() if k in {"ClientName", "ExplicitAuthFlows", "GenerateSecret",
                                                         "SupportedIdentityProviders", "CallbackURLs",
                                                         "ReadAttributes", "WriteAttributes"}}
        args.setdefault("ClientName", f"{self.stack_name}-{logical_id}")
        client = self.clients("cognito-idp").create_user_pool_client(UserPoolId=props["UserPoolId"], **args)
        client_id = client["UserPoolClient"]["ClientId"]
        self._physical[logical_id] = client_id
        self.out.client_id = self.out.client_id or client_id
        self._record(logical_id, client_id)

    def _function_props(self, logical_id: str, res: dict[str, Any]) -> dict[str, Any]:
        merged = {k: v for k, v in self.t.globals_function.items()}
        props = res.get("Properties", {}) or {}
        for key, value in props.items():
            if key == "Environment" and "Environment" in merged:
                variables = {**merged["Environment"].get("Variables", {}), **value.get("Variables", {})}
                merged["Environment"] = {"Variables": variables}
            else:
                merged[key] = value
        return merged

    def _function(self, logical_id: str, res: dict[str, Any]) -> None:
        raw = self._function_props(logical_id, res)
        props = self.resolver.resolve({k: v for k, v in raw.items() if k != "Events"}, logical_id)
        name = self._name(logical_id)
        arn = self._arn(logical_id)
        layer_dirs = []
        for layer in props.get("Layers", []):
            layer_id = next((lid for lid in self.t.of_type(LAYER_TYPE) if self._arn(lid) == layer), None)
            if layer_id is None:
                raise TemplateError(f"resource {logical_id}: layer {layer} is not a layer of this template")
            content = self.t.resources[layer_id]["Properties"]["ContentUri"]
            layer_dirs.append((self.t.root / content).resolve())
        env = {k: str(v) for k, v in (props.get("Environment", {}).get("Variables", {}) or {}).items()}
        template_env = dict(env)
        memory = int(props.get("MemorySize", 128))
        timeout = int(props.get("Timeout", 3))
        reserved = props.get("ReservedConcurrentExecutions")
        env.update({
            "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "POWERTOOLS_TRACE_DISABLED": "true",
            **self.extra_env,
        })
        spec = FunctionSpec(logical_id=logical_id, name=name, arn=arn,
                            code_dir=(self.t.root / props.get("CodeUri", ".")).resolve(),
                            handler=props["Handler"], environment=env, layer_dirs=layer_dirs,
                            timeout=timeout, memory_size=memory,
                            reserved_concurrency=None if reserved in (None, "") else int(reserved))
        self.runtime.register(spec)
        self.clients("lambda").create_function(
            FunctionName=name, Runtime=props.get("Runtime", "python3.12"), Handler=props["Handler"],
            Role=f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}", Code={"ZipFile": _empty_zip()},
            Timeout=timeout, MemorySize=memory, Environment={"Variables": template_env},
        )
        if spec.reserved_concurrency is not None:  # enforced by the runtime; shown by GetFunctionConcurrency
            self.clients("lambda").put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=spec.reserved_concurrency)
        self._record(logical_id, name, arn)
        for event_name, event in (raw.get("Events") or {}).items():
            ev = event.get("Properties", {})
            if event.get("Type") == "HttpApi":
                api_id = (ev.get("ApiId") or {}).get("Ref") if isinstance(ev.get("ApiId"), dict) else ev.get("ApiId")
                api = self.t.resources.get(str(api_id)) if api_id else {
                    "Properties": (self.t.body.get("Globals") or {}).get("HttpApi") or {}}
                self.out.routes.append(HttpRoute.of_event(ev, name, api, self.resolver.resolve,
                                                          f"{logical_id}.Events.{event_name}"))
            elif event.get("Type") == "SQS":
                self.out.queue_sources.append(self._sqs_event(logical_id, event_name, name, ev))
            else:
                raise TemplateError(f"resource {logical_id}: event {event_name} of type {event.get('Type')} "
                                    "is not supported by the local stack")

    def _sqs_event(self, logical_id: str, event_name: str, function: str, ev: dict[str, Any]) -> SqsEventSource:
        where = f"{logical_id}.Events.{event_name}"
        unknown = set(ev) - SQS_EVENT_PROPERTIES
        if unknown:
            raise TemplateError(f"{where}: SQS event properties {', '.join(sorted(unknown))} "
                                "are not supported by the local stack")
        props = self.resolver.resolve(ev, where)
        queue_id = next((q for q in self.t.of_type(QUEUE_TYPE) if self._arn(q) == props.get("Queue")), None)
        if queue_id is None:
            raise TemplateError(f"{where}: Queue {props.get('Queue')} is not a queue of this template")
        batch_size = int(props.get("BatchSize", 10))
        if not 1 <= batch_size <= 10:
            # more than 10 needs a batching window across receives: not emulated
            raise TemplateError(f"{where}: BatchSize {batch_size}: the local stack supports 1 to 10")
        return SqsEventSource(
            function=function, queue_url=self._queue_urls[queue_id], queue_arn=props["Queue"],
            batch_size=batch_size,
            report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            enabled=str(props.get("Enabled", True)).lower() != "false",
        )

    def _state_machine(self, logical_id: str, res: dict[str, Any]) -> None:
        props = res.get("Properties", {}) or {}
        name = self._name(logical_id)
        if "DefinitionUri" in props:
            path = self.t.root / props["DefinitionUri"]
            if not path.is_file():
                raise TemplateError(f"resource {logical_id}: DefinitionUri {path} does not exist")
            text = path.read_text()
        elif "Definition" in props:
            text = json.dumps(props["Definition"])
        else:
            raise TemplateError(f"resource {logical_id}: needs DefinitionUri or Definition")
        subs = self.resolver.resolve(props.get("DefinitionSubstitutions", {}), logical_id)
        for key, value in subs.items():
            text = text.replace("${" + key + "}", str(value))
        leftover = [p for p in _placeholders(text) if not p.startswith("$")]
        if leftover:
            raise TemplateError(f"resource {logical_id}: no DefinitionSubstitutions for {', '.join(leftover)}")
        text = json.dumps(batch_as_item_selector(json.loads(text), logical_id))
        sfn = self.clients("stepfunctions")
        arn = sfn.create_state_machine(name=name, definition=text, type=props.get("Type", "STANDARD"),
                                       roleArn=f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}")["stateMachineArn"]
        self._arns[logical_id] = arn
        self._record(logical_id, name, arn)


    def _schedule(self, logical_id: str, res: dict[str, Any]) -> None:
        """Recorded with its expression, target and input; ``schedules.py`` fires it."""
        props = res.get("Properties", {}) or {}
        target = props.get("Target") or {}
        name = self._name(logical_id)
        # RoleArn is not resolved: the local stack starts the target with its own credentials.
        resolved = self.resolver.resolve({k: v for k, v in target.items() if k in ("Arn", "Input")}, logical_id)
        schedule = Schedule(
            logical_id=logical_id, name=name,
            arn=f"arn:aws:scheduler:{self.region}:{ACCOUNT}:schedule/{props.get('GroupName', 'default')}/{name}",
            expression=str(self.resolver.resolve(props.get("ScheduleExpression", ""), logical_id)),
            target_arn=str(resolved.get("Arn", "")), input=str(resolved.get("Input", "{}")),
            state=str(props.get("State", "ENABLED")),
        )
        self.out.schedules.append(schedule)
        self._record(logical_id, name, schedule.arn)
        self.out.resources[logical_id].update({
            "expression": schedule.expression, "state": schedule.state,
            "target": {"arn": schedule.target_arn, "input": schedule.input}})


def batch_as_item_selector(definition: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """moto 5.2.5's ASL grammar rejects ``ItemBatcher``. A batch of one item is the same as an
    ``ItemSelector`` building ``{"Items": [item], "BatchInput": ...}``, so that is what the local
    stack creates (larger batches are refused, loudly)."""
    for state in definition.get("States", {}).values():
        for branch in state.get("Branches", []):
            batch_as_item_selector(branch, logical_id)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            batch_as_item_selector(processor, logical_id)
        batcher = state.pop("ItemBatcher", None)
        if batcher is None:
            continue
        if batcher.get("MaxItemsPerBatch") != 1 or set(batcher) - {"MaxItemsPerBatch", "BatchInput"}:
            raise TemplateError(f"resource {logical_id}: the local stack runs ItemBatcher only with "
                                "MaxItemsPerBatch 1")
        if "ItemSelector" in state:
            raise TemplateError(f"resource {logical_id}: ItemBatcher with ItemSelector is not run locally")
        batch_input = batcher.get("BatchInput", {})
        state["ItemSelector"] = {"Items.$": "States.Array($$.Map.Item.Value)", "BatchInput": batch_input}
    return definition


def _placeholders(text: str) -> list[str]:
    return sorted(set(re.findall(r"\$\{([A-Za-z0-9_.:-]+)\}", text)))


def _empty_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README", "code runs in-process from the function's CodeUri")
    return buf.getvalue()


def code_path(template: Template, logical_id: str) -> Path:
    return Path(template.root, template.resources[logical_id]["Properties"]["CodeUri"])
