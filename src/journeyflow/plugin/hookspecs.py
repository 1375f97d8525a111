"""Every hook journeyflow calls, and nothing else.

Registration hooks return iterables of records from `journeyflow.types`;
two plugins registering the same name is an error naming both. Observer hooks
are called one implementation at a time: one plugin raising is logged and
never stops the engine or the other plugins. Specs may gain parameters, never
lose them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from journeyflow.plugin.markers import hookspec

if TYPE_CHECKING:
    import click

    from journeyflow.types import (
        CelFunction,
        Channel,
        Delivery,
        Effect,
        EnrolmentEnded,
        KpiCollector,
        Segmenter,
        TransitionInfo,
        Vertical,
    )


@hookspec
def journeyflow_channels() -> Iterable[Channel]:
    """Register channels that deliver sends and tasks.

    Called once when the plugin manager is built.

    :return: channels; each `name` is what journeys write after `send:`

    Example::

        @hookimpl
        def journeyflow_channels():
            return [Channel("pigeon", deliver=send_pigeon)]
    """
    raise NotImplementedError


@hookspec
def journeyflow_segmenters() -> Iterable[Segmenter]:
    """Register segmenters; journeys enter on `segment: <segmenter>:<segment>`.

    :return: segmenters

    Example::

        @hookimpl
        def journeyflow_segmenters():
            return [Segmenter("vip", ("gold",), compute=gold_customers)]
    """
    raise NotImplementedError


@hookspec
def journeyflow_kpis() -> Iterable[KpiCollector]:
    """Register KPI collectors that journeys and stages name in `kpis:`.

    :return: KPI collectors

    Example::

        @hookimpl
        def journeyflow_kpis():
            return [KpiCollector("orders", "Orders", compute=count_orders)]
    """
    raise NotImplementedError


@hookspec
def journeyflow_verticals() -> Iterable[Vertical]:
    """Register business verticals (kinds of business, e.g. `food-beverage`) with
    default KPIs and templates.

    :return: verticals

    Example::

        @hookimpl
        def journeyflow_verticals():
            return [Vertical("pet-care", "Pet care", default_kpis=("average_ticket",))]
    """
    raise NotImplementedError


@hookspec
def journeyflow_cel_functions() -> Iterable[CelFunction]:
    """Register extra functions for journey CEL expressions.

    :return: functions; their names become valid in `when:`, `at:` and `=` values

    Example::

        @hookimpl
        def journeyflow_cel_functions():
            return [CelFunction("is_weekend", lambda t: t.weekday() >= 5)]
    """
    raise NotImplementedError


@hookspec
def journeyflow_commands(cli: click.Group) -> None:
    """Add commands to the `journeyflow` command line.

    :param cli: the top-level click group

    Example::

        @hookimpl
        def journeyflow_commands(cli):
            cli.add_command(my_command)
    """


@hookspec
def journeyflow_after_transition(transition: TransitionInfo) -> None:
    """Called after a customer entered a journey or moved, once committed.

    :param transition: who moved, from where to where, why and when

    Example::

        @hookimpl
        def journeyflow_after_transition(transition):
            metrics.count(transition.journey, transition.to_state)
    """


@hookspec
def journeyflow_enrolment_ended(ended: EnrolmentEnded) -> None:
    """Called after an enrolment completed, exited or converted, once committed.

    :param ended: the enrolment and how it ended

    Example::

        @hookimpl
        def journeyflow_enrolment_ended(ended):
            if ended.status == "converted":
                crm.mark_won(ended.customer_id)
    """


@hookspec
def journeyflow_effect_delivered(effect: Effect, delivery: Delivery) -> None:
    """Called after a channel delivered an effect.

    :param effect: the outbox entry
    :param delivery: the channel's answer

    Example::

        @hookimpl
        def journeyflow_effect_delivered(effect, delivery):
            audit.write(effect.key, "sent")
    """


@hookspec
def journeyflow_effect_failed(effect: Effect, delivery: Delivery) -> None:
    """Called after a delivery failed (temporary: retried later; permanent: given up).

    :param effect: the outbox entry, with its attempts so far
    :param delivery: the channel's answer, with the reason

    Example::

        @hookimpl
        def journeyflow_effect_failed(effect, delivery):
            alerts.notify(f"{effect.channel} failed: {delivery.detail}")
    """
