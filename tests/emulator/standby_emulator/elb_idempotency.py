"""Elastic Load Balancing v2 creates repeated with the same settings, as AWS
answers them (Query protocol).

ELBv2 API reference, CreateLoadBalancer / CreateTargetGroup /
CreateListener: "This operation is idempotent, which means that it
completes at most one time. If you attempt to create multiple ... with the
same settings, each call succeeds." (the same name, or for a listener the
same port, with other settings: DuplicateLoadBalancerName,
DuplicateTargetGroupName, DuplicateListener). moto 5.2.5 makes a second
load balancer of the same name (its duplicate check compares ARNs with a
random part), refuses any second target group of a name, and
elb_asg.fix_listeners refuses any second listener on a port: a call the
SDK repeats after a lost answer gets what AWS would not answer.
"""

from typing import Any

from moto.elbv2.exceptions import DuplicateLoadBalancerName
from moto.elbv2.models import ELBv2Backend


def fix_repeated_creates() -> None:
    create_lb = ELBv2Backend.create_load_balancer
    create_tg = ELBv2Backend.create_target_group
    create_listener = ELBv2Backend.create_listener

    def create_load_balancer(self, name, security_groups, subnet_ids, *args, **kwargs):  # type: ignore[no-untyped-def]
        for lb in list(self.load_balancers.values()):
            if lb.name != name:
                continue
            same = (sorted(lb.security_groups or []) == sorted(security_groups or [])
                    and sorted(s.id for s in lb.subnets) == sorted(subnet_ids or [])
                    and lb.scheme == kwargs.get("scheme", lb.scheme))
            if same:
                return lb
            raise DuplicateLoadBalancerName()
        return create_lb(self, name, security_groups, subnet_ids, *args, **kwargs)

    def create_target_group(self, name, **kwargs):  # type: ignore[no-untyped-def]
        for tg in list(self.target_groups.values()):
            if tg.name == name and str(tg.port) == str(kwargs.get("port")) and tg.vpc_id == kwargs.get("vpc_id") \
                    and (tg.protocol or "").upper() == (kwargs.get("protocol") or "").upper():
                return tg
        return create_tg(self, name, **kwargs)

    def create_listener_(self, load_balancer_arn: str, protocol: str, port: str, ssl_policy: str,  # type: ignore[no-untyped-def]
                         certificate: str | None, actions: list[dict[str, Any]], *args: Any, **kwargs: Any):
        balancer = self.load_balancers.get(load_balancer_arn)
        for listener in list(balancer.listeners.values()) if balancer else []:
            if str(listener.port) != str(port):
                continue
            targets = [a.data.get("TargetGroupArn") for a in listener.default_actions]
            if (listener.protocol == (protocol or "").upper() and listener.certificate == certificate
                    and targets == [a.get("TargetGroupArn") for a in actions]):
                return listener
        return create_listener(self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions, *args, **kwargs)

    ELBv2Backend.create_load_balancer = create_load_balancer  # type: ignore[method-assign]
    ELBv2Backend.create_target_group = create_target_group  # type: ignore[method-assign]
    ELBv2Backend.create_listener = create_listener_  # type: ignore[method-assign]


def apply() -> None:
    fix_repeated_creates()
