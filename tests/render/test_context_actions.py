"""The table and the diagram show v1.1's actions: `when:` on an action and
`vars` (what an enrolment remembers), in words."""

from __future__ import annotations

from journeyflow.definition.loader import load_text
from journeyflow.render.graph import build_graph, render_mermaid
from journeyflow.render.table import customer_path

CART = """
journey: cart
version: 1
entry: {on: [cart_updated], key: trigger.properties.cart_id}
initial: browsing
states:
  browsing:
    owner: crm
    on_enter:
      - vars: {total: '=trigger.properties.total', cart: '=trigger.properties.cart_id'}
    transitions:
      - on: cart_updated
        to: browsing
        internal: true
        actions: [{vars: {total: '=event.properties.total'}}, {emit: seen}]
      - after: 1h
        to: reminder
        actions:
          - {send: email, template: coupon, when: 'enrolment.vars.total > 50'}
  reminder:
    on_enter:
      - {send: email, template: reminder}
      - {task: {title: Call about the cart}, when: 'enrolment.vars.total > 500'}
    transitions:
      - {after: 1d, to: reminder, when: 'state.visits < 3'}
      - {after: 1d, to: done}
  done: {final: true}
"""


def test_the_table_says_what_is_remembered_and_when_an_action_runs() -> None:
    rows = {r.state: r for r in customer_path(load_text(CART).journey)}
    assert rows["browsing"].what_we_do == ("remember total, cart",)
    assert rows["reminder"].what_we_do == (
        "send email 'reminder'",
        "task: Call about the cart only when enrolment.vars.total > 500",
    )
    assert (
        "after 1h → reminder, then send email 'coupon' only when enrolment.vars.total > 50"
        in rows["browsing"].ways_out
    )
    assert (
        "on cart_updated → stay (internal), then remember total; emit seen"
        in rows["browsing"].ways_out
    )


def test_the_diagram_shows_conditional_and_vars_actions_on_their_edges() -> None:
    graph = build_graph(load_text(CART).journey)
    texts = {(e.source, e.target): e.text for e in graph.edges}
    assert texts[("s_browsing", "s_reminder")] == (
        "after 1h / send email 'coupon' only when enrolment.vars.total > 50"
    )
    # `vars` shown, an unconditional emit left to the table
    assert texts[("s_browsing", "s_browsing")] == "cart_updated (internal) / remember total"
    assert texts[("s_reminder", "s_reminder")] == "after 1d [when state.visits < 3]"
    assert "remember total" in render_mermaid(load_text(CART).journey)
