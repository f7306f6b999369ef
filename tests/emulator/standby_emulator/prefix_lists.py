"""AWS-managed prefix lists moto lacks (EC2, Query protocol).

Route 53's health checkers: `com.amazonaws.<region>.route53-healthchecks`
(IPv4) and `com.amazonaws.<region>.ipv6.route53-healthchecks`, weight
(MaxEntries as a security group counts it) 25 each, listed in the VPC User
Guide, "AWS-managed prefix lists" (available since 2023-09: "Amazon Route 53
managed prefix lists for health checks", What's New). Entries: a sample of
the `ROUTE53_HEALTHCHECKS` ranges AWS publishes in ip-ranges.json, not the
whole set (nothing here routes by them).
"""

from moto.ec2.models.managed_prefixes import ManagedPrefixListBackend

HEALTH_CHECKERS_V4 = ["54.241.32.64/26", "54.243.31.192/26", "54.244.52.192/26", "54.245.168.0/26",
                      "54.248.220.0/26", "54.252.254.192/26", "176.34.159.192/26", "177.71.207.128/26"]
HEALTH_CHECKERS_V6 = ["2600:1f14:7ff:f800::/56", "2600:1f1c:7ff:f800::/55"]
WEIGHT = 25


def fix_route53_health_checkers() -> None:
    original = ManagedPrefixListBackend.create_default_pls

    def create_default_pls(self: ManagedPrefixListBackend) -> None:
        original(self)
        region = self.region_name  # type: ignore[attr-defined]
        for name, family, cidrs in [
            (f"com.amazonaws.{region}.route53-healthchecks", "IPv4", HEALTH_CHECKERS_V4),
            (f"com.amazonaws.{region}.ipv6.route53-healthchecks", "IPv6", HEALTH_CHECKERS_V6),
        ]:
            self._create_aws_managed_prefix_list(
                name=name, address_family=family, entries=[{"Cidr": c, "Description": "Route 53 health checkers"} for c in cidrs])
            listed = next(pl for pl in self.managed_prefix_lists.values() if pl.prefix_list_name == name)
            listed.max_entries = WEIGHT

    ManagedPrefixListBackend.create_default_pls = create_default_pls  # type: ignore[method-assign]


def apply() -> None:
    fix_route53_health_checkers()
