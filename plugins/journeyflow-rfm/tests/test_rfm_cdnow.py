"""Acceptance on CDNOW (69,659 orders of 23,570 customers, shipped in the
`lifetimes` wheel): lifetimes definitions equal
`lifetimes.utils.summary_data_from_transaction_data` for every customer, the
default definitions equal a pandas groupby, and the scores equal `pd.qcut` of
`rank(method="first")`."""

from __future__ import annotations

import importlib.resources
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from journeyflow_rfm import RfmConfig, rfm_table

from journeyflow import CustomerFacts

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

END = datetime(1998, 6, 30, tzinfo=timezone.utc)  # the last order's day


@pytest.fixture(scope="module")
def cdnow() -> Any:
    # lifetimes is imported here, not at collection: with `filterwarnings = error`
    # its import-time pandas deprecation warnings would fail collection.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("lifetimes")
    data = importlib.resources.files("lifetimes") / "datasets" / "CDNOW_master.txt"
    with importlib.resources.as_file(data) as path:
        df = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    df["timestamp"] = pd.to_datetime(df["date"], format="%Y%m%d", utc=True)
    assert len(df) == 69_659 and df["customer_id"].nunique() == 23_570
    return df


@pytest.fixture(scope="module")
def customers(cdnow: Any) -> list[CustomerFacts]:
    """The orders as stored track events, one CustomerFacts per customer, by id."""
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for cid, ts, total in zip(
        cdnow["customer_id"], cdnow["timestamp"], cdnow["dollar_value"], strict=True
    ):
        by_customer.setdefault(cid, []).append(
            {
                "type": "track",
                "event": "order_completed",
                "userId": cid,
                "timestamp": ts.isoformat(),
                "properties": {"total": float(total)},
            }
        )
    return [CustomerFacts(cid, {}, tuple(by_customer[cid])) for cid in sorted(by_customer)]


def _frame(rows: Iterator[Any] | list[Any]) -> Any:
    return pd.DataFrame(
        [
            (
                r.customer_id,
                r.figures.frequency,
                r.figures.recency,
                r.figures.age,
                r.figures.monetary,
                r.r,
                r.f,
                r.m,
            )
            for r in rows
        ],
        columns=["customer_id", "frequency", "recency", "T", "monetary", "r", "f", "m"],
    ).set_index("customer_id")


def _qcut(values: Any, labels: list[int]) -> Any:
    return pd.qcut(values.rank(method="first"), 5, labels=labels).astype(int)


def test_lifetimes_definitions_equal_summary_data_for_every_customer(
    cdnow: Any, customers: list[CustomerFacts]
) -> None:
    from lifetimes.utils import summary_data_from_transaction_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = summary_data_from_transaction_data(
            cdnow,
            "customer_id",
            "date",
            "dollar_value",
            datetime_format="%Y%m%d",
            observation_period_end="19980630",
            freq="D",
        )
    ours = _frame(rfm_table(customers, END, RfmConfig(definitions="lifetimes")))
    assert len(ours) == len(expected) == 23_570
    expected = expected.loc[ours.index]
    assert (ours["frequency"].to_numpy() == expected["frequency"].to_numpy()).all()
    assert (ours["recency"].to_numpy() == expected["recency"].to_numpy()).all()
    assert (ours["T"].to_numpy() == expected["T"].to_numpy()).all()
    np.testing.assert_allclose(ours["monetary"], expected["monetary_value"], rtol=1e-9, atol=1e-9)
    # scores: R on days since the last purchase day (T - recency)
    assert (ours["r"] == _qcut(expected["T"] - expected["recency"], [5, 4, 3, 2, 1])).all()
    assert (ours["f"] == _qcut(expected["frequency"], [1, 2, 3, 4, 5])).all()
    assert (ours["m"] == _qcut(expected["monetary_value"], [1, 2, 3, 4, 5])).all()


def test_default_definitions_equal_a_pandas_groupby(
    cdnow: Any, customers: list[CustomerFacts]
) -> None:
    at = pd.Timestamp(END)
    grouped = cdnow.groupby("customer_id", sort=True).agg(
        last=("timestamp", "max"),
        first=("timestamp", "min"),
        frequency=("timestamp", "count"),
        monetary=("dollar_value", "sum"),
    )
    grouped["recency"] = (at - grouped["last"]).dt.total_seconds() / 86400
    grouped["T"] = (at - grouped["first"]).dt.total_seconds() / 86400
    ours = _frame(rfm_table(customers, END))
    assert list(ours.index) == list(grouped.index)
    assert (ours["frequency"].to_numpy() == grouped["frequency"].to_numpy()).all()
    assert (ours["recency"].to_numpy() == grouped["recency"].to_numpy()).all()
    assert (ours["T"].to_numpy() == grouped["T"].to_numpy()).all()
    np.testing.assert_allclose(ours["monetary"], grouped["monetary"], rtol=1e-12, atol=1e-9)
    assert (ours["r"] == _qcut(grouped["recency"], [5, 4, 3, 2, 1])).all()
    assert (ours["f"] == _qcut(grouped["frequency"], [1, 2, 3, 4, 5])).all()
    assert (ours["m"] == _qcut(grouped["monetary"], [1, 2, 3, 4, 5])).all()
    # every customer is in one segment; the CRM playbook's ones are all populated
    counts = pd.Series([r.segment for r in rfm_table(customers, END)]).value_counts()
    assert counts.sum() == 23_570
    assert {"champions", "loyal", "at_risk", "inactive"} <= set(counts.index)
