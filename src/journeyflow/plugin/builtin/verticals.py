"""The ten built-in business verticals, those of the agency flow (a marketing
agency's client flow), with default KPI names.

Every vertical shares the KPIs of the agency flow's "raise revenue" objective
(customers per day, average ticket); each adds the ones its business watches.
The KPI collectors themselves come from KPI plugins.
"""

from __future__ import annotations

from collections.abc import Iterable

from journeyflow.plugin.markers import hookimpl
from journeyflow.types import Vertical

_REVENUE = ("customers_per_day", "average_ticket")

VERTICALS: tuple[Vertical, ...] = (
    Vertical(
        "food-beverage",
        "Food & Beverage",
        (*_REVENUE, "repeat_purchase_rate", "promoted_product_sales_growth"),
        description="Restaurants, cafés, bakeries, drinks.",
    ),
    Vertical(
        "real-estate-architecture",
        "Real Estate & Architecture",
        ("cost_per_lead", "site_traffic_growth", "contract_cycle_time", "win_rate"),
        description="Agencies, developers, architects.",
    ),
    Vertical(
        "fashion-beauty",
        "Fashion & Beauty",
        (*_REVENUE, "social_engagement_rate", "follower_growth", "repeat_purchase_rate"),
        description="Clothing, salons, cosmetics.",
    ),
    Vertical(
        "business-services",
        "Business & Services",
        ("cost_per_lead", "win_rate", "client_retention", "nps"),
        description="Services sold to other businesses.",
    ),
    Vertical(
        "industry-agribusiness",
        "Industry & Agribusiness",
        ("cost_per_lead", "contract_cycle_time", "revenue_growth", "client_retention"),
        description="Manufacturing, farming, agri-suppliers.",
    ),
    Vertical(
        "culture-leisure",
        "Culture & Leisure",
        (*_REVENUE, "social_engagement_rate", "follower_growth"),
        description="Events, venues, tourism, entertainment.",
    ),
    Vertical(
        "sport-health",
        "Sport & Health",
        (*_REVENUE, "client_retention", "nps"),
        description="Gyms, clinics, sports shops.",
    ),
    Vertical(
        "commerce-retail",
        "Commerce & Retail",
        (*_REVENUE, "repeat_purchase_rate", "site_traffic_growth", "cost_per_sale"),
        description="Shops and online stores.",
    ),
    Vertical(
        "consulting-advisory",
        "Consulting & Advisory",
        ("cost_per_lead", "win_rate", "client_retention", "plan_actions_implemented"),
        description="Consultancies and advisers.",
    ),
    Vertical(
        "communication-technology",
        "Communication & Technology",
        ("cost_per_lead", "site_traffic_growth", "cost_per_sale", "client_retention"),
        description="Agencies, software, telecoms.",
    ),
)


@hookimpl
def journeyflow_verticals() -> Iterable[Vertical]:
    return VERTICALS
