"""A/B testing for model rollouts: analysis, decision, planning, simulation.

- :mod:`harness.ab.api`: ``analyze_experiment`` (the event store, aggregated in SQL),
  ``analyze_events_file`` (CSV/Parquet), ``analyze_summary`` (per-variant sufficient statistics),
  ``to_report`` (the ``harness ab analyze --json`` object).
- :mod:`harness.ab.config`: metrics, roles, margins, options.
- :mod:`harness.ab.metric_types`: one class per metric type (proportion, mean, ratio, quantile) over a
  registry (``@ab_metric_type("name")``): per-unit values, sufficient statistics, mean and variance.
- :mod:`harness.ab.sums`: per-unit value requests and per-variant sums shared by every source;
  :mod:`harness.ab.collect` (store: :mod:`~harness.ab.store_source`, files: :mod:`~harness.ab.load_file`)
  and :mod:`harness.ab.load_summary` (a summary file) fill them.
- :mod:`harness.ab.analysis` / :mod:`harness.ab.decision`: SRM, effects, corrections, guardrails,
  then ``ship`` / ``rollback`` / ``keep_running`` with reasons.
- :mod:`harness.ab.plan`: units and days for a minimum detectable effect (math in :mod:`harness.stats.power`).
- :mod:`harness.ab.group_sequential`: the analysis of a planned experiment, look by look (boundaries in
  :mod:`harness.stats.group_sequential`; plans and looks stored by :mod:`harness.store.ab_plans`).
- :mod:`harness.ab.simulate`: realistic simulated experiments (store or file).

The statistics themselves are pure functions in :mod:`harness.stats` (``srm``, ``effects``,
``sequential``, ``cuped``, ``bayes``, ``power``). Nothing is imported here so that the CLI stays fast.
"""
