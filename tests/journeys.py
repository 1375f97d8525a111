"""The named base journeys the tests share, as YAML text.

A test that needs a variant derives it in place with `.replace(...)`; a
journey built for one test alone stays next to its assertions."""

from __future__ import annotations

# a signup welcomed by email, done two days later: the smallest valid journey
MINIMAL = """\
journey: minimal
version: 1
entry:
  on: [signed_up]
initial: welcome
states:
  welcome:
    on_enter:
      - send: email
        template: welcome
    transitions:
      - after: 2d
        to: done
  done:
    final: true
"""


# the top of a journey without its states: static-check tests append the states under test
HEAD = """\
journey: checked
version: 1
entry:
  on: [signed_up]
initial: welcome
"""


# after-timers reset by events, a timer chain, exit rules with a goal, after_exit re-entry
REACTIVATION = """
journey: react
version: 1
entry: {on: [order_completed], reentry: after_exit}
initial: active
states:
  active:
    on_enter: [{send: email, template: thanks}]
    transitions:
      - {on: order_completed, to: active}
      - {after: 120d, to: inactivating}
  inactivating:
    on_enter: [{send: email, template: offer-120}]
    transitions:
      - {on: order_completed, to: active}
      - {after: 60d, to: gone}
  gone: {final: true}
exit:
  - {on: unsubscribed}
  - {on: order_completed, when: 'event.properties.total >= 100', goal: true}
"""


# one enrolment per order (`entry.key`), timers per enrolment
KEYED = """
journey: post-sale
version: 1
entry: {on: [order_completed], key: 'event.properties.order_id'}
initial: video
states:
  video:
    on_enter: [{send: email, template: video}]
    transitions: [{after: 2d, to: nps}]
  nps:
    on_enter: [{send: email, template: nps}]
    transitions:
      - {on: review_written, to: done}
      - {after: 7d, to: done}
  done: {final: true}
"""


# keyed enrolments at one instant that an unkeyed event moves, oldest first
KEYED_SHARED_EVENT = """
journey: k
version: 1
entry: {on: [buy], key: 'event.properties.n'}
initial: w
states:
  w:
    transitions:
      - on: visit
        to: done
        actions: [{set: {last: w}}]
      - on: go
        to: v
  v:
    transitions:
      - on: visit
        to: done
        actions: [{set: {last: v}}]
  done: {final: true}
"""


# a 50/50 split behind a 20% holdout, then a timer
SPLIT = """
journey: ab
version: 1
entry: {on: [go]}
initial: pick
holdout: 20
states:
  pick:
    transitions:
      - split: [{to: a, weight: 50}, {to: b, weight: 50}]
  a:
    on_enter: [{send: email, template: offer-a}]
    transitions: [{after: 1d, to: end}]
  b:
    on_enter: [{send: email, template: offer-b}]
    transitions: [{after: 1d, to: end}]
  end: {final: true}
"""


# a guarded transition before its fallback, an internal transition, a timer
GUARDED = """
journey: nps
version: 1
entry: {on: [nps_asked]}
initial: asked
states:
  asked:
    transitions:
      - {on: nps_answered, when: 'event.properties.score >= 9', to: promoter}
      - {on: nps_answered, to: detractor}
      - {on: nudge, internal: true, actions: [{send: email, template: nudge}]}
  promoter:
    transitions: [{after: 1d, to: thanked}]
  detractor: {final: true}
  thanked: {final: true}
"""


# every order is a self-transition that sends: n orders give history seqs 0..n-1 and n outbox rows
REPEAT = """\
journey: repeat
version: 1
entry: {on: [order_completed]}
initial: active
states:
  active:
    on_enter:
      - send: email
        template: thanks
    transitions:
      - on: order_completed
        to: active
"""


# version 1 of `lapse`: 30 days without an order sends come-back; a browse detours a day
LAPSE = """
journey: lapse
version: 1
entry: {on: [order_completed]}
initial: active
states:
  active:
    transitions:
      - {on: order_completed, to: active}
      - {on: browse, to: browsing}
      - {after: 30d, to: lapsing}
  browsing:
    transitions: [{after: 1d, to: active}]
  lapsing:
    on_enter: [{send: email, template: come-back}]
    transitions:
      - {on: order_completed, to: active}
      - {after: 60d, to: gone}
  gone: {final: true}
"""


# version 2 of `lapse`: other timers and states, migrating v1's `lapsing` to `inactivating`
LAPSE_V2 = """
journey: lapse
version: 2
entry: {on: [order_completed]}
initial: active
states:
  active:
    transitions:
      - {on: order_completed, to: active}
      - {after: 20d, to: inactivating}
  inactivating:
    on_enter: [{send: email, template: offer}]
    transitions:
      - {on: order_completed, to: active}
      - {after: 40d, to: gone}
  gone: {final: true}
migrations:
  - from_version: 1
    states: {lapsing: inactivating}
"""


# one pigeon send on signup, then final: an outbox row per customer
WELCOME = """\
journey: welcome
version: 1
entry: {on: [signed_up]}
initial: greeted
states:
  greeted:
    on_enter:
      - send: pigeon
        template: hello
    final: true
"""


# task actions (state owner, explicit owner, due) beside a console send with data
TASKS = """
journey: salon
version: 1
entry: {on: [appointment_booked]}
initial: booked
states:
  booked:
    owner: front-desk
    on_enter:
      - task: {title: Prepare dresses, due: 1d}
      - task: {owner: tailor, title: Book the fitting room}
      - send: console
        template: confirmation
        data: {at: '=event.properties.at'}
    transitions: [{on: visited, to: done}]
  done: {final: true}
"""


# entry by segment, CEL reading `customer.segments`, a task; the file is vip-lounge.yaml
VIP = """\
journey: vip-lounge
version: 1
title: Champions' lounge
entry: {segment: 'rfm:champions'}
initial: invited
states:
  invited:
    on_enter:
      - set: {champion_seen: '="rfm:champions" in customer.segments'}
      - task: {owner: crm, title: Welcome the champion}
    transitions:
      - on: lounge_joined
        when: '"rfm:champions" in customer.segments'
        to: member
      - after: 30d
        to: lapsed
  member: {final: true}
  lapsed: {final: true}
"""


# stages, KPIs (one unknown), two timers, a goal exit: what the reports count
TRIAL = """\
journey: trial
version: 1
title: A trial
stages: [lead, customer]
kpis: [signups, no_such_kpi]
entry: {on: [signed_up]}
initial: welcome
holdout: 0
states:
  welcome:
    stage: lead
    kpis: [days_in_stage]
    on_enter: [{send: email, template: hello}]
    transitions:
      - {on: paid, to: customer}
      - {after: 7d, to: reminded}
  reminded:
    stage: lead
    on_enter: [{send: sms, template: nudge}]
    transitions:
      - {on: paid, to: customer}
      - {after: 7d, to: lapsed}
  customer: {stage: customer, final: true, on_enter: [{send: email, template: thanks}]}
  lapsed: {final: true}
exit:
  - {on: unsubscribed}
  - {on: referred_a_friend, goal: true}
"""
