"""Elastic Load Balancing v2 and Auto Scaling fixes for the app tier
(Query protocol, XML)."""

from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError
from moto.autoscaling.models import AutoScalingBackend
from moto.elbv2.exceptions import DuplicateListenerError, ELBClientError
from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer


class CertificateRequired(ELBClientError):
    code = "ValidationError"
    message = "A certificate must be specified for HTTPS listeners"


def fix_listeners() -> None:
    """CreateListener refuses a second listener on a port, and HTTPS without a certificate.

    ELBv2 API reference, CreateListener errors: DuplicateListener ("A listener
    with the specified port already exists") — moto 5.2.5 compares the port
    with the listeners' ARNs, so it never refuses (a repeat with the same
    settings succeeds instead, as AWS answers it: elb_idempotency.py); and Certificates is
    "Required if the protocol is HTTPS or TLS" — moto accepts none.
    """
    original = ELBv2Backend.create_listener

    def create_listener(self: ELBv2Backend, load_balancer_arn: str, protocol: str, port: str, ssl_policy: str,
                        certificate: str | None, actions: list[dict[str, Any]], *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        balancer = self.load_balancers.get(load_balancer_arn)
        if balancer is not None and any(str(l.port) == str(port) for l in balancer.listeners.values()):
            raise DuplicateListenerError()
        if str(protocol).upper() in ("HTTPS", "TLS") and not certificate:
            raise CertificateRequired()
        return original(self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions, *args, **kwargs)

    ELBv2Backend.create_listener = create_listener  # type: ignore[method-assign]


class AlreadyExists(AutoscalingClientError):
    code = "AlreadyExists"


def fix_duplicate_group() -> None:
    """CreateAutoScalingGroup refuses a name in use.

    Auto Scaling API reference, CreateAutoScalingGroup errors: AlreadyExists
    ("You already have an Auto Scaling group or launch configuration with
    this name"). moto 5.2.5 replaces the existing group silently.
    """
    original = AutoScalingBackend.create_auto_scaling_group

    def create_auto_scaling_group(self: AutoScalingBackend, name: str, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        if name in self.autoscaling_groups:
            raise AlreadyExists(f"AutoScalingGroup by this name already exists - A group with the name {name} already exists")
        return original(self, name, *args, **kwargs)

    AutoScalingBackend.create_auto_scaling_group = create_auto_scaling_group  # type: ignore[method-assign]


# Route 53 hosted zone of Application Load Balancers per region, as AWS
# publishes them (Elastic Load Balancing endpoints and quotas, "elb.html").
ALB_HOSTED_ZONES = {
    "us-east-1": "Z35SXDOTRQ7X7K",
    "us-east-2": "Z3AADJGX6KTTL2",
    "us-west-1": "Z368ELLRRE2KJ0",
    "us-west-2": "Z1H1FL5HABSF5",
    "ca-central-1": "ZQSVJUPU6J1EY",
    "eu-central-1": "Z215JYRZR1TBD5",
    "eu-west-1": "Z32O12XQLNTSW2",
    "eu-west-2": "ZHURV8PSTC4K8",
    "eu-west-3": "Z3Q77PNBQS71R4",
    "ap-northeast-1": "Z14GRHDCWA56QT",
    "ap-southeast-1": "Z1LMS91P8CMLE5",
    "ap-southeast-2": "Z1GM3OXH4ZPM65",
    "sa-east-1": "Z2P70J7HTTTPLU",
}


def fix_canonical_hosted_zone() -> None:
    """DescribeLoadBalancers reports the region's canonical hosted zone.

    ELBv2 API reference, LoadBalancer.CanonicalHostedZoneId: "The ID of the
    Amazon Route 53 hosted zone associated with the load balancer", one per
    region (what a Route 53 alias to it names). moto 5.2.5 reports
    "Z2P70J7EXAMPLE" everywhere.
    """
    original = FakeLoadBalancer.__init__

    def __init__(self: FakeLoadBalancer, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        region = self.arn.split(":")[3]
        self.canonical_hosted_zone_id = ALB_HOSTED_ZONES.get(region, self.canonical_hosted_zone_id)

    FakeLoadBalancer.__init__ = __init__  # type: ignore[method-assign]


def apply() -> None:
    fix_canonical_hosted_zone()
    fix_listeners()
    fix_duplicate_group()
